"""The access traversal: from the verified identity to that person's rows, and to no one else's.

A field declaring `fides_meta.identity: X` is seeded with the value of X (`email`, `phone_number`,
`subject_id`). From the rows found, values flow only along the dataset's declared references, as
Fides reads them: a reference on A.f to B.g with direction `to` carries A.f's values to B.g,
`from` carries B.g's values to A.f, no direction both ways. Nothing else links two rows: a ZIP
code or an employer two people share is never used to look anyone up. Each collection is queried
with bound `IN` lists on the seeded fields only, capped at `row_cap` rows (the cap is reported).

References to another dataset (another database) are followed by `across`: the values it gathers
there come in as `carried`, extra seeds of the fields they reach.

`traverse` returns every mapped column of the rows reached (the erasure and correction need the
keys); `collect_access` keeps what the rules let the person see.
"""
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ...documents.disclosure_scan import MASK
from ..datamap import SEED_IDENTITIES, DataMap, MappedCollection, MappedDataset
from . import sql
from .hashing import plain

Edge = tuple[str, str, str, str]  # (from collection, from field, to collection, to field)


@dataclass(frozen=True)
class Reached:
    """A collection's rows reached by the traversal, every mapped column (internal: never shown)."""

    collection: MappedCollection
    columns: tuple[str, ...]  # the mapped fields the table has
    key: tuple[str, ...]  # the primary key's columns (empty: the collection has none)
    rows: tuple[dict, ...]
    capped: bool
    missing: tuple[str, ...]  # mapped fields the table lacks


@dataclass(frozen=True)
class Traversal:
    dataset: str
    reached: dict[str, Reached]  # by collection name, in the map's order
    unreached: tuple[str, ...]  # collections no seed or reference reached
    skipped: tuple[str, ...]  # fides_meta.skip_processing
    queries: int


@dataclass(frozen=True)
class CollectionAccess:
    key: str  # "dataset:collection"
    rows: tuple[dict, ...]  # included fields with their values, summarized ones as MASK
    included: tuple[str, ...]
    summarized: tuple[str, ...]
    excluded: tuple[str, ...]
    capped: bool
    row_cap: int

    def as_json(self) -> dict:
        return {"key": self.key, "rows": [dict(r) for r in self.rows], "included": list(self.included),
                "summarized": list(self.summarized), "excluded": list(self.excluded), "capped": self.capped,
                "row_cap": self.row_cap}


@dataclass(frozen=True)
class AccessResult:
    dataset: str
    system: str
    collections: tuple[CollectionAccess, ...]
    unreached: tuple[str, ...]
    skipped: tuple[str, ...]

    @property
    def capped(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.collections if c.capped)

    def as_json(self) -> dict:
        return {"dataset": self.dataset, "system": self.system,
                "collections": [c.as_json() for c in self.collections], "unreached": list(self.unreached),
                "skipped": list(self.skipped), "capped": list(self.capped)}


def edges(dataset: MappedDataset) -> list[Edge]:
    """The dataset's references as directed edges between its own collections (values flow along them)."""
    found: list[Edge] = []
    for collection in dataset.collections:
        for field in collection.fields:
            for ref in field.references:
                if ref.dataset != dataset.fides_key or dataset.collection(ref.collection) is None:
                    continue  # another system's dataset: a connection reaches one database
                if ref.direction in ("to", None):
                    found.append((collection.name, field.name, ref.collection, ref.field))
                if ref.direction in ("from", None):
                    found.append((ref.collection, ref.field, collection.name, field.name))
    return found


def seeded_fields(dataset: MappedDataset, seeds: Mapping[str, str]) -> dict[tuple[str, str], set]:
    """The fields an identity seeds, with its value (only the seeds the portal verified)."""
    start: dict[tuple[str, str], set] = defaultdict(set)
    for collection in dataset.collections:
        for field in collection.identity_fields:
            value = seeds.get(field.identity) if field.identity in SEED_IDENTITIES else None
            if value not in (None, ""):
                start[(collection.name, field.name)].add(value)
    return start


def traverse(*, datamap: DataMap, dataset: str, seeds: Mapping[str, str], runner: sql.Runner,
             row_cap: int = sql.DEFAULT_ROW_CAP, carried: Mapping[tuple[str, str], set] | None = None) -> Traversal:
    """Every row of the dataset reached from the seeds (and the values `carried` in from other
    datasets, by (collection, field)), within a guarded transaction's runner."""
    mapped = datamap.dataset(dataset)
    if mapped is None:
        raise sql.ConnectorError(f"the data map has no dataset {dataset}")
    active = {c.name: c for c in mapped.collections if not c.skip_processing}
    flows = [e for e in edges(mapped) if e[0] in active and e[2] in active]
    pending = {k: v for k, v in seeded_fields(mapped, seeds).items() if k[0] in active}
    for place, values in (carried or {}).items():
        if place[0] in active and values:
            pending.setdefault(place, set()).update(values)
    known: dict[tuple[str, str], set] = defaultdict(set)
    for place, values in pending.items():
        known[place] |= values
    rows: dict[str, dict[tuple, dict]] = defaultdict(dict)
    capped: set[str] = set()
    tables, queries = {}, 0
    while pending:
        name = next(c for c in active if any(place[0] == c for place in pending))
        criteria = {field: sorted(pending.pop((c, field)), key=str) for c, field in list(pending) if c == name}
        collection = active[name]
        if name not in tables:
            tables[name] = _columns(runner, collection)
        table, columns, key, _missing = tables[name]
        criteria = {f: values for f, values in criteria.items() if f in table.c}
        found = rows[name]
        for field, values in criteria.items():
            for chunk in sql.chunks(values):
                if name in capped:
                    break
                column = table.c[field]
                statement = select(*(table.c[c] for c in columns)).where(column.in_([_like(column, v) for v in chunk]))
                queries += 1
                for row in runner.rows(statement.limit(row_cap + 1)):
                    identity = tuple(row[c] for c in key) if key else tuple(row[c] for c in columns)
                    if identity in found:
                        continue
                    if len(found) >= row_cap:
                        capped.add(name)
                        break
                    found[identity] = row
                    for source, source_field, target, target_field in flows:
                        value = row.get(source_field) if source == name else None
                        if value not in (None, "") and value not in known[(target, target_field)]:
                            known[(target, target_field)].add(value)
                            pending.setdefault((target, target_field), set()).add(value)
    reached = {}
    for name, collection in active.items():
        if name in tables:
            _table, columns, key, missing = tables[name]
            reached[name] = Reached(collection, columns, key, tuple(rows[name].values()), name in capped, missing)
    return Traversal(dataset=dataset, reached=reached, unreached=tuple(n for n in active if n not in tables),
                     skipped=tuple(c.name for c in mapped.collections if c.skip_processing), queries=queries)


def _like(column, value):
    """A value carried along a reference, as the target column's type expects it (an integer key
    referenced by a text column, say)."""
    try:
        wanted = column.type.python_type
    except NotImplementedError:
        return value
    if wanted is str and not isinstance(value, str):
        return str(value)
    if wanted is int and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value


def _columns(runner: sql.Runner, collection: MappedCollection):
    """The table, the mapped fields it has (nested fields aside), its key, and the fields it lacks."""
    table = runner.table(collection)
    names = [f.name for f in collection.fields if "." not in f.name]
    columns = tuple(n for n in names if n in table.c)
    missing = tuple(n for n in names if n not in table.c)
    key = tuple(f.name for f in collection.primary_key if f.name in table.c)
    return table, columns, key, missing


def collect_access(*, datamap: DataMap, dataset: str, seeds: Mapping[str, str], connection: Connection,
                   row_cap: int = sql.DEFAULT_ROW_CAP, timeout_ms: int = sql.DEFAULT_TIMEOUT_MS,
                   carried: Mapping[tuple[str, str], set] | None = None) -> AccessResult:
    """What the person may see of the dataset: read-only, the rules applied field by field."""
    system = datamap.system_for(dataset)
    with sql.transaction(connection, read_only=True, timeout_ms=timeout_ms) as runner:
        walk = traverse(datamap=datamap, dataset=dataset, seeds=seeds, runner=runner, row_cap=row_cap,
                        carried=carried)
    collections = tuple(_visible(f"{dataset}:{name}", reached, row_cap) for name, reached in walk.reached.items())
    return AccessResult(dataset=dataset, system=system.name if system else dataset, collections=collections,
                        unreached=walk.unreached, skipped=walk.skipped)


def _visible(key: str, reached: Reached, row_cap: int) -> CollectionAccess:
    actions = {}
    for name in reached.columns:
        rule = reached.collection.field(name).rule
        actions[name] = rule.access if rule else "exclude"  # no rule: nothing shown, `datamap check` says why
    included = tuple(n for n in reached.columns if actions[n] == "include")
    summarized = tuple(n for n in reached.columns if actions[n] == "summarize")
    rows = tuple({**{n: plain(row[n]) for n in included},
                  **{n: (MASK if row[n] not in (None, "") else None) for n in summarized}}
                 for row in reached.rows)
    return CollectionAccess(key=key, rows=rows, included=included, summarized=summarized,
                            excluded=tuple(n for n in reached.columns if actions[n] == "exclude"),
                            capped=reached.capped, row_cap=row_cap)
