"""Heartbeats of the processes that deliver the outbox, so readiness can tell a dead worker.

Each delivering process (a `flask worker`, or a web process's background delivery thread) calls
`beat` once per pass. A beat upserts the process's one row (host:pid) with `clock.now()`; it is
written at most every BEAT_EVERY so that a one-second poll does not become a write per second,
and it deletes the rows of processes that have not beaten for a day (restarted, gone).
"""
import os
import socket
import threading
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...models import WorkerHeartbeat

BEAT_EVERY = timedelta(seconds=10)
FORGET_AFTER = timedelta(days=1)
_last_written: dict[tuple[str, str], datetime] = {}  # (database, process) -> last beat written
_lock = threading.Lock()


def process_id() -> str:
    """This process, as host:pid (no personal data: a host name and a number)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def beat(target: Engine | Session, name: str) -> bool:
    """Record that this process is alive and delivering; True when a row was written."""
    now = clock.now()
    process = process_id()
    engine = target.get_bind() if isinstance(target, Session) else target
    key = (str(engine.url), process)
    with _lock:
        last = _last_written.get(key)
        if last is not None and last <= now < last + BEAT_EVERY:
            return False
        _last_written[key] = now
    try:
        if isinstance(target, Session):
            _upsert(target, process=process, name=name, now=now)
        else:
            with Session(target, expire_on_commit=False) as session:
                _upsert(session, process=process, name=name, now=now)
    except BaseException:
        with _lock:
            _last_written.pop(key, None)  # not written: try again on the next pass
        raise
    return True


_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@atomic
def _upsert(session: Session, *, process: str, name: str, now: datetime) -> None:
    # One statement: two delivering threads of one process (a worker's and the web's, or two in a
    # test) share the row, and an update-then-insert would let both insert it.
    insert = _INSERT[session.get_bind().dialect.name](WorkerHeartbeat.__table__)
    session.execute(insert.values(process=process, name=name, started_at=now, beat_at=now)
                    .on_conflict_do_update(index_elements=["process"], set_={"beat_at": now, "name": name}))
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))
    session.commit()


def latest(session: Session) -> datetime | None:
    """The newest beat of any delivering process (None: none has beaten in the last day)."""
    return session.execute(select(func.max(WorkerHeartbeat.beat_at))).scalar()


def alive(session: Session, *, within: timedelta) -> int:
    """How many processes have beaten within `within`."""
    return session.execute(select(func.count()).select_from(WorkerHeartbeat)
                           .where(WorkerHeartbeat.beat_at >= clock.now() - within)).scalar_one()
