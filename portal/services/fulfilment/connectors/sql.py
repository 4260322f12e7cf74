"""The SQL plumbing of the connectors: one guarded transaction, tables as the database has them.

`transaction` opens the one transaction a connector works in. Reading, it refuses a SQLite
connection that was not opened `mode=ro` and makes a PostgreSQL transaction `READ ONLY` (MySQL and
MariaDB: `START TRANSACTION READ ONLY`); writing, it takes SQLite's write lock first (`BEGIN
IMMEDIATE`). Every statement runs under a timeout: PostgreSQL's `SET LOCAL statement_timeout`,
MariaDB's `max_statement_time` (MySQL's `max_execution_time`, reads only), and on SQLite a progress
handler that interrupts a statement past its deadline.

Tables are reflected from the database, so identifiers are quoted as the dialect needs and values
are bound with the column's own type; statements are shown to staff as SQL text with placeholders.
"""
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Column, MetaData, Table, inspect, tuple_
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import DBAPIError, NoSuchTableError, OperationalError

from ..datamap import MappedCollection

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_ROW_CAP = 10_000
IN_CHUNK = 500  # values per IN list: far below every database's limit on bound parameters
_PROGRESS_STEPS = 10_000  # SQLite virtual-machine steps between two looks at the clock


class ConnectorError(Exception):
    """A connector cannot go on; the message names the system and the collection where it can."""


class ReadOnlyRequired(ConnectorError):
    """A read was asked of a connection that can write."""


class WrongConnection(ConnectorError):
    """A write was asked of a connection that is not the system's write_connection."""


class StatementTimeout(ConnectorError):
    """A statement ran past its timeout and was cancelled."""


class Runner:
    """Executes the statements of one guarded transaction, each under the timeout."""

    def __init__(self, connection: Connection, timeout_ms: int):
        self.connection = connection
        self.dialect = connection.dialect
        self.timeout_ms = timeout_ms
        self._deadline = math.inf
        self._tables: dict[str, Table] = {}

    def rows(self, statement) -> list[dict]:
        """The rows of a SELECT, fetched within the statement's deadline."""
        with self._timed():
            return [dict(row) for row in self.connection.execute(statement).mappings()]

    def run(self, statement, parameters=None) -> int:
        """A write (one statement, or executemany with a list of parameter sets); rows it touched."""
        with self._timed():
            result = self.connection.execute(statement, parameters) if parameters is not None \
                else self.connection.execute(statement)
            return result.rowcount

    @contextmanager
    def _timed(self):
        self._deadline = time.monotonic() + self.timeout_ms / 1000
        try:
            yield
        except OperationalError as exc:
            if _timed_out(exc):
                raise StatementTimeout(f"a statement ran longer than {self.timeout_ms} ms and was cancelled") from None
            raise
        finally:
            self._deadline = math.inf

    def _progress(self) -> int:
        """SQLite's progress handler: non-zero interrupts the running statement."""
        return 1 if time.monotonic() > self._deadline else 0

    def table(self, collection: MappedCollection) -> Table:
        """The collection's table as the database has it, reflected once per transaction: its columns
        with their types and its primary key, nothing more (a full reflection also reads indexes,
        constraints, comments and every table a foreign key names: on PostgreSQL some twenty
        catalog queries a table, most of an access's time)."""
        if collection.name not in self._tables:
            inspector = inspect(self.connection)
            try:
                columns = inspector.get_columns(collection.name)
                key = set(inspector.get_pk_constraint(collection.name).get("constrained_columns") or ())
            except NoSuchTableError:
                columns = []
            if not columns:
                raise ConnectorError(f"the table {collection.name} does not exist")
            self._tables[collection.name] = Table(collection.name, MetaData(), *(
                Column(c["name"], c["type"], primary_key=c["name"] in key, nullable=c.get("nullable", True),
                       autoincrement=False) for c in columns))
        return self._tables[collection.name]

    def sql(self, statement) -> str:
        """The statement as SQL text in this database's dialect, with placeholders for every value."""
        return str(statement.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True}))


def _timed_out(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code == "57014":  # PostgreSQL: query_canceled
        return True
    message = str(exc.orig).lower()
    return "interrupted" in message or "maximum statement execution time" in message


def _sqlite_read_only(url: URL) -> bool:
    """Whether a SQLite URL opens its file read-only (`file:PATH?mode=ro&uri=true`)."""
    database = url.database or ""
    uri = str(url.query.get("uri", "")).lower() in ("true", "1")
    mode = str(url.query.get("mode", "")) or database.partition("?")[2]
    return uri and database.startswith("file:") and ("ro" == mode or "mode=ro" in mode)


@contextmanager
def transaction(connection: Connection, *, read_only: bool, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Iterator[Runner]:
    """One guarded transaction on `connection`: read-only (and rolled back) or writing (committed
    when the block ends without an exception, rolled back otherwise)."""
    if isinstance(connection, Engine) or not isinstance(connection, Connection):
        raise TypeError("pass a SQLAlchemy Connection (engine.connect()), not an engine")
    if connection.in_transaction():
        raise ConnectorError("the connection is already in a transaction: a connector takes its own")
    backend = connection.dialect.name
    if read_only and backend == "sqlite" and not _sqlite_read_only(connection.engine.url):
        raise ReadOnlyRequired("access reads through a read-only connection: open the SQLite file with "
                               "sqlite:///file:PATH?mode=ro&uri=true")
    if read_only and backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
        raise ReadOnlyRequired(f"the portal cannot make a {backend} transaction read-only")
    runner = Runner(connection, timeout_ms)
    dbapi = connection.connection.driver_connection if backend == "sqlite" else None
    mysql_timeout = _mysql_timeout(connection.dialect) if backend in ("mysql", "mariadb") else None
    transaction_ = connection.begin()
    try:
        if backend == "sqlite":
            dbapi.set_progress_handler(runner._progress, _PROGRESS_STEPS)
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
        elif backend == "postgresql":
            if read_only:
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
        elif mysql_timeout is not None:
            # A session setting (MySQL has no SET LOCAL), put back when the transaction ends; then the
            # transaction itself, started explicitly so that READ ONLY applies to it.
            name, value = mysql_timeout
            connection.exec_driver_sql(f"SET SESSION {name} = {value(timeout_ms)}")
            connection.exec_driver_sql("START TRANSACTION READ ONLY" if read_only else "START TRANSACTION")
        yield runner
        if read_only:
            transaction_.rollback()
        else:
            transaction_.commit()
    except BaseException:
        if transaction_.is_active:
            transaction_.rollback()
        raise
    finally:
        if dbapi is not None:
            dbapi.set_progress_handler(None, _PROGRESS_STEPS)
        if mysql_timeout is not None and not connection.closed and not connection.invalidated:
            # Outside any transaction; a connection that broke keeps its first error, not this one.
            with suppress(connection.dialect.loaded_dbapi.Error), \
                    connection.connection.driver_connection.cursor() as cursor:
                cursor.execute(f"SET SESSION {mysql_timeout[0]} = DEFAULT")


def _mysql_timeout(dialect):
    """The session variable that bounds a statement, and its value for a timeout in milliseconds:
    MariaDB's `max_statement_time` (seconds, every statement), MySQL's `max_execution_time`
    (milliseconds, SELECT only: MySQL has no bound on a write)."""
    if getattr(dialect, "is_mariadb", False):
        return "max_statement_time", lambda ms: f"{ms / 1000:.3f}"
    return "max_execution_time", lambda ms: str(int(ms))


def key_clause(table: Table, names: tuple[str, ...], keys: list[tuple]):
    """`WHERE key IN (...)` for one chunk of keys: a column, or a row value for a composite key."""
    if len(names) == 1:
        return table.c[names[0]].in_([key[0] for key in keys])
    return tuple_(*(table.c[name] for name in names)).in_(keys)


def chunks(items: list, size: int = IN_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def same_database(url: URL, other: URL) -> bool:
    """Whether two URLs name the same database as the same user (the driver and password aside)."""
    def identity(u: URL):
        return (u.get_backend_name(), u.username, u.host, u.port, u.database,
                tuple(sorted((k, str(v)) for k, v in u.query.items())))
    return identity(url) == identity(other)
