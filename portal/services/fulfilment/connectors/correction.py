"""Correction: staff choose fields and new values; the same preview, transaction and post-check as
erasure, for an `update`. A field whose rule says `refer` (or a key or reference, which is
structure) is returned as a staff task. Evidence carries keyed hashes (HMAC-SHA256) of the values
before and after, never the values.
"""
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ..datamap import DataMap
from . import sql, writing
from .hashing import keyed_hash_of, plain
from .traversal import traverse

Changes = Mapping[str, Mapping[str, object]]  # collection -> field -> new value


@dataclass(frozen=True)
class CollectionCorrection:
    key: str
    rows_found: int
    rows_sha256: str
    update: tuple[str, ...]
    refer: tuple[tuple[str, str], ...]  # (field, why a person must do it)
    statements: tuple[str, ...]


@dataclass(frozen=True)
class CorrectionPreview:
    dataset: str
    system: str
    collections: tuple[CollectionCorrection, ...]

    @property
    def staff_tasks(self) -> tuple[tuple[str, str, str], ...]:
        return tuple((c.key, field, why) for c in self.collections for field, why in c.refer)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "CorrectionPreview":
        collections = tuple(CollectionCorrection(**{**c, "update": tuple(c["update"]),
                                                    "refer": tuple(tuple(r) for r in c["refer"]),
                                                    "statements": tuple(c["statements"])})
                            for c in data["collections"])
        return cls(data["dataset"], data["system"], collections)


@dataclass(frozen=True)
class FieldEvidence:
    field: str
    before_hash: str  # HMAC-SHA256 under hashing.evidence_key
    after_hash: str


@dataclass(frozen=True)
class CorrectionEvidence:
    key: str
    rows_updated: int
    rows_sha256: str
    fields: tuple[FieldEvidence, ...]


@dataclass(frozen=True)
class CorrectionOutcome:
    dataset: str
    system: str
    ok: bool
    collections: tuple[CorrectionEvidence, ...]
    failure: writing.Failure | None = None

    def as_json(self) -> dict:
        return asdict(self)


def _plan(datamap: DataMap, dataset: str, seeds, changes: Changes, runner: sql.Runner, row_cap: int, carried=None):
    walk = traverse(datamap=datamap, dataset=dataset, seeds=seeds, runner=runner, row_cap=row_cap, carried=carried)
    plans = {}
    for name, wanted in changes.items():
        reached = walk.reached.get(name)
        if reached is None:
            raise sql.ConnectorError(f"{dataset}:{name} is not a collection the person's identity reaches")
        update, refer = [], []
        for field in wanted:
            mapped = reached.collection.field(field)
            rule = mapped.rule if mapped else None
            if mapped is None or field not in reached.columns:
                refer.append((field, "not a field of the map's collection"))
            elif mapped.is_structure:
                refer.append((field, "a primary key or reference: structure, corrected by a person"))
            elif rule is None or rule.correct != "update":
                refer.append((field, "the rule says refer" + (f" ({rule.basis})" if rule and rule.basis else "")))
            else:
                update.append(field)
        if not reached.key and reached.rows and update:
            refer += [(f, "no primary key: rows cannot be addressed one by one") for f in update]
            update = []
        keys = writing.identities(reached)
        statements = [writing.update_by_key(runner, reached, {f: wanted[f] for f in update}, chunk)
                      for chunk in sql.chunks(keys)] if update else []
        preview = CollectionCorrection(f"{dataset}:{name}", len(reached.rows), writing.identities_sha256(reached),
                                       tuple(update), tuple(refer), tuple(runner.sql(s) for s in statements))
        plans[name] = (preview, reached, statements)
    return plans


def preview_correction(*, datamap: DataMap, dataset: str, seeds: Mapping[str, str], changes: Changes,
                       connection: Connection, row_cap: int = sql.DEFAULT_ROW_CAP,
                       timeout_ms: int = sql.DEFAULT_TIMEOUT_MS,
                       carried: Mapping[tuple[str, str], set] | None = None) -> CorrectionPreview:
    """What correcting these fields would do, read through a read-only connection."""
    _mapped, system = writing.system_of(datamap, dataset)
    with sql.transaction(connection, read_only=True, timeout_ms=timeout_ms) as runner:
        plans = _plan(datamap, dataset, seeds, changes, runner, row_cap, carried)
    return CorrectionPreview(dataset, system.name, tuple(p for p, _r, _s in plans.values()))


def execute_correction(*, datamap: DataMap, preview: CorrectionPreview, seeds: Mapping[str, str], changes: Changes,
                       connection: Connection, instance_path: Path | str, evidence_key: bytes,
                       row_cap: int = sql.DEFAULT_ROW_CAP, timeout_ms: int = sql.DEFAULT_TIMEOUT_MS,
                       carried: Mapping[tuple[str, str], set] | None = None) -> CorrectionOutcome:
    """Update as previewed on the system's write connection; read back and roll back unless every value is the new one.
    The evidence names the values by keyed hashes (`evidence_key` is `hashing.evidence_key(SECRET_KEY)`)."""
    _mapped, system = writing.system_of(datamap, preview.dataset)
    writing.check_write_connection(system, connection, instance_path)
    approved = {c.key: c for c in preview.collections}
    try:
        with sql.transaction(connection, read_only=False, timeout_ms=timeout_ms) as runner:
            plans = _plan(datamap, preview.dataset, seeds, changes, runner, row_cap, carried)
            evidence = []
            for name, (now, reached, statements) in plans.items():
                before = approved.get(now.key)
                if before is None or (before.rows_sha256, before.update) != (now.rows_sha256, now.update):
                    raise writing.WriteFailed(name, "the rows or the rules changed since the preview: preview again")
                try:
                    count = sum(runner.run(s) for s in statements)
                except (DBAPIError, sql.ConnectorError) as exc:
                    raise writing.WriteFailed(name, str(getattr(exc, "orig", exc)).splitlines()[0]) from None
                _post_check(name, now, reached, changes[name], runner)
                evidence.append(CorrectionEvidence(now.key, count, now.rows_sha256, tuple(
                    FieldEvidence(f, keyed_hash_of(evidence_key, [row[f] for row in reached.rows]),
                                  keyed_hash_of(evidence_key, [changes[name][f]] * len(reached.rows)))
                    for f in now.update)))
    except writing.WriteFailed as exc:
        failure = writing.Failure(system.name, f"{preview.dataset}:{exc.collection}", str(exc))
        return CorrectionOutcome(preview.dataset, system.name, False, (), failure)
    return CorrectionOutcome(preview.dataset, system.name, True, tuple(evidence))


def _post_check(name: str, preview: CollectionCorrection, reached, wanted, runner: sql.Runner) -> None:
    if not preview.update or not reached.rows:
        return
    now = writing.read_by_key(runner, reached, preview.update, writing.identities(reached))
    wrong = sorted({f for row in now for f in preview.update if plain(row[f]) != plain(wanted[f])})
    if wrong or len(now) != len(reached.rows):
        raise writing.WriteFailed(name, f"post-check: {', '.join(wrong) or 'rows'} do not hold the new values")
