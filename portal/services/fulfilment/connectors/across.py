"""References between datasets, each on its own database: a field of one system referencing a field of
another (`dataset: other_system`, `field: collection.field`) is followed with the values found.

A dataset's traversal reaches one database, so the values another system carries into it are
gathered first: the other dataset is traversed from the same verified seeds (read-only, bound
parameters, the same timeout and cap), and the values of its referencing (or referenced) field in
the rows reached become extra seeds of the target field, as the reference's direction says (`to` on
A.f referencing B.g carries A.f's values to B.g, `from` carries B.g's values to A.f, none: both).
The other dataset's own incoming references are followed the same way, each dataset once per chain,
so a cycle of references ends. Only values reached from the verified identity ever cross.
"""
from collections import defaultdict
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager

from sqlalchemy.engine import Connection

from ..datamap import DataMap
from . import sql
from .traversal import traverse

ForeignEdge = tuple[str, str, str, str, str]  # (source dataset, collection, field, target collection, field)
Reader = Callable[[str], AbstractContextManager[Connection]]  # a dataset's read-only connection
Carried = dict[tuple[str, str], set]  # (collection, field) -> values carried in


def incoming(datamap: DataMap, dataset: str) -> list[ForeignEdge]:
    """The references along which other datasets' values flow into `dataset`."""
    found: list[ForeignEdge] = []
    for other in datamap.datasets:
        for collection in other.collections:
            for field in collection.fields:
                for ref in field.references:
                    if ref.dataset == other.fides_key or datamap.resolve(ref) is None:
                        continue
                    if ref.dataset == dataset and ref.direction in ("to", None):
                        found.append((other.fides_key, collection.name, field.name, ref.collection, ref.field))
                    if other.fides_key == dataset and ref.direction in ("from", None):
                        found.append((ref.dataset, ref.collection, ref.field, collection.name, field.name))
    return found


def carried_values(*, datamap: DataMap, dataset: str, seeds: Mapping[str, str], reader: Reader,
                   row_cap: int = sql.DEFAULT_ROW_CAP, timeout_ms: int = sql.DEFAULT_TIMEOUT_MS,
                   _chain: frozenset[str] = frozenset()) -> Carried:
    """The values other datasets carry into `dataset`'s fields for this person (empty: no such reference)."""
    chain = _chain | {dataset}
    by_source: dict[str, list[ForeignEdge]] = defaultdict(list)
    for edge in incoming(datamap, dataset):
        if edge[0] not in chain:
            by_source[edge[0]].append(edge)
    carried: Carried = defaultdict(set)
    for source, flows in by_source.items():
        upstream = carried_values(datamap=datamap, dataset=source, seeds=seeds, reader=reader, row_cap=row_cap,
                                  timeout_ms=timeout_ms, _chain=chain)
        with reader(source) as connection, sql.transaction(connection, read_only=True, timeout_ms=timeout_ms) as runner:
            walk = traverse(datamap=datamap, dataset=source, seeds=seeds, runner=runner, row_cap=row_cap,
                            carried=upstream)
        for _source, collection, field, target_collection, target_field in flows:
            reached = walk.reached.get(collection)
            if reached is None or field not in reached.columns:
                continue
            carried[(target_collection, target_field)] |= {
                row[field] for row in reached.rows if row[field] not in (None, "")}
    return {place: values for place, values in carried.items() if values}
