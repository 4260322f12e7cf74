"""Reaching a system's database: the map's connection strings made into engines, with short timeouts.

A connection is a SQLAlchemy URL, `env:NAME` (the URL is in that environment variable) or
`enc:TOKEN` (the URL encrypted with the instance keys, a Fernet token made by `flask datamap
encrypt-url` and re-encrypted by `flask keys rotate`), so a password never sits in the map in clear. A relative SQLite path is relative to the instance folder, so the
example's `sqlite:///example/claims.db` works whatever the working directory; a SQLite file that
does not exist is reported, never created.
"""
import os
import re
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

CONNECT_TIMEOUT_SECONDS = 5


class ConnectionUnavailable(Exception):
    """The connection cannot be made: the message says why, without the password."""


def resolve(spec: str, *, instance_path: Path | str) -> URL:
    """The URL a map's connection string stands for (env:NAME read now; relative SQLite paths
    anchored at the instance folder)."""
    if spec.startswith("enc:"):
        spec = decrypt(spec)
    elif spec.startswith("env:"):
        name = spec[4:]
        value = os.environ.get(name, "").strip()
        if not value:
            raise ConnectionUnavailable(f"the environment variable {name} is not set")
        spec = value
    try:
        url = make_url(spec)
    except (ArgumentError, ValueError):
        raise ConnectionUnavailable("not a SQLAlchemy URL") from None
    return _anchored_sqlite(url, Path(instance_path))


def encrypt(url: str) -> str:
    """The `enc:` form of a connection URL, under the newest instance key."""
    from ..documents import keys

    return "enc:" + keys.keyring().fernet.encrypt(url.encode()).decode()


def decrypt(spec: str) -> str:
    """The URL an `enc:` connection stands for; ConnectionUnavailable when no instance key reads it."""
    from cryptography.fernet import InvalidToken

    from ..documents import keys

    try:
        return keys.keyring().fernet.decrypt(spec[4:].strip().encode()).decode()
    except (InvalidToken, ValueError):
        raise ConnectionUnavailable("the enc: connection cannot be read with the instance keys") from None


ENC_TOKEN = re.compile(r"(?<=enc:)[A-Za-z0-9_\-]+=*")


def reencrypt_map(folder: Path) -> list[tuple[Path, int, bool]]:
    """`keys rotate`: every `enc:` token in the map's YAML files re-encrypted under the newest key, only the
    token's text replaced (comments and layout kept), each file replaced atomically. (file, tokens,
    written); a file that cannot be written is reported, and its new forms printed by the command."""
    from ..documents import keys
    from ..documents.storage import write_atomic

    ring, done = keys.keyring(), []
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        text = path.read_text(encoding="utf-8")
        tokens = ENC_TOKEN.findall(text)
        if not tokens:
            continue
        new = ENC_TOKEN.sub(lambda m: ring.fernet.rotate(m.group(0).encode()).decode(), text)
        try:
            mode = path.stat().st_mode & 0o777
            write_atomic(path, new.encode())
            path.chmod(mode)
            done.append((path, len(tokens), True))
        except OSError:
            done.append((path, len(tokens), False))
    return done


def _anchored_sqlite(url: URL, base: Path) -> URL:
    """A SQLite URL whose relative file path is read from `base`; other URLs unchanged."""
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return url
    database = url.database
    is_uri = str(url.query.get("uri", "")).lower() in ("true", "1")
    if is_uri and database.startswith("file:"):
        path, sep, params = database[5:].partition("?")
        if path and not Path(path).is_absolute():
            return url.set(database=f"file:{base / path}{sep}{params}")
        return url
    if not Path(database).is_absolute():
        return url.set(database=str(base / database))
    return url


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL opens (None: not SQLite, or in memory)."""
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    database = url.database
    if database.startswith("file:"):
        database = database[5:].partition("?")[0]
    return Path(database)


def engine_for(url: URL, *, timeout: float = CONNECT_TIMEOUT_SECONDS) -> Engine:
    """An engine that gives up on connecting after `timeout` seconds and keeps no pool."""
    backend = url.get_backend_name()
    connect_args = {}
    if backend == "postgresql":
        connect_args = {"connect_timeout": max(1, int(timeout))}
    elif backend in ("mysql", "mariadb"):
        connect_args = {"connect_timeout": max(1, int(timeout))}
    elif backend == "sqlite":
        connect_args = {"timeout": timeout}
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def probe(url: URL, *, timeout: float = CONNECT_TIMEOUT_SECONDS) -> Engine:
    """An engine whose database answered `SELECT 1`; ConnectionUnavailable otherwise."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise ConnectionUnavailable(f"the SQLite file {path} does not exist")
    try:
        engine = engine_for(url, timeout=timeout)
    except (ArgumentError, ImportError, SQLAlchemyError) as exc:
        raise ConnectionUnavailable(f"cannot use {url.render_as_string(hide_password=True)}: {_first_line(exc)}") from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        engine.dispose()
        raise ConnectionUnavailable(f"cannot connect to {url.render_as_string(hide_password=True)}: "
                                    f"{_first_line(getattr(exc, 'orig', None) or exc)}") from None
    return engine


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
