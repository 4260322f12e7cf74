"""Erasure: a preview per system, then one transaction that erases, checks, and leaves evidence.

The preview says, per collection, the rows found, the fields erased (NULL) and anonymized (a keyed
HMAC-SHA256), whether whole rows are deleted, the fields kept with their basis (keys and references
always: they are structure), and the exact statements with placeholders. `execute_erasure` takes
the system's own write connection, finds the same rows again in its transaction and refuses when
they or the map changed since the preview; it runs the updates, then the row deletes children
first, reads the rows again to prove the values are gone, and commits only then. Any failure rolls
the whole database back and names the collection. Evidence is counts and hashes, never values.
"""
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import String, and_, bindparam, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ..datamap import DataMap, MappedDataset
from . import sql, writing
from .hashing import anonymized
from .traversal import Reached, Traversal, traverse

STRUCTURE = "structure: a primary key or reference is never erased"


@dataclass(frozen=True)
class CollectionErasure:
    key: str  # "dataset:collection"
    rows_found: int
    rows_sha256: str  # the SHA-256 of the rows' sorted primary keys
    erase: tuple[str, ...]
    anonymize: tuple[str, ...]
    delete_rows: bool
    retained: tuple[tuple[str, str], ...]  # (field, basis)
    statements: tuple[str, ...]
    staff_task: str | None = None  # why a person must do it instead


@dataclass(frozen=True)
class ErasurePreview:
    dataset: str
    system: str
    collections: tuple[CollectionErasure, ...]
    unreached: tuple[str, ...]

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ErasurePreview":
        collections = tuple(CollectionErasure(**{**c, "erase": tuple(c["erase"]), "anonymize": tuple(c["anonymize"]),
                                                 "retained": tuple(tuple(r) for r in c["retained"]),
                                                 "statements": tuple(c["statements"])})
                            for c in data["collections"])
        return cls(data["dataset"], data["system"], collections, tuple(data["unreached"]))


@dataclass(frozen=True)
class CollectionEvidence:
    key: str
    rows_found: int
    rows_updated: int
    rows_deleted: int
    erased: tuple[str, ...]
    anonymized: tuple[str, ...]
    rows_sha256: str


@dataclass(frozen=True)
class ErasureOutcome:
    dataset: str
    system: str
    ok: bool
    collections: tuple[CollectionEvidence, ...]
    failure: writing.Failure | None = None
    found_applied: bool = False  # a previous attempt had committed it: nothing written now

    def as_json(self) -> dict:
        return asdict(self)


def _decide(reached: Reached, runner: sql.Runner) -> tuple[list, list, bool, list, str | None]:
    """A collection's fields sorted by what erasure does to them."""
    erase, anonymize, retained, whole_rows = [], [], [], False
    table = runner.table(reached.collection)
    for name in reached.columns:
        field = reached.collection.field(name)
        rule = field.rule
        if field.is_structure:
            retained.append((name, STRUCTURE))
        elif rule is None:
            retained.append((name, "no rule governs it (datamap check)"))
        elif rule.delete == "retain":
            retained.append((name, rule.basis or ""))
        elif rule.delete == "erase":
            erase.append(name)
        elif rule.delete == "anonymize":
            anonymize.append(name)
        else:
            whole_rows = True
    task = None
    if not reached.key and reached.rows and (erase or anonymize or whole_rows):
        task = "no primary key: its rows cannot be addressed one by one, so a person erases them"
    elif whole_rows and any(basis != STRUCTURE for _name, basis in retained):
        task = "the rules delete its rows and retain some of their fields: the map must say which (datamap check)"
    elif not_text := [n for n in anonymize if not isinstance(table.c[n].type, String)]:
        task = f"{', '.join(not_text)} cannot hold a keyed hash (not a text column): erase it instead"
    return erase, anonymize, whole_rows, retained, task


def _statements(runner: sql.Runner, reached: Reached, erase, anonymize, whole_rows: bool, key: bytes | None):
    """The statements, each with its parameters (None: bound in the statement itself)."""
    keys = writing.identities(reached)
    if not keys:
        return []
    if whole_rows:
        return [(writing.delete_by_key(runner, reached, chunk), None) for chunk in sql.chunks(keys)]
    if anonymize:
        table = runner.table(reached.collection)
        values = {**{f: None for f in erase}, **{f: bindparam(f"new_{f}") for f in anonymize}}
        statement = update(table).where(and_(*(table.c[k] == bindparam(f"key_{k}") for k in reached.key)))
        statement = statement.values(values)
        parameters = [{**{f"key_{k}": row[k] for k in reached.key},
                       **{f"new_{f}": _hashed(key, row[f], table.c[f]) for f in anonymize}} for row in reached.rows]
        return [(statement, parameters)]
    if erase:
        return [(writing.update_by_key(runner, reached, {f: None for f in erase}, chunk), None)
                for chunk in sql.chunks(keys)]
    return []


def _hashed(key: bytes | None, value, column):
    if value is None or key is None:
        return None
    return anonymized(key, value, getattr(column.type, "length", None))


def _plan(mapped: MappedDataset, walk: Traversal, runner: sql.Runner, key: bytes | None):
    plans = {}
    for name, reached in walk.reached.items():
        erase, anonymize, whole_rows, retained, task = _decide(reached, runner)
        statements = [] if task else _statements(runner, reached, erase, anonymize, whole_rows, key)
        preview = CollectionErasure(
            key=f"{mapped.fides_key}:{name}", rows_found=len(reached.rows),
            rows_sha256=writing.identities_sha256(reached) if reached.key else "", erase=tuple(erase),
            anonymize=tuple(anonymize), delete_rows=whole_rows, retained=tuple(retained),
            statements=tuple(runner.sql(s) for s, _p in statements), staff_task=task)
        plans[name] = (preview, reached, statements)
    return plans


def preview_erasure(*, datamap: DataMap, dataset: str, seeds: Mapping[str, str], connection: Connection,
                    row_cap: int = sql.DEFAULT_ROW_CAP, timeout_ms: int = sql.DEFAULT_TIMEOUT_MS,
                    carried: Mapping[tuple[str, str], set] | None = None) -> ErasurePreview:
    """What erasing the person from the system would do, read through a read-only connection
    (`carried`: values other datasets carry in, `across.carried_values`)."""
    mapped, system = writing.system_of(datamap, dataset)
    with sql.transaction(connection, read_only=True, timeout_ms=timeout_ms) as runner:
        walk = traverse(datamap=datamap, dataset=dataset, seeds=seeds, runner=runner, row_cap=row_cap,
                        carried=carried)
        plans = _plan(mapped, walk, runner, None)
    return ErasurePreview(dataset, system.name, tuple(p for p, _r, _s in plans.values()), walk.unreached)


def execute_erasure(*, datamap: DataMap, preview: ErasurePreview, seeds: Mapping[str, str], connection: Connection,
                    instance_path: Path | str, key: bytes, row_cap: int = sql.DEFAULT_ROW_CAP,
                    timeout_ms: int = sql.DEFAULT_TIMEOUT_MS, tried_before: bool = False,
                    carried: Mapping[tuple[str, str], set] | None = None) -> ErasureOutcome:
    """Erase as previewed, in one transaction on the system's write connection, proven by a post-check.
    `key` is `hashing.anonymize_key(SECRET_KEY)`. `tried_before`: an earlier attempt may have committed;
    when the erasure is found in place, nothing is written and the outcome says `found_applied`."""
    mapped, system = writing.system_of(datamap, preview.dataset)
    writing.check_write_connection(system, connection, instance_path)
    try:
        with sql.transaction(connection, read_only=False, timeout_ms=timeout_ms) as runner:
            walk = traverse(datamap=datamap, dataset=preview.dataset, seeds=seeds, runner=runner, row_cap=row_cap,
                            carried=carried)
            if tried_before and _found_applied(walk, preview, runner):
                return ErasureOutcome(preview.dataset, system.name, True, tuple(CollectionEvidence(
                    key=c.key, rows_found=c.rows_found, rows_updated=0, rows_deleted=0, erased=c.erase,
                    anonymized=c.anonymize, rows_sha256=c.rows_sha256) for c in preview.collections), None, True)
            plans = _plan(mapped, walk, runner, key)
            _as_previewed(plans, preview)
            evidence = _run(mapped, plans, runner, key)
    except writing.WriteFailed as exc:
        failure = writing.Failure(system.name, f"{preview.dataset}:{exc.collection}", str(exc))
        return ErasureOutcome(preview.dataset, system.name, False, (), failure)
    return ErasureOutcome(preview.dataset, system.name, True, evidence)


def _found_applied(walk: Traversal, preview: ErasurePreview, runner: sql.Runner) -> bool:
    """Whether the approved erasure is in place already (a worker that died after the business's commit
    and before the portal recorded it): the post-check of the preview's collections, read in the write
    transaction before anything is written: rows to delete are gone, erased fields NULL, anonymized ones
    a keyed hash's hex. False when any value is still there: then the erasure runs."""
    acted = [c for c in preview.collections if c.rows_found and not c.staff_task
             and (c.delete_rows or c.erase or c.anonymize)]
    for before in acted:
        reached = walk.reached.get(before.key.partition(":")[2])
        if reached is None or not reached.rows:
            continue  # its rows are gone, or no longer reached from the identity (its seed was erased)
        table = runner.table(reached.collection)
        if before.delete_rows or any(row[f] is not None for row in reached.rows for f in before.erase) or any(
                not _looks_hashed(row[f], table.c[f]) for row in reached.rows for f in before.anonymize):
            return False
    return bool(acted)


def _looks_hashed(value, column) -> bool:
    length = getattr(column.type, "length", None) or 64
    return value is None or (isinstance(value, str) and len(value) == min(64, length)
                             and all(ch in "0123456789abcdef" for ch in value))


def _as_previewed(plans: dict, preview: ErasurePreview) -> None:
    """Refuse when the rows or what is done to them changed since the preview staff approved."""
    approved = {c.key.partition(":")[2]: c for c in preview.collections}
    for name, before in approved.items():
        if before.rows_found and name not in plans:  # rows approved for erasure that nothing reaches now
            raise writing.WriteFailed(name, "the rows or the rules changed since the preview: preview again and "
                                            "have it approved")
    for name, (now, _reached, _statements) in plans.items():
        before = approved.get(name)
        if before is None and not now.rows_found:
            continue
        if before is None or (now.rows_sha256, now.erase, now.anonymize, now.delete_rows, now.staff_task) != (
                before.rows_sha256, before.erase, before.anonymize, before.delete_rows, before.staff_task):
            raise writing.WriteFailed(name, "the rows or the rules changed since the preview: preview again and "
                                            "have it approved")


def _run(mapped: MappedDataset, plans: dict, runner: sql.Runner, key: bytes) -> tuple[CollectionEvidence, ...]:
    """Updates, then row deletes children first, then the post-check of every collection."""
    deletes = writing.delete_order(mapped, [n for n, (p, _r, _s) in plans.items() if p.delete_rows])
    updated = [n for n, (p, _r, _s) in plans.items() if not p.delete_rows]
    counts = {}
    for name in updated + deletes:
        preview, reached, statements = plans[name]
        try:
            counts[name] = sum(runner.run(s, p) if p is not None else runner.run(s) for s, p in statements)
        except (DBAPIError, sql.ConnectorError) as exc:
            raise writing.WriteFailed(name, f"{_first_line(exc)}") from None
    for name in updated + deletes:
        _post_check(name, *plans[name][:2], runner, key)
    return tuple(CollectionEvidence(
        key=p.key, rows_found=p.rows_found, rows_updated=0 if p.delete_rows else counts[n],
        rows_deleted=counts[n] if p.delete_rows else 0, erased=p.erase, anonymized=p.anonymize,
        rows_sha256=p.rows_sha256) for n, (p, _r, _s) in plans.items())


def _post_check(name: str, preview: CollectionErasure, reached: Reached, runner: sql.Runner, key: bytes) -> None:
    """Read the rows again: deleted ones are absent, erased fields NULL, anonymized ones the hash."""
    if preview.staff_task or not reached.rows or not (preview.delete_rows or preview.erase or preview.anonymize):
        return
    keys = writing.identities(reached)
    try:
        now = writing.read_by_key(runner, reached, preview.erase + preview.anonymize, keys)
    except (DBAPIError, sql.ConnectorError) as exc:
        raise writing.WriteFailed(name, f"post-check: {_first_line(exc)}") from None
    if preview.delete_rows:
        if now:
            raise writing.WriteFailed(name, f"post-check: {len(now)} of {len(keys)} rows are still there")
        return
    if len(now) != len(keys):
        raise writing.WriteFailed(name, f"post-check: {len(keys) - len(now)} rows went missing")
    kept = sorted({f for row in now for f in preview.erase if row[f] is not None})
    if kept:
        raise writing.WriteFailed(name, f"post-check: the values of {', '.join(kept)} did not go")
    hashed = {tuple(r[k] for k in reached.key): r for r in now}
    table = runner.table(reached.collection)
    wrong = sorted({f for row in reached.rows for f in preview.anonymize
                    if hashed[tuple(row[k] for k in reached.key)][f] != _hashed(key, row[f], table.c[f])})
    if wrong:
        raise writing.WriteFailed(name, f"post-check: {', '.join(wrong)} does not hold the keyed hash")


def _first_line(exc: BaseException) -> str:
    origin = getattr(exc, "orig", None) or exc
    return (str(origin).strip().splitlines() or [type(origin).__name__])[0]
