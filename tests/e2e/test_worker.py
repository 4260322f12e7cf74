"""Issue 16, the worker: it survives a PostgreSQL restart, runs each scheduled job in one worker at
a time, two workers starting together do not crash, and SIGTERM/SIGINT stop `flask worker` after
the message in hand (a real subprocess, a real SMTP server)."""
import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlmodel import Session

from portal import clock, create_app, db
from portal import db as portal_db
from portal.background import DELIVERERS, scheduled_jobs
from portal.models import OutboxMessage, PrivacyRequest
from portal.services.cases import submission
from portal.services.cases.submission import NewRequest
from portal.services.delivery import worker

from ..support import Mailbox, free_port

REPO = Path(__file__).resolve().parents[2]


def submit_old(app, count):
    """`count` web requests whose email was never confirmed, past their due date: expire_unconfirmed closes them."""
    with app.app_context():
        s = db.session()
        for i in range(count):
            submission.submit(s, new=NewRequest(request_type="access", first_name="Ana", last_name="Ruiz",
                                              email=f"old{i}@example.org", access_scope="categories"),
                            received_at=clock.now() - timedelta(days=60))


def denied(app):
    with app.app_context():
        return db.session().execute(select(func.count()).select_from(PrivacyRequest).where(
            PrivacyRequest.status == "denied")).scalar_one()


def test_a_request_closed_by_another_worker_meanwhile_is_skipped(app, monkeypatch):
    """The StaleDataError of issue 16 (PostgreSQL): two workers list the same unconfirmed requests;
    the other closes them while this one is at its first; this one finds them changed (the version
    check) and leaves them, instead of crashing. (SQLite serialises the two: every transaction
    takes the write lock, BEGIN IMMEDIATE.)"""
    if app.extensions["db_engine"].dialect.name != "postgresql":
        pytest.skip("the interleaving needs concurrent transactions (PostgreSQL)")
    submit_old(app, 3)
    engine = app.extensions["db_engine"]
    deny = submission.verification.deny_unverifiable
    other_worker = []

    def deny_after_the_other_worker(session, req, **kw):
        if not other_worker:  # the other worker runs the whole job now, between our read and our write
            other_worker.append("running")
            with Session(engine, expire_on_commit=False) as second:
                other_worker.append(submission.expire_unconfirmed(second))
        return deny(session, req, **kw)

    monkeypatch.setattr(submission.verification, "deny_unverifiable", deny_after_the_other_worker)
    with app.app_context(), Session(engine, expire_on_commit=False) as first:
        assert submission.expire_unconfirmed(first) == 0  # no StaleDataError: the other one closed them
    assert other_worker == ["running", 3] and denied(app) == 3
    with app.app_context():
        assert db.session().execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.template == "denied")).scalar_one() == 3  # one denial mail each


def test_two_workers_starting_together_run_each_job_once(app, caplog):
    submit_old(app, 4)
    start = threading.Barrier(2)

    def one_worker():
        start.wait()
        worker.run_worker(app, once=True, jobs=scheduled_jobs(), deliverers=DELIVERERS)

    with caplog.at_level(logging.INFO):
        threads = [threading.Thread(target=one_worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert denied(app) == 4
    with app.app_context():
        assert db.session().execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.template == "denied")).scalar_one() == 4


def test_a_job_whose_lock_another_worker_holds_is_skipped(app):
    submit_old(app, 1)
    engine = app.extensions["db_engine"]
    with worker.job_lock(engine, "expire_unconfirmed") as mine:
        assert mine
        with worker.job_lock(engine, "expire_unconfirmed") as again:
            assert not again  # not twice, even in one process
        assert worker.run_jobs(app, scheduled_jobs()) == len(scheduled_jobs()) - 1  # all but expiry ran
        assert denied(app) == 0
    assert worker.run_jobs(app, scheduled_jobs()) == len(scheduled_jobs())
    assert denied(app) == 1


def test_a_failing_job_or_deliverer_does_not_stop_the_worker(app, caplog):
    calls = []

    def broken_job():
        raise RuntimeError("a bug in one job")

    def broken_deliverer(app, stop=None, beat=None):
        calls.append("broken")
        raise RuntimeError("the database is down")

    def counting_deliverer(app, stop=None, beat=None):
        calls.append("ok")
        return 0

    stop = worker.Stop()
    app.config["MAIL_POLL_SECONDS"] = 0.01
    thread = threading.Thread(target=worker.run_worker, args=(app,), kwargs=dict(
        jobs=[broken_job], jobs_every=0, deliverers=[broken_deliverer, counting_deliverer], stop=stop))
    thread.start()
    deadline = time.monotonic() + 10
    while calls.count("ok") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(10)
    assert not thread.is_alive() and calls.count("ok") >= 3
    messages = [r.getMessage() for r in caplog.records]
    assert any("scheduled job broken_job failed" in m for m in messages)
    assert any("delivery pass failed" in m for m in messages)


def _need(binary_dir_glob: str):
    found = sorted(Path("/").glob(binary_dir_glob))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed")


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own (scripts/test-postgres.sh), to stop and start under
    a running worker without disturbing the suite's server."""
    _need("usr/lib/postgresql/*/bin/pg_ctl")
    folder = f"/tmp/portal-pg-restart-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {**os.environ, "PORTAL_TEST_PG_DIR": folder}
    script = str(REPO / "scripts" / "test-postgres.sh")

    def run(action):
        subprocess.run([script, action, str(port)], env=env, check=True, capture_output=True, timeout=120)

    run("start")
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    try:
        yield url, run
    finally:
        subprocess.run([script, "stop", str(port)], env=env, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_worker_survives_a_postgresql_restart(own_postgres, tmp_path, caplog):
    url, run = own_postgres
    portal_db.upgrade(url)
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": url,
                      "BASE_URL": "http://portal.test", "MAIL_BACKGROUND_DELIVERY": False, "MAIL_POLL_SECONDS": 0.1,
                      "STATUS_RESPONSE_SECONDS": 0})
    mailbox = Mailbox(app)

    def queue(to):
        with app.app_context():
            from portal.services.delivery import mail
            s = db.session()
            mail.queue(s, to=to, subject="Hello", template="status_link",
                       context={"link": "http://portal.test/status/T", "reference": "PR-1", "minutes": 30})
            s.commit()

    def wait_for_mail(to, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(m["To"] == to for m in mailbox.read()):
                return True
            time.sleep(0.1)
        return False

    stop = worker.Stop()
    thread = threading.Thread(target=worker.run_worker, args=(app,), kwargs=dict(
        jobs=scheduled_jobs(), jobs_every=0.2, deliverers=DELIVERERS, stop=stop), daemon=True)
    try:
        queue("before@example.org")
        thread.start()
        assert wait_for_mail("before@example.org")
        run("stop")  # the database goes away under the running worker
        time.sleep(2)  # several passes fail meanwhile
        assert thread.is_alive()
        run("start")
        queue("after@example.org")
        assert wait_for_mail("after@example.org"), "the worker did not deliver after the restart"
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(30)
        app.extensions["db_engine"].dispose()
    assert not thread.is_alive()
    assert any("failed" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


class SlowRelay:
    """A real SMTP server whose every message takes `seconds`; `started` is set when the first arrives."""

    def __init__(self, seconds):
        from aiosmtpd.controller import Controller
        self.port, self.received, self.started = free_port(), [], threading.Event()
        relay = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                relay.started.set()
                await asyncio.sleep(seconds)
                relay.received.append(envelope.content)
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_worker_after_the_message_in_hand(app_config, app, sig):
    relay = SlowRelay(1.5)
    with app.app_context():
        from portal.services.delivery import mail
        s = db.session()
        for i in range(3):
            mail.queue(s, to=f"w{i}@example.org", subject="Hello", template="status_link",
                       context={"link": "http://portal.test/status/T", "reference": "PR-1", "minutes": 30})
        # Due whatever the worker's clock: it runs on the real one, this test may run frozen at another
        # moment (PORTAL_TEST_NOW).
        s.execute(update(OutboxMessage).values(next_attempt_at=datetime(2000, 1, 1, tzinfo=timezone.utc)))
        s.commit()
    env = {**os.environ, "PORTAL_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "PORTAL_DATABASE_URL": app_config["DATABASE_URL"], "PORTAL_SMTP_HOST": "127.0.0.1",
           "PORTAL_SMTP_PORT": str(relay.port), "PORTAL_MAIL_POLL_SECONDS": "0.1", "PORTAL_BASE_URL": "http://portal.test"}
    flask = str(Path(sys.executable).parent / "flask")
    proc = subprocess.Popen([flask, "--app", "portal", "worker"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert relay.started.wait(60), "the worker never sent"
        proc.send_signal(sig)  # while the first message is in the relay's hands
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None or not proc.stdout.closed:  # it failed before its output was read
            proc.kill()
            proc.communicate()  # reaps it and closes its pipes
        relay.stop()
    assert proc.returncode == 0, err
    assert "worker stopped" in out
    assert len(relay.received) == 1  # the message in hand was finished...
    with app.app_context():
        rows = db.session().execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("pending", 0), ("pending", 0)]  # ...and recorded
