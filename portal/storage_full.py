"""A full disk, told apart from every other failure: the database (SQLite's "database or disk is
full", PostgreSQL's disk_full) or a file write (ENOSPC, or EDQUOT on a quota) ran out of room.

Nothing was saved (the service's transaction rolled back, a blob written before is removed with
it), so the requester's form can be shown again as it was typed, with a 507 instead of the generic
error page."""
import errno
import sqlite3

STORAGE_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# SQLite's full disk: its own code, or the shared-memory index of the WAL unable to grow.
SQLITE_FULL_NAMES = frozenset({"SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"})
POSTGRES_DISK_FULL = "53100"


class StorageFull(RuntimeError):
    """There was no room to save what was sent; nothing of it was saved."""


def is_storage_full(exc: BaseException | None) -> bool:
    """True when the error, or one it was raised from (a SQLAlchemy error's driver error), is a
    full disk."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, StorageFull):
            return True
        if isinstance(exc, OSError) and exc.errno in STORAGE_FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorname", None) in SQLITE_FULL_NAMES
                                               or "database or disk is full" in str(exc)):
            return True
        if getattr(exc, "sqlstate", None) == POSTGRES_DISK_FULL:  # psycopg.errors.DiskFull
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return False
