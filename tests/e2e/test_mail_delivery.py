"""Mail through a real SMTP server on loopback: delivery, an outage, a restart, several deliverers."""
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock, create_app, db
from portal.models import OutboxMessage
from portal.services.delivery import mail as mail_service

from ..support import body, post_form, request_form


@pytest.fixture
def quick_retries(app_config):
    app_config.update(SMTP_TIMEOUT=2, MAIL_RETRY_BASE_SECONDS=1)
    return app_config


def outbox_rows(app):
    with app.app_context():
        return db.session().execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()


def test_every_request_type_mails_through_smtp(quick_retries, smtp_server, app, client):
    for i, kind in enumerate(["access", "delete", "correct", "opt_out", "limit"]):
        assert post_form(client, "/requests/new", request_form(kind, email=f"p{i}@example.org")).status_code == 303
    assert mail_service.deliver_for_app(app) == 5
    received = smtp_server.wait_for(5)
    assert sorted(m["To"] for m in received) == [f"p{i}@example.org" for i in range(5)]
    for message in received:
        assert message["From"] == "privacy@billgenix.example" and message["Message-ID"]
        assert message.get_body(preferencelist=("html",)).get_content().lstrip().startswith("<!doctype html>")
        assert "http://portal.test/" in body(message)
    assert mail_service.deliver_for_app(app) == 0 and len(smtp_server.received) == 5


def test_an_smtp_outage_loses_nothing_and_sends_nothing_twice(quick_retries, smtp_server, app, client):
    smtp_server.stop()
    for i in range(3):  # the mail server is down: submissions are still accepted
        assert post_form(client, "/requests/new", request_form("opt_out", email=f"o{i}@example.org")).status_code == 303
    assert mail_service.deliver_for_app(app) == 0
    rows = outbox_rows(app)
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1)] * 3
    assert all(r.last_error and r.next_attempt_at > clock.now() for r in rows)
    assert mail_service.deliver_for_app(app) == 0  # backing off: not retried at once
    assert all(r.attempts == 1 for r in outbox_rows(app))

    smtp_server.start()  # the server comes back
    later = clock.now() + timedelta(minutes=5)
    assert mail_service.deliver_for_app(app, now=later) == 3
    assert mail_service.deliver_for_app(app, now=later + timedelta(hours=1)) == 0
    received = smtp_server.wait_for(3)
    assert sorted(m["To"] for m in received) == ["o0@example.org", "o1@example.org", "o2@example.org"]
    assert len({m["Message-ID"] for m in received}) == 3
    assert {r.status for r in outbox_rows(app)} == {"sent"}


def test_queued_mail_survives_a_restart(quick_retries, smtp_server, app, client):
    smtp_server.stop()
    post_form(client, "/requests/new", request_form("limit"))
    app.extensions["db_engine"].dispose()  # the process goes away before delivering
    restarted = create_app(quick_retries)
    smtp_server.start()
    assert mail_service.deliver_for_app(restarted) == 1
    assert [m["To"] for m in smtp_server.wait_for(1)] == ["ana.ruiz@example.org"]
    restarted.extensions["db_engine"].dispose()


def test_the_running_app_delivers_within_five_seconds(quick_retries, smtp_server):
    app = create_app({**quick_retries, "MAIL_BACKGROUND_DELIVERY": True, "MAIL_POLL_SECONDS": 0.5})
    client = app.test_client()
    started = time.monotonic()
    post_form(client, "/requests/new", request_form("opt_out"))
    assert smtp_server.wait_for(1, timeout=5), "no mail within 5 s"
    assert time.monotonic() - started < 5
    app.extensions["mail_delivery"].stop()
    app.extensions["db_engine"].dispose()


def test_the_worker_command_delivers(quick_retries, smtp_server, app, client, runner):
    post_form(client, "/requests/new", request_form("access"))
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Confirm your privacy request"


def test_two_deliverers_side_by_side_send_each_mail_once(quick_retries, smtp_server, app, client):
    app.config["RATELIMIT_SUBMIT"] = "1000 per hour"
    for i in range(12):
        post_form(client, "/requests/new", request_form("opt_out", email=f"d{i}@example.org"))
    counts = []
    threads = [threading.Thread(target=lambda: counts.append(mail_service.deliver_for_app(app))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # A pass stops at its time limit (a slow, loaded machine): the next pass sends what is left, once.
    assert sum(counts) + mail_service.deliver_for_app(app) == 12
    received = smtp_server.wait_for(12)
    time.sleep(0.3)
    assert len(smtp_server.received) == 12 and len({m["To"] for m in received}) == 12


def test_a_permanent_refusal_is_not_retried_forever(quick_retries, smtp_server, app, client):
    from aiosmtpd.controller import Controller

    class Refuser:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 no such user"

    smtp_server.stop()  # a server that refuses every recipient takes its place
    refuser = Controller(Refuser(), hostname="127.0.0.1", port=smtp_server.port)
    refuser.start()
    try:
        post_form(client, "/requests/new", request_form("opt_out"))
        mail_service.deliver_for_app(app)
    finally:
        refuser.stop()
    [row] = outbox_rows(app)
    assert row.status == "failed" and "550" in row.last_error
