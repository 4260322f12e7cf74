"""What erasure and correction share: the write connection's check, rows named by their keys, the
statements by key, the order of row deletes, and the failure that names its collection."""
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from .. import connections
from ..datamap import DataMap, MappedDataset, System
from . import sql
from .hashing import sha256_of
from .traversal import Reached


class WriteFailed(sql.ConnectorError):
    """A write failed and its transaction was rolled back; `collection` is where."""

    def __init__(self, collection: str, message: str):
        super().__init__(message)
        self.collection = collection


@dataclass(frozen=True)
class Failure:
    system: str
    collection: str | None
    message: str

    def as_json(self) -> dict:
        return {"system": self.system, "collection": self.collection, "message": self.message}


def system_of(datamap: DataMap, dataset: str) -> tuple[MappedDataset, System]:
    mapped, system = datamap.dataset(dataset), datamap.system_for(dataset)
    if mapped is None or system is None:
        raise sql.ConnectorError(f"the data map has no dataset and system {dataset}")
    return mapped, system


def check_write_connection(system: System, connection: Connection, instance_path: Path | str) -> None:
    """Refuse any connection but the system's own write_connection."""
    if not system.write_connection:
        raise sql.WrongConnection(f"{system.label} has no write_connection: erasure and correction there are "
                                  "staff tasks")
    expected = connections.resolve(system.write_connection, instance_path=instance_path)
    if not sql.same_database(connection.engine.url, expected):
        raise sql.WrongConnection(f"{system.label}: the connection given is not the system's write_connection")


def identities(reached: Reached) -> list[tuple]:
    return [tuple(row[c] for c in reached.key) for row in reached.rows]


def identities_sha256(reached: Reached) -> str:
    """The rows touched, named by the SHA-256 of their sorted primary keys (never their values)."""
    return sha256_of(identities(reached))


def update_by_key(runner: sql.Runner, reached: Reached, values: dict, keys: list[tuple]):
    table = runner.table(reached.collection)
    return update(table).where(sql.key_clause(table, reached.key, keys)).values(values)


def delete_by_key(runner: sql.Runner, reached: Reached, keys: list[tuple]):
    table = runner.table(reached.collection)
    return delete(table).where(sql.key_clause(table, reached.key, keys))


def read_by_key(runner: sql.Runner, reached: Reached, fields: tuple[str, ...], keys: list[tuple]) -> list[dict]:
    """The rows with these keys as they are now (the post-check's reading)."""
    table = runner.table(reached.collection)
    found = []
    for chunk in sql.chunks(keys):
        columns = dict.fromkeys(reached.key + fields)
        found += runner.rows(select(*(table.c[c] for c in columns)).where(sql.key_clause(table, reached.key, chunk)))
    return found


def delete_order(mapped: MappedDataset, names: list[str]) -> list[str]:
    """Collections whose rows are deleted, children (the side holding a reference) before parents."""
    parents = {name: set() for name in names}
    for collection in mapped.collections:
        if collection.name not in parents:
            continue
        for field in collection.fields:
            for ref in field.references:
                if ref.dataset == mapped.fides_key and ref.collection in parents and ref.collection != collection.name:
                    parents[collection.name].add(ref.collection)
    order, placed = [], set()

    def place(name: str, path: tuple[str, ...]) -> None:
        if name in placed or name in path:
            return
        for child in [c for c in names if name in parents[c]]:
            place(child, path + (name,))
        placed.add(name)
        order.append(name)

    for name in names:
        place(name, ())
    return order
