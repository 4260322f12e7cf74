"""The heartbeat table: one row per delivering process, written at most every BEAT_EVERY, old rows cleaned."""
import threading
from datetime import timedelta

import time_machine
from sqlmodel import Session, delete, select

from portal import clock
from portal.models import WorkerHeartbeat
from portal.services.delivery import heartbeat


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


def test_threads_of_one_process_beating_together_share_its_row(app, session):
    """A worker's thread and the web's delivery thread (or two workers in one test process) have one
    host:pid: beats that race to create its row both land, on the one row."""
    engine = app.extensions["db_engine"]
    start = threading.Barrier(4)
    failures = []

    def beat_often():
        start.wait()
        for _ in range(25):
            heartbeat._last_written.clear()  # every call writes, as two processes' first beats do
            try:
                heartbeat.beat(engine, "worker")
            except Exception as error:  # noqa: BLE001 - collected for the assertion below
                failures.append(error)
            with Session(engine) as own:
                own.execute(delete(WorkerHeartbeat))  # back to no row: the next beats race to insert it
                own.commit()

    threads = [threading.Thread(target=beat_often) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    heartbeat._last_written.clear()
    assert heartbeat.beat(engine, "worker")
    assert [r.process for r in rows(session)] == [heartbeat.process_id()]
