"""The heartbeat table: one row per delivering process, written at most every BEAT_EVERY, old rows cleaned."""
from datetime import timedelta

import time_machine
from sqlmodel import select

from portal import clock
from portal.models import WorkerHeartbeat
from portal.services import heartbeat


def rows(session):
    found = session.exec(select(WorkerHeartbeat)).all()
    session.rollback()
    return found


def test_a_beat_upserts_this_processs_row(app, session):
    engine = app.extensions["db_engine"]
    with time_machine.travel(clock.now(), tick=False) as traveller:
        first = clock.now()
        assert heartbeat.beat(engine, "worker") is True
        traveller.shift(timedelta(seconds=3))
        assert heartbeat.beat(engine, "worker") is False  # within BEAT_EVERY: nothing written
        traveller.shift(heartbeat.BEAT_EVERY)
        assert heartbeat.beat(session, "worker") is True  # a session works as well as an engine
        [row] = rows(session)
    assert row.process == heartbeat.process_id() and row.name == "worker"
    assert row.started_at == first and row.beat_at == first + timedelta(seconds=3) + heartbeat.BEAT_EVERY
    assert heartbeat.latest(session) == row.beat_at


def test_a_beat_forgets_processes_silent_for_a_day(app, session):
    now = clock.now()
    session.add(WorkerHeartbeat(process="gone-host:4242", name="worker", started_at=now - timedelta(days=3),
                                beat_at=now - timedelta(days=1, seconds=1)))
    session.add(WorkerHeartbeat(process="other-host:77", name="worker", started_at=now, beat_at=now - timedelta(hours=2)))
    session.commit()
    heartbeat.beat(app.extensions["db_engine"], "web")
    assert sorted(r.process for r in rows(session)) == sorted(["other-host:77", heartbeat.process_id()])
    assert heartbeat.alive(session, within=timedelta(minutes=2)) == 1


def test_no_beat_reads_as_none(session):
    assert heartbeat.latest(session) is None
