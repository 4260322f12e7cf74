"""Every channel retries for the one DELIVERY_RETRY_FOR_SECONDS, and a failed notice or DRP callback
is seen: the admins' banner and digest, /readyz, /metrics, and a retry command. A mail server that
does not answer in time is named as such at once, and a successful send after an outage makes the
waiting rows due now."""
import socket
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock, create_app, db
from portal.models import DrpCallback, OutboxMessage, WebhookDelivery
from portal.services.delivery import mail, outbox, webhooks
from portal.services.drp import callbacks

from ..support import make_staff, sign_in

DAY = 24 * 3600


def _add(app, row):
    """Store a row in an app context of its own (a request in the test client then has its own session)."""
    with app.app_context():
        s = db.session()
        s.add(row)
        s.commit()
        s.refresh(row)
        s.expunge(row)
    return row


def _webhook(app, status="pending", **kw) -> WebhookDelivery:
    return _add(app, WebhookDelivery(topic="notice", url="https://receiver.example/hook", secret="x",
                                     idempotency_key=uuid.uuid4().hex, body="{}", status=status, **kw))


def _callback(app, subject="S-1", status="pending", **kw) -> DrpCallback:
    return _add(app, DrpCallback(delivery_id=str(uuid.uuid4()), kind="drp_status", subject=subject,
                                 url="https://agent.example/cb", body="{}", status=status, **kw))


def _fail_once(app, channel, row, *, attempts: int, hours_after_queuing: float) -> str:
    """Record one passing failure of `row` at its `attempts`-th try, that long after it was queued."""
    with app.app_context():
        s = db.session()
        row.attempts = attempts
        outbox.record_failure(s, channel, row, outbox.Failure(permanent=False, error="HTTP 503"),
                              now=row.created_at + timedelta(hours=hours_after_queuing))
        return s.get(type(row), row.id, populate_existing=True).status


def test_one_retry_period_covers_every_channel_and_the_old_key_still_counts(app_config, tmp_path):
    app = create_app(app_config)
    assert app.config["DELIVERY_RETRY_FOR_SECONDS"] == app.config["MAIL_RETRY_FOR_SECONDS"] == 7 * DAY
    assert webhooks.channel(app.config).retry_for == callbacks.channel(app.config).retry_for == 7 * DAY
    assert webhooks.channel(app.config).max_attempts is None and callbacks.channel(app.config).max_attempts is None
    same_keys = {"SECRET_KEY": app.config["SECRET_KEY"], "SUBJECT_HASH_KEY": app.config["SUBJECT_HASH_KEY"]}
    old = create_app(dict(app_config, MAIL_RETRY_FOR_SECONDS=3600, INSTANCE_PATH=str(tmp_path / "old"), **same_keys))
    assert old.config["DELIVERY_RETRY_FOR_SECONDS"] == 3600 and webhooks.channel(old.config).retry_for == 3600
    new = create_app(dict(app_config, DELIVERY_RETRY_FOR_SECONDS=600, MAIL_RETRY_FOR_SECONDS=3600,
                          INSTANCE_PATH=str(tmp_path / "new"), **same_keys))
    assert new.config["MAIL_RETRY_FOR_SECONDS"] == 600 == mail.channel(new.config, tmp_path).retry_for
    for started in (app, old, new):
        started.extensions["db_engine"].dispose()


def test_a_receiver_down_for_hours_is_retried_for_the_whole_period_then_failed(app):
    hook, callback = _webhook(app), _callback(app)
    hook_channel, callback_channel = webhooks.channel(app.config), callbacks.channel(app.config)
    # Past the old limits (30 attempts, about 5.6 hours; 60 attempts, about 13 hours): still pending.
    assert _fail_once(app, hook_channel, hook, attempts=31, hours_after_queuing=6) == "pending"
    assert _fail_once(app, callback_channel, callback, attempts=61, hours_after_queuing=14) == "pending"
    assert _fail_once(app, hook_channel, hook, attempts=700, hours_after_queuing=24 * 7) == "failed"
    assert _fail_once(app, callback_channel, callback, attempts=700, hours_after_queuing=24 * 7) == "failed"


def _ready(client):
    resp = client.get("/readyz")
    return resp.status_code, resp.get_json()["checks"]


def test_failed_notices_and_callbacks_turn_readiness_503_raise_the_banner_and_show_in_metrics(app, client):
    sign_in(client, make_staff(app, "admin"))
    status, checks = _ready(client)
    assert checks["failed_webhooks"] == {"ok": True, "value": 0, "threshold": 0}
    assert checks["failed_drp_callbacks"] == {"ok": True, "value": 0, "threshold": 0}
    assert "could not be delivered" not in client.get("/staff/").get_data(as_text=True)
    _webhook(app, status="failed", last_error="HTTP 503")
    _callback(app, status="failed", last_error="HTTP 503")
    status, checks = _ready(client)
    assert status == 503
    assert checks["failed_webhooks"]["ok"] is False and checks["failed_webhooks"]["value"] == 1
    assert checks["failed_drp_callbacks"]["ok"] is False and checks["failed_drp_callbacks"]["value"] == 1
    html = client.get("/staff/").get_data(as_text=True)
    assert "mail-alert" in html
    assert "1 notice to a recipient could not be delivered" in html and "notices retry --failed" in html
    assert "1 DRP status callback could not be delivered" in html
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'portal_delivery_failed{channel="webhooks"} 1.0' in metrics
    assert 'portal_delivery_failed{channel="drp_callbacks"} 1.0' in metrics
    assert 'portal_delivery_failed{channel="mail"} 0.0' in metrics


def test_the_daily_digest_tells_admins_about_failed_notices(app, mailbox):
    from portal.services.staff import digest
    make_staff(app, "admin")
    app.config["STAFF_DIGEST_HOUR"] = 0
    _webhook(app, status="failed", last_error="HTTP 500")
    with app.app_context():
        assert digest.send_daily_digests(db.session()) == 1
    [message] = [m for m in mailbox.messages if m["To"] == "admin@billgenix.example"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "1 notice to a recipient could not be delivered" in text


def test_notices_and_callbacks_retry_failed_sends_them_again_with_a_new_period(app, runner):
    hook = _webhook(app, status="failed", attempts=9, created_at=clock.now() - timedelta(days=8))
    old = _callback(app, subject="S-1", status="failed")
    latest = _callback(app, subject="S-2", status="failed")
    _callback(app, subject="S-1", status="sent")  # S-1 has a newer state: its failed one is not sent again
    result = runner.invoke(args=["notices", "retry", "--failed"])
    assert result.exit_code == 0, result.output
    assert "1 failed notices queued again" in result.output
    result = runner.invoke(args=["drp", "callbacks", "retry", "--failed"])
    assert result.exit_code == 0 and "1 failed callbacks queued again" in result.output
    with app.app_context():
        s = db.session()
        hook = s.get(WebhookDelivery, hook.id)
        s.expunge(hook)
        assert hook.status == "pending" and hook.retry_from is not None
        assert s.get(DrpCallback, old.id).status == "failed"
        assert s.get(DrpCallback, latest.id).status == "pending"
    # The new period counts from the retry, not from the queuing eight days ago.
    assert _fail_once(app, webhooks.channel(app.config), hook, attempts=10, hours_after_queuing=8 * 24 + 1) == "pending"


class _SilentRelay:
    """A TCP server that accepts and never answers: an SMTP relay slower than SMTP_TIMEOUT."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_a_relay_that_does_not_answer_in_time_is_named_at_once(app_config, request):
    relay = _SilentRelay()
    request.addfinalizer(relay.close)
    app_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=relay.port, SMTP_TIMEOUT=0.3)
    app = create_app(app_config)
    request.addfinalizer(app.extensions["db_engine"].dispose)
    client = app.test_client()
    sign_in(client, make_staff(app, "admin"))
    with app.app_context():
        mail.queue(db.session(), to="someone@example.org", subject="Your request", template="status_link",
                   context={"link": "http://portal.test/status/T", "reference": "PR-1", "minutes": 30})
        db.session().commit()
    assert _ready(client)[1]["mail_server_answers"] == {"ok": True, "value": True}
    mail.deliver_for_app(app)  # one pass: the relay never answers
    with app.app_context():
        [row] = db.session().execute(select(OutboxMessage)).scalars().all()
    assert row.status == "pending" and row.last_error.startswith("timeout:")
    status, checks = _ready(client)
    assert status == 503
    assert checks["mail_server_answers"] == {"ok": False, "value": False,
                                             "detail": "the mail server does not answer in time"}
    assert "the mail server does not answer in time" in client.get("/staff/").get_data(as_text=True)
    assert "portal_mail_server_timing_out 1.0" in client.get("/metrics").get_data(as_text=True)


def test_a_successful_send_after_an_outage_makes_the_waiting_rows_due_now(app, session, mailbox):
    later = clock.now() + timedelta(minutes=15)
    for i in range(3):
        mail.queue(session, to=f"w{i}@example.org", subject="Your request", template="status_link",
                   context={"link": "http://portal.test/status/T", "reference": "PR-1", "minutes": 30})
    session.commit()
    rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
    for row in rows[1:]:  # backed off during the outage: their next attempt is far off
        row.attempts, row.next_attempt_at, row.last_error = 6, later, "ConnectionRefusedError"
    session.commit()
    # The only due one goes: the mail server is back, so the two waiting ones are made due and go in the same pass.
    assert mailbox.deliver() == 3
    session.expire_all()
    assert not session.execute(select(OutboxMessage).where(OutboxMessage.status == "pending")).scalars().all()


@pytest.mark.parametrize("value", ["", "none"])
def test_the_old_attempt_limits_read_none_from_the_environment(app_config, tmp_path, value):
    app = create_app(dict(app_config, WEBHOOK_MAX_ATTEMPTS=value, DRP_CALLBACK_MAX_ATTEMPTS="12",
                          INSTANCE_PATH=str(tmp_path / value)))
    assert app.config["WEBHOOK_MAX_ATTEMPTS"] is None and app.config["DRP_CALLBACK_MAX_ATTEMPTS"] == 12
    app.extensions["db_engine"].dispose()
