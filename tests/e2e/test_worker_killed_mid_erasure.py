"""Issue 32: kill -9 a real `flask worker` in the middle of an erasure. The business's database is
PostgreSQL with a trigger that sleeps in `pg_sleep` while the subscriber row is deleted, so the worker
is inside its transaction (the clicks already deleted, not committed) when it dies. Nothing is
half-applied, and once a worker is back (the dead one's claim runs out: FULFIL_RUN_CLAIM_SECONDS) the
item finishes."""
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.engine import make_url

from portal import db
from portal.models import FulfilmentItem, FulfilmentRun, VerificationAttempt
from portal.services.fulfilment import approvals, runs

from ..processes import PostgresCluster
from ..support import get_case, make_staff, new_case
from ..unit.fulfilment.maps import load_generator

REPO = Path(__file__).resolve().parents[2]
TABLES = ("subscribers", "campaign_clicks")


@pytest.fixture(scope="module")
def business_server():
    """A PostgreSQL server for the business's database: the suite's own, or a cluster of our own."""
    if os.environ.get("PORTAL_TEST_DATABASE_URL"):
        yield os.environ["PORTAL_TEST_DATABASE_URL"]
        return
    cluster = PostgresCluster()
    try:
        yield cluster.start()
    finally:
        cluster.remove()


@pytest.fixture
def business(business_server, tmp_path):
    """The Billgenix example in a fresh PostgreSQL database, and its map pointing there."""
    name = f"billgenix_kill_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(business_server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A backend notices its client died within 0.2 s even inside pg_sleep (PostgreSQL 14+).
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET client_connection_check_interval = '200ms'"))
    url = make_url(business_server).set(database=name).render_as_string(hide_password=False)
    generator = load_generator()
    generator.build(tmp_path / "example", claimants=12, seed=31, database_url=url)
    generator.write_map(tmp_path / "datamap", database_url=url)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    yield engine, tmp_path / "datamap"
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _dump(engine):
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT * FROM {t} ORDER BY 1")).fetchall() for t in TABLES}


def _worker(app_config, datamap):
    env = {**os.environ, "PORTAL_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "PORTAL_DATABASE_URL": app_config["DATABASE_URL"], "PORTAL_DATAMAP_PATH": str(datamap),
           "PORTAL_MAIL_POLL_SECONDS": "0.1", "PORTAL_BASE_URL": "http://portal.test",
           "PORTAL_FULFIL_RUN_CLAIM_SECONDS": "3", "PORTAL_FULFIL_STATEMENT_TIMEOUT_MS": "60000"}
    flask = str(Path(sys.executable).parent / "flask")
    return subprocess.Popen([flask, "--app", "portal", "worker"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(what, check, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _sleeping(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                      "AND wait_event = 'PgSleep'")).scalar())


def _others(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()")).scalar()


def test_killing_the_worker_mid_erasure_leaves_nothing_half_applied_and_the_item_finishes_later(
        app_config, business, tmp_path):
    engine, datamap = business
    app_config["DATAMAP_PATH"] = str(datamap)
    from portal import create_app

    app = create_app(app_config)
    admin = make_staff(app, "admin")
    with engine.connect() as conn:
        email, subject_id = conn.execute(text(
            "SELECT s.email, c.subject_id FROM subscribers s JOIN claimants c ON c.email = s.email "
            "WHERE EXISTS (SELECT 1 FROM campaign_clicks k WHERE k.email = s.email) LIMIT 1")).one()
    req = new_case(app, "delete", "verifying", email=email)
    with app.app_context():
        s = db.session()
        s.add(VerificationAttempt(request_id=req.id, subject_key=subject_id, outcome="verified"))
        s.commit()
    with app.app_context():
        from portal.services.cases import submission, transitions
        s = db.session()
        transitions.transition(s, submission.get_by_reference(s, req.reference), "in_progress", actor="system")
        s.commit()
    with app.app_context():
        runs.run_case(db.session(), get_case(app, req.reference))  # the previews
    with app.app_context():
        s = db.session()
        marketing = s.execute(select(FulfilmentItem).where(FulfilmentItem.request_id == req.id,
                                                           FulfilmentItem.system == "billgenix_marketing")).scalar_one()
        s.rollback()
        approvals.approve(s, req=submission.get_by_reference(s, req.reference), staff=admin, item_id=marketing.id)
        # Due whatever the worker's clock (this test may run at another moment: PORTAL_TEST_NOW).
        s.execute(update(FulfilmentRun).where(FulfilmentRun.status == "pending")
                  .values(next_attempt_at=datetime(2000, 1, 1, tzinfo=timezone.utc)))
        s.commit()
    before = _dump(engine)
    assert before["campaign_clicks"] and before["subscribers"]
    with engine.connect() as conn:
        conn.execute(text("CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$ BEGIN PERFORM pg_sleep(30); RETURN OLD; END $$"))
        conn.execute(text("CREATE TRIGGER slow BEFORE DELETE ON subscribers FOR EACH ROW EXECUTE FUNCTION slow_delete()"))

    worker = _worker(app_config, datamap)
    try:
        _wait("the erasure to reach the subscriber's delete", lambda: _sleeping(engine))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    _wait("the dead worker's transaction to end", lambda: _others(engine) == 0)
    assert _dump(engine) == before  # the clicks deleted before the kill came back: nothing half-applied
    with app.app_context():
        run = db.session().execute(select(FulfilmentRun).where(FulfilmentRun.item_id == marketing.id,
                                                               FulfilmentRun.action == "erase")).scalar_one()
        assert run.status == "pending" and run.attempts == 1
        assert db.session().get(FulfilmentItem, marketing.id).state == "in_progress"

    with engine.connect() as conn:
        conn.execute(text("DROP TRIGGER slow ON subscribers"))
    worker = _worker(app_config, datamap)
    try:
        def finished():
            with app.app_context():
                return db.session().get(FulfilmentItem, marketing.id, populate_existing=True).state == "done"
        _wait("the item to finish once a worker is back", finished)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    after = _dump(engine)
    assert not [r for r in after["subscribers"] if r in before["subscribers"] and email in r]
    assert len(after["campaign_clicks"]) < len(before["campaign_clicks"])
    with app.app_context():
        item = db.session().get(FulfilmentItem, marketing.id)
        run = db.session().get(FulfilmentRun, run.id)
    assert item.detail["evidence"]["ok"] is True and item.detail["evidence"]["found_applied"] is False
    assert run.status == "done" and run.attempts == 2
    app.extensions["db_engine"].dispose()
