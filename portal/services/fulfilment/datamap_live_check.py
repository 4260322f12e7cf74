"""The part of `datamap check` that talks to the systems: can each connection be opened, do the
dataset's tables and columns exist there, and is every identity or reference column indexed.

Connections are opened with a short timeout and only read the schema (SQLAlchemy inspection); a
missing table or column is an error (a request would fail there), a missing index a warning (a
request would scan the whole table).
"""
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from . import connections
from .datamap import DataMap, Finding, MappedDataset, System


def check_systems(datamap: DataMap, *, instance_path: Path | str) -> list[Finding]:
    """Open every system's connections; where one opens, compare the dataset with the live schema."""
    found = []
    referenced = {(r.dataset, r.collection, r.field) for d in datamap.datasets for c in d.collections
                  for f in c.fields for r in f.references}
    for system in datamap.systems:
        engine = None
        for key in ("connection", "write_connection"):
            spec = getattr(system, key)
            if not spec:
                continue
            try:
                opened = connections.probe(connections.resolve(spec, instance_path=instance_path))
            except connections.ConnectionUnavailable as exc:
                found.append(Finding("error", system.file, (system.label,), f"{key} cannot be opened: {exc}"))
                continue
            if engine is None:
                engine = opened
            else:
                opened.dispose()
        dataset = datamap.dataset(system.dataset)
        if engine is None or dataset is None:
            continue
        try:
            found += _compare_schema(engine, system, dataset, referenced)
        except SQLAlchemyError as exc:
            found.append(Finding("error", system.file, (system.label,),
                                 f"cannot read the database's schema: {str(exc).splitlines()[0]}"))
        finally:
            engine.dispose()
    return found


def _compare_schema(engine: Engine, system: System, dataset: MappedDataset,
                    referenced: set[tuple[str, str, str]]) -> list[Finding]:
    """Tables and columns the dataset names that the database lacks; unindexed lookup columns."""
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    views = set(inspector.get_view_names())
    found = []
    for collection in dataset.collections:
        where = (f"dataset {dataset.fides_key}", f"collection {collection.name}")
        if collection.skip_processing:
            continue
        if collection.name not in tables | views:
            found.append(Finding("error", dataset.file, where,
                                 f"table {collection.name} does not exist in {system.name}'s database"))
            continue
        columns = {c["name"] for c in inspector.get_columns(collection.name)}
        indexed = set() if collection.name in views else _leading_columns(inspector, collection.name)
        for field in collection.fields:
            if "." in field.name:
                continue  # a nested field lives inside a column's document
            here = where + (f"field {field.name}",)
            if field.name not in columns:
                found.append(Finding("error", dataset.file, here,
                                     f"column {field.name} does not exist in table {collection.name}"))
                continue
            looked_up = field.identity or field.references or (
                (dataset.fides_key, collection.name, field.name) in referenced)
            if looked_up and collection.name not in views and field.name not in indexed:
                role = "identity" if field.identity else "reference"
                found.append(Finding("warning", dataset.file, here,
                                     f"{role} column has no index in {system.name}'s database: "
                                     "every request would read the whole table"))
    return found


def _leading_columns(inspector, table: str) -> set[str]:
    """Columns a lookup can use an index for: the first column of the primary key, of each index and
    of each unique constraint."""
    leading = set()
    primary = inspector.get_pk_constraint(table).get("constrained_columns") or []
    leading.update(primary[:1])
    for index in inspector.get_indexes(table):
        names = [n for n in index.get("column_names") or [] if n]
        leading.update(names[:1])
    for unique in inspector.get_unique_constraints(table):
        leading.update((unique.get("column_names") or [])[:1])
    return leading
