"""Readiness (/readyz): each failure the operator must hear about turns it 503, with real parts:
a real worker pass and delivery thread for the heartbeat, real submissions for the mail, a real
PostgreSQL server stopped and started; time moved with time-machine for the ages."""
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from portal import clock, create_app
from portal import db as portal_db
from portal.models import OutboxMessage, WorkerHeartbeat
from portal.services.delivery import heartbeat, mail, worker

from ..processes import PostgresCluster
from ..support import Mailbox, post_form, request_form

CHECKS = {"database", "worker_heartbeat_age_seconds", "oldest_pending_mail_age_seconds", "failed_mail",
          "webhook_backlog", "failed_webhooks", "failed_drp_callbacks", "mail_server_answers", "storage_free_mb"}


def ready(client):
    resp = client.get("/readyz")
    assert resp.mimetype == "application/json"
    return resp.status_code, resp.get_json()


def failing(body) -> set[str]:
    return {name for name, check in body["checks"].items() if not check["ok"]}


def test_every_check_passes_and_is_listed_with_its_threshold(app, client):
    heartbeat.beat(app.extensions["db_engine"], "worker")
    status, body = ready(client)
    assert status == 200 and body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    assert body["checks"]["database"] == {"ok": True, "value": True}
    assert body["checks"]["failed_mail"] == {"ok": True, "value": 0, "threshold": 0}
    assert body["checks"]["oldest_pending_mail_age_seconds"]["threshold"] == 1800
    assert body["checks"]["worker_heartbeat_age_seconds"]["threshold"] == 120
    assert body["checks"]["webhook_backlog"] == {"ok": True, "value": 0, "threshold": 1000}


def test_a_dead_worker_turns_it_503_once_its_heartbeat_is_older_than_the_threshold(app, client):
    with time_machine.travel(clock.now(), tick=False) as traveller:
        worker.run_worker(app, once=True, deliverers=(mail.deliver_for_app,))  # a real worker pass: it delivers, then beats
        assert ready(client)[0] == 200
        traveller.shift(timedelta(seconds=120))
        assert ready(client)[0] == 200
        traveller.shift(timedelta(seconds=1))  # the worker died: no beat for 121 s
        status, body = ready(client)
    assert status == 503 and body["status"] == "unavailable"
    assert failing(body) == {"worker_heartbeat_age_seconds"}
    assert body["checks"]["worker_heartbeat_age_seconds"] == {"ok": False, "value": 121.0, "threshold": 120}


def test_a_pass_of_slow_sends_keeps_beating_so_readiness_does_not_call_the_worker_dead(app, client, monkeypatch):
    """Fifty sends to a relay that takes its time outlast the 120 s readiness waits for a beat: the
    worker beats between rows, not only after the pass."""
    with app.app_context():
        for i in range(6):
            mail.queue(portal_db.session(), to=f"slow{i}@example.org", subject="Your request", template="status_link",
                       context={"link": "http://portal.test/status/TOKEN", "reference": "PR-0000-0000", "minutes": 30})
        portal_db.session().commit()
    seen = []
    with time_machine.travel(clock.now(), tick=False) as traveller:
        real_send = mail._send

        def slow_send(cfg, outbox_dir, msg, row):
            traveller.shift(timedelta(seconds=50))  # a relay that answers each message after 50 s
            seen.append(ready(client)[0])
            real_send(cfg, outbox_dir, msg, row)

        monkeypatch.setattr(mail, "_send", slow_send)
        worker.run_worker(app, once=True, deliverers=(mail.deliver_for_app,))
    assert len(seen) == 6 and set(seen) == {200}, seen  # 300 s in one pass, never 120 s without a beat


def test_thresholds_come_from_config(app_config, request):
    app_config.update(READY_MAX_WORKER_AGE_SECONDS=30, READY_MAX_FAILED_MAIL=2)
    app = request.getfixturevalue("app")
    client = app.test_client()
    with time_machine.travel(clock.now(), tick=False) as traveller:
        heartbeat.beat(app.extensions["db_engine"], "worker")
        traveller.shift(timedelta(seconds=31))
        status, body = ready(client)
    assert status == 503 and body["checks"]["worker_heartbeat_age_seconds"]["threshold"] == 30
    assert body["checks"]["failed_mail"]["threshold"] == 2


def test_thresholds_have_environment_overrides(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("PORTAL_DATABASE_URL", database_url)
    monkeypatch.setenv("PORTAL_READY_MAX_PENDING_MAIL_AGE_SECONDS", "600")
    monkeypatch.setenv("PORTAL_READY_MAX_FAILED_MAIL", "5")
    monkeypatch.setenv("PORTAL_METRICS_ALLOWED_NETWORKS", "10.0.0.0/8, 192.168.0.0/16")
    app = create_app()
    try:
        assert app.config["READY_MAX_PENDING_MAIL_AGE_SECONDS"] == 600 and app.config["READY_MAX_FAILED_MAIL"] == 5
        assert app.config["METRICS_ALLOWED_NETWORKS"] == ["10.0.0.0/8", "192.168.0.0/16"]
    finally:
        app.extensions["db_engine"].dispose()


def test_without_any_heartbeat_a_fresh_start_has_the_thresholds_grace_then_503(app, client):
    started = app.extensions["ops_started_at"]
    with time_machine.travel(started + timedelta(seconds=60), tick=False):
        assert ready(client)[0] == 200
    with time_machine.travel(started + timedelta(seconds=121), tick=False):
        status, body = ready(client)
    assert status == 503 and failing(body) == {"worker_heartbeat_age_seconds"}


def test_the_web_process_delivery_thread_beats_and_its_death_shows(app_config):
    """`make run`'s default: no separate worker, the web process delivers in a thread, which beats."""
    app_config.update(MAIL_BACKGROUND_DELIVERY=True, MAIL_POLL_SECONDS=0.05)
    app = create_app(app_config)
    try:
        client = app.test_client()
        assert client.get("/").status_code == 200  # the first request starts the delivery thread
        engine = app.extensions["db_engine"]
        deadline = clock.now() + timedelta(seconds=20)
        while clock.now() < deadline:
            with engine.connect() as conn:
                rows = conn.execute(select(WorkerHeartbeat.name, WorkerHeartbeat.process)).all()
            if rows:
                break
        assert [name for name, _ in rows] == ["web"] and rows[0][1] == heartbeat.process_id()
        assert ready(client)[0] == 200
        app.extensions["mail_delivery"].stop()  # the thread dies
        with time_machine.travel(clock.now() + timedelta(minutes=3), tick=False):
            status, body = ready(client)
        assert status == 503 and failing(body) == {"worker_heartbeat_age_seconds"}
    finally:
        app.extensions["mail_delivery"].stop()
        engine.dispose()


def test_mail_pending_for_hours_turns_it_503_until_delivered(app, client):
    with time_machine.travel(clock.now(), tick=False) as traveller:
        assert post_form(client, "/requests/new", request_form("delete")).status_code == 303  # mail queued
        heartbeat.beat(app.extensions["db_engine"], "worker")
        assert ready(client)[0] == 200
        traveller.shift(timedelta(hours=3))  # nobody delivered it for three hours
        heartbeat.beat(app.extensions["db_engine"], "worker")  # the worker is alive: only the mail is late
        status, body = ready(client)
        assert status == 503 and failing(body) == {"oldest_pending_mail_age_seconds"}
        assert body["checks"]["oldest_pending_mail_age_seconds"] == {"ok": False, "value": 10800.0,
                                                                     "threshold": 1800}
        assert Mailbox(app).deliver() == 1
        assert ready(client)[0] == 200


def test_a_failed_mail_turns_it_503(app, client):
    assert post_form(client, "/requests/new", request_form("delete")).status_code == 303
    Mailbox(app).deliver()
    heartbeat.beat(app.extensions["db_engine"], "worker")
    assert ready(client)[0] == 200
    # The state the deliverer leaves a mail in when it gives up (how it gets there is the mail tests' business).
    with app.extensions["db_engine"].begin() as conn:
        conn.execute(update(OutboxMessage).values(status="failed"))
    status, body = ready(client)
    assert status == 503 and failing(body) == {"failed_mail"}
    assert body["checks"]["failed_mail"] == {"ok": False, "value": 1, "threshold": 0}


def test_a_stopped_postgresql_turns_readyz_and_healthz_503_and_recovery_brings_them_back(tmp_path):
    cluster = PostgresCluster()
    try:
        url = cluster.start()
        portal_db.upgrade(url)
        app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": url,
                          "MAIL_BACKGROUND_DELIVERY": False})
        client = app.test_client()
        heartbeat.beat(app.extensions["db_engine"], "worker")
        assert ready(client)[0] == 200
        cluster.stop()
        status, body = ready(client)
        assert status == 503 and body["checks"]["database"]["ok"] is False
        assert failing(body) == CHECKS - {"storage_free_mb"}  # the others cannot be read either; the disk can
        assert body["checks"]["failed_mail"]["value"] is None
        assert client.get("/healthz").status_code == 503
        cluster.start()
        assert ready(client)[0] == 200 and client.get("/healthz").status_code == 200
        app.extensions["db_engine"].dispose()
    finally:
        cluster.remove()


def test_readyz_is_json_for_operators_not_a_page(client):
    resp = client.get("/readyz?lang=es", headers={"Accept-Language": "es"})
    assert resp.mimetype == "application/json" and "portal_consent_id" not in resp.headers.get("Set-Cookie", "")
    assert resp.headers["Cache-Control"].startswith("no-store")
    assert resp.headers["X-Request-Id"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_readyz_answers_only_get(client, method):
    assert getattr(client, method)("/readyz").status_code == 405
