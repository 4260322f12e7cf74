"""Engine, per-request session, service transactions and the migrations entry point."""
import logging
import os
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from functools import wraps
from pathlib import Path

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlmodel import Session

from .storage_full import StorageFull, is_storage_full

log = logging.getLogger(__name__)

# An execution option (and a flag on `g` for a view's whole request): transactions that only read.
READ_ONLY = "portal_read_only"
REQUEST_SESSION = "portal_request_session"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory ones)."""
    parsed = make_url(url)
    name = parsed.database
    if not parsed.drivername.startswith("sqlite") or not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def secure_sqlite_file(url: str) -> None:
    """Make the SQLite file owner-only (0600) whatever the umask, before SQLite opens it.

    SQLite creates the database with the umask's permissions, and gives its -wal and -shm files
    the permissions of the database file: so the file is created here first, owner-only, and
    files left readable by an older version are tightened.
    """
    path = sqlite_file(url)
    if path is None or not path.parent.is_dir():
        return  # a folder that does not exist is a configuration error SQLite reports, not ours to create
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # an empty file is a new database
    except FileExistsError:
        pass
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if part.stat().st_mode & 0o077:
                os.chmod(part, 0o600)
        except FileNotFoundError:
            pass


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and write-ahead locking."""
    if not url.startswith("sqlite"):
        return _server_engine(url)
    secure_sqlite_file(url)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let the "begin" hook below issue BEGIN itself
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA secure_delete=ON")  # deleted content is zeroed, not left in free pages (retention)
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn):
        # BEGIN IMMEDIATE takes the write lock up front. A deferred transaction that reads and
        # then writes can fail at once with "database is locked" (the busy timeout does not
        # apply to a stale read snapshot), so every transaction that may write waits its turn.
        # read_session() begins deferred: in WAL mode it reads one snapshot and never blocks a
        # writer, however long it runs. A @reads_only view begins nothing: each of its statements
        # reads in SQLite's autocommit, its own snapshot, as on PostgreSQL (_reads_in_autocommit),
        # which spares a page the BEGIN and ROLLBACK. Neither can write (the flush guard below),
        # so the stale-snapshot failure cannot happen to them.
        snapshot = conn.get_execution_options().get(READ_ONLY)
        view_reads = not snapshot and has_app_context() and g.get(READ_ONLY, False)
        conn.info[READ_ONLY] = bool(snapshot or view_reads)
        if not view_reads:
            conn.exec_driver_sql("BEGIN" if snapshot else "BEGIN IMMEDIATE")

    return engine


# A pooled PostgreSQL connection idle longer than this is pinged before use (see _server_engine).
PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "portal_idle_since"


def _server_engine(url: str) -> Engine:
    """PostgreSQL: a connection that sat idle in the pool is checked before use, so a server
    restarted (or a connection dropped by a firewall) while the site was quiet costs no request;
    one that read in autocommit (below) goes back to the pool in transaction mode.

    SQLAlchemy's pool_pre_ping would check every checkout: a round trip on each request, about
    0.15 ms of CPU in a status page of 2.6. A connection back in the pool for less than
    PING_AFTER_IDLE_SECONDS goes without: if the server restarted within that moment, the
    request that meets the dead connection answers the same clean 503 as one that was running
    at the restart, and the disconnect empties the pool of the others."""
    engine = create_engine(url)

    @event.listens_for(engine, "checkout")
    def _ping_after_idle(dbapi_conn, record, _proxy):
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool replaces this connection, and the others made before it, then checks out afresh.
            raise InvalidatePoolError("the database connection was lost while idle") from exc

    @event.listens_for(engine, "checkin")
    def _transactions_again(dbapi_conn, record):
        record.info[_IDLE_SINCE] = time.monotonic()
        if record.info.pop(READ_ONLY, False) and dbapi_conn is not None:
            dbapi_conn.autocommit = False

    return engine


@event.listens_for(Session, "after_begin")
def _reads_in_autocommit(session, _transaction, connection):
    """On PostgreSQL the request's own session, in a read-only view (@reads_only), reads in
    autocommit: under READ COMMITTED every statement takes its own snapshot anyway, so the
    transaction gave the view nothing but two round trips, BEGIN and ROLLBACK.

    This runs before the transaction's first statement, and psycopg sends BEGIN only with that.
    `atomic` ends the read before it writes, so its writes begin a real transaction on a
    connection checked out afresh. `read_session()` keeps its transaction: server-side cursors
    (`yield_per`) need one."""
    if (session.info.get(REQUEST_SESSION) and connection.dialect.name == "postgresql"
            and has_app_context() and g.get(READ_ONLY, False)):
        connection.connection.dbapi_connection.autocommit = True
        connection.info[READ_ONLY] = True  # the flush guard below; reset at checkin


@event.listens_for(Session, "before_flush")
def _no_writes_when_reading(session, _flush_context, _instances):
    """A write in a read-only transaction is a programming error: in a deferred SQLite transaction
    it would fail now and then with "database is locked"; in autocommit (a read-only view, on either
    database) each statement would commit on its own. Writes go through `atomic`, which begins a
    real transaction."""
    if not (session.new or session.dirty or session.deleted):
        return
    if session.connection().info.get(READ_ONLY):
        raise RuntimeError("a write in a read-only transaction: run it through db.atomic")


class IdentityCompiledCache(MutableMapping):
    """A compiled cache (SQLAlchemy's `compiled_cache` execution option) for one statement run on
    every page view: its compiled form is found by the identity of the statement's cache key,
    which SQLAlchemy keeps on the statement, instead of by hashing that key in the engine's cache
    (for the status page's statement, a tuple of some two thousand parts: 12 µs a lookup).

        connection.execute(STATEMENT, params, execution_options={"compiled_cache": CACHE})
    """

    MAX_ENTRIES = 16  # an entry per engine (dialect) and set of parameter names, in practice one or two

    def __init__(self):
        self._entries: list[tuple[tuple, object]] = []

    @staticmethod
    def _same(kept, key) -> bool:
        # (dialect, cache key, the rest): the first two by identity, the rest (small) by value
        return kept[0] is key[0] and kept[1] is key[1] and kept[2:] == key[2:]

    def __getitem__(self, key):
        for kept, compiled in self._entries:
            if self._same(kept, key):
                return compiled
        raise KeyError(key)

    def __setitem__(self, key, compiled):
        if len(self._entries) >= self.MAX_ENTRIES:
            del self._entries[0]
        self._entries.append((key, compiled))

    def __delitem__(self, key):
        kept_before = len(self._entries)
        self._entries = [(kept, c) for kept, c in self._entries if not self._same(kept, key)]
        if len(self._entries) == kept_before:
            raise KeyError(key)

    def __iter__(self):
        return iter([key for key, _compiled in self._entries])

    def __len__(self):
        return len(self._entries)


def init_app(app):
    app.extensions["db_engine"] = make_engine(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def session() -> Session:
    """The session for the current request or app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False, info={REQUEST_SESSION: True})
    return g.db_session


def read_connection() -> Connection:
    """A Core connection for a @reads_only view's own statements, without the ORM session (whose
    bookkeeping, opened and closed, cost about 65 µs of a 1.8 ms status page): the request
    session's connection when the request has one, else one of its own, checked out on first use
    and returned at teardown. Like the session in such a view, it reads in autocommit."""
    if not g.get(READ_ONLY, False):
        raise RuntimeError("read_connection() is for @reads_only views; writes go through db.atomic")
    if "db_session" in g:
        return g.db_session.connection()
    conn = g.get("db_connection")
    if conn is None:
        conn = g.db_connection = engine().connect()
        if conn.dialect.name == "postgresql":  # as _reads_in_autocommit; reset at checkin
            conn.connection.dbapi_connection.autocommit = True
            conn.info[READ_ONLY] = True
    return conn


def _close_session(_exc=None):
    for name in ("db_session", "db_connection"):
        opened = g.pop(name, None)
        if opened is not None:
            try:
                opened.close()
            except DBAPIError:  # the server went away mid-request (a restart): the pool drops that connection
                log.warning("database connection lost while closing the request's %s", name.removeprefix("db_"))


def atomic(service):
    """A service owns its transaction: it commits what it did, and when it raises instead, what it
    had written is rolled back before the caller sees the error (views never roll back).

    It is a write: called from a read-only view, it ends the view's read transaction (nothing was
    written in it) so that its own begins IMMEDIATE on SQLite, then lets the view read on."""
    @wraps(service)
    def run(session: Session, *args, **kwargs):
        reading = has_app_context() and g.get(READ_ONLY, False)
        if reading:
            if session.in_transaction():
                session.commit()  # a read transaction: this only ends it (objects stay loaded)
            g.pop(READ_ONLY)
        try:
            return service(session, *args, **kwargs)
        except BaseException as exc:
            session.rollback()
            if is_storage_full(exc):
                raise StorageFull("no room left to save this") from exc
            raise
        finally:
            if reading:
                if session.in_transaction():
                    session.commit()  # what the service left open ends before reading resumes
                g.setdefault(READ_ONLY, True)
    return run


def reads_only(view):
    """A view that only reads (a page, a report, an export): its session reads in autocommit, so on
    SQLite it never takes, or waits for, the write lock. Any write in it goes through `atomic`.
    On a form's page it applies to GET only: a POST's reads stay in the transaction of its write."""
    @wraps(view)
    def run(*args, **kwargs):
        if has_request_context() and request.method not in ("GET", "HEAD"):
            return view(*args, **kwargs)
        if "db_session" in g and g.db_session.in_transaction() and not (
                g.db_session.new or g.db_session.dirty or g.db_session.deleted):
            g.db_session.commit()  # a transaction begun before the view (nothing written): end it
        g.setdefault(READ_ONLY, True)
        return view(*args, **kwargs)
    return run


@contextmanager
def reading(session: Session) -> Iterator[None]:
    """The block's statements read as in a @reads_only view, in autocommit (on SQLite: without the
    write lock), for a service that reads on every request and writes only now and then: before
    a view (a `before_request` hook), or in a view that writes. When it must write, it calls an
    `atomic` service, which reads again under the lock. A transaction already open (or a
    read-only view) reads on as it was."""
    if g.get(READ_ONLY, False) or session.in_transaction():
        yield
        return
    g.setdefault(READ_ONLY, True)
    try:
        yield
    finally:
        g.pop(READ_ONLY)
        if session.in_transaction():
            session.commit()  # ends the read (nothing was written), so a write after it begins afresh


@contextmanager
def read_session() -> Iterator[Session]:
    """A session of its own for read-only work that may outlive the request's (a streamed export,
    a CLI walk of a whole table): deferred transactions on SQLite, closed at the end."""
    with Session(engine().execution_options(**{READ_ONLY: True}), expire_on_commit=False) as reader:
        yield reader


def ping() -> bool:
    """True when the database answers."""
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001  any driver error means "not reachable" to the health check
        return False


def alembic_config(url: str):
    """Alembic's configuration for `url` (Alembic is imported here only: the other commands and the
    web processes never need it, and it costs a fifth of a second to import)."""
    from alembic.config import Config as AlembicConfig
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command
    secure_sqlite_file(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command
    command.downgrade(alembic_config(url), revision)
