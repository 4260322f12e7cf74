"""Engine, per-request session, service transactions and the migrations entry point."""
import logging
import os
from functools import wraps
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import current_app, g
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

log = logging.getLogger(__name__)
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
        return create_engine(url, pool_pre_ping=True)
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
        # apply to a stale read snapshot), so every transaction waits its turn instead.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def init_app(app):
    app.extensions["db_engine"] = make_engine(app.config["DATABASE_URL"])
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions["db_engine"]


def session() -> Session:
    """The session for the current request or app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = Session(engine(), expire_on_commit=False)
    return g.db_session


def _close_session(_exc=None):
    s = g.pop("db_session", None)
    if s is not None:
        try:
            s.close()
        except DBAPIError:  # the server went away mid-request (a restart): the pool drops that connection
            log.warning("database connection lost while closing the session")


def atomic(service):
    """A service owns its transaction: it commits what it did, and when it raises instead, what it
    had written is rolled back before the caller sees the error (views never roll back)."""
    @wraps(service)
    def run(session: Session, *args, **kwargs):
        try:
            return service(session, *args, **kwargs)
        except BaseException:
            session.rollback()
            raise
    return run


def ping() -> bool:
    """True when the database answers."""
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver error means "not reachable" to the health check
        return False


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    secure_sqlite_file(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
