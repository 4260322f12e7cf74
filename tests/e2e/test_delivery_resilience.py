"""Issue 16, mail delivery: an SMTP outage with six deliverers side by side drains soon after the
server is back and sends every message once; a slow relay sends nothing twice; passing failures
are retried for MAIL_RETRY_FOR_SECONDS, then failed and alerted, and `mail retry --failed` sends
them; the claim re-checks that a row is due. Runs on SQLite and on PostgreSQL (PORTAL_TEST_DATABASE_URL)."""
import asyncio
import email
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock, db
from portal.models import OutboxMessage
from portal.services.delivery import mail as mail_service
from portal.services.delivery import outbox

from ..support import SMTPSink, make_staff, sign_in

CAP = 3.0  # the capped backoff interval in these tests (MAIL_RETRY_MAX_SECONDS)


@pytest.fixture
def small_retries(app_config):
    app_config.update(SMTP_TIMEOUT=2, MAIL_RETRY_BASE_SECONDS=0.5, MAIL_RETRY_MAX_SECONDS=CAP, MAIL_POLL_SECONDS=0.05)
    return app_config


def queue(app, count, prefix="m"):
    with app.app_context():
        s = db.session()
        for i in range(count):
            mail_service.queue(s, to=f"{prefix}{i}@example.org", subject="Your request", template="status_link",
                               context={"link": "http://portal.test/status/TOKEN", "reference": "PR-0000-0000",
                                        "minutes": 30})
        s.commit()


def rows(app):
    with app.app_context():
        return db.session().execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()


class Deliverers:
    """`n` deliverers polling the outbox side by side, as n workers would (threads, one database)."""

    def __init__(self, app, n):
        self.app, self.stop, self.errors = app, threading.Event(), []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]
        self.gate = threading.Semaphore(n)  # pause(): take every permit, so no pass runs meanwhile
        self.n = n

    def _run(self):
        while not self.stop.is_set():
            with self.gate:
                try:
                    mail_service.deliver_for_app(self.app)
                except Exception as exc:  # noqa: BLE001  reported by the test
                    self.errors.append(exc)
            self.stop.wait(self.app.config["MAIL_POLL_SECONDS"])

    def pause(self):
        for _ in range(self.n):
            self.gate.acquire()

    def resume(self):
        for _ in range(self.n):
            self.gate.release()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)


def wait_until(predicate, timeout=60.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.mark.parametrize("deliverers", [1, 6])
def test_an_smtp_outage_drains_within_two_backoff_intervals_and_sends_each_mail_once(small_retries, app, deliverers):
    server = SMTPSink()  # the mail server is down: nothing listens on its port
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port)
    queue(app, 30)
    with Deliverers(app, deliverers) as running:
        outage_started = time.monotonic()
        assert wait_until(lambda: all(r.attempts >= 3 for r in rows(app)), timeout=60)
        outage = time.monotonic() - outage_started
        running.pause()  # between two passes: the state at the moment the server comes back
        during = {r.id: r for r in rows(app)}
        server.start()
        recovered = clock.now()
        running.resume()
        try:
            assert wait_until(lambda: all(r.status == "sent" for r in rows(app)), timeout=60)
            time.sleep(3 * small_retries["MAIL_POLL_SECONDS"])
        finally:
            server.stop()
    assert not running.errors
    after = rows(app)
    received = Counter(m["Message-ID"] for m in server.received)
    assert len(received) == 30 and set(received.values()) == {1}, "each message exactly once"
    assert set(received) == {r.message_id for r in after}  # the Message-ID stored at queue time
    # Each message was due again within one capped interval of the server's return, went out at its
    # first attempt after it, not before it was due, and all within two capped backoff intervals
    # (the claim race had the other deliverers retry a failed message at once, pushing its next
    # attempt ever later: 892 s to drain after a 188 s outage with 6 deliverers).
    for r in after:
        assert during[r.id].next_attempt_at <= recovered + timedelta(seconds=CAP)
        # Not before the server's return; possibly before its own backoff ran out: the first
        # successful send makes the waiting rows due at once (outbox.hurry).
        assert r.attempts == during[r.id].attempts + 1 and r.sent_at >= recovered
    assert max(r.sent_at for r in after) - recovered <= timedelta(seconds=2 * CAP)
    # No attempt before its backoff (0.5 s, 1 s, 2 s, then the cap): attempts do not grow with deliverers.
    assert max(r.attempts for r in during.values()) <= 4 + outage / CAP
    assert all(r.last_error is None and r.text_body == "" for r in after)


def test_a_slow_relay_with_several_deliverers_sends_nothing_twice(small_retries, app, monkeypatch):
    """Each claim is stamped when it is taken: a pass longer than a claim (claims of 2 s; 0.3 s a
    mail, 30 mails, 3 deliverers: about 3 s a pass) no longer hands out claims that have already run out."""
    from aiosmtpd.controller import Controller
    received = []

    class Slow:
        async def handle_DATA(self, server, session, envelope):
            await asyncio.sleep(0.3)
            received.append(envelope.content)
            return "250 OK"

    port = SMTPSink().port
    controller = Controller(Slow(), hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    monkeypatch.setattr(outbox, "claim_seconds", lambda timeout: 2)  # claims of 2 s, shorter than a pass
    queue(app, 30)
    try:
        with Deliverers(app, 3) as running:
            assert wait_until(lambda: all(r.status == "sent" for r in rows(app)), timeout=60)
            time.sleep(0.5)
    finally:
        controller.stop()
    assert not running.errors
    ids = Counter(email.message_from_bytes(c)["Message-ID"] for c in received)
    assert len(ids) == 30 and max(ids.values()) == 1, f"duplicates: {[k for k, v in ids.items() if v > 1]}"
    assert {r.attempts for r in rows(app)} == {1}


def test_a_claim_rechecks_that_the_row_is_due(app):
    """The race of issue 16: a deliverer that listed a row before another failed it and set its
    backoff must not claim it again at once."""
    queue(app, 1)
    channel = mail_service.channel(app.config, None)
    with app.app_context():
        s = db.session()
        [row] = s.execute(select(OutboxMessage)).scalars().all()
        s.rollback()
        row_id, claimed = outbox.claim_one(s, channel)
        assert claimed is not None and claimed.id == row.id and claimed.attempts == 1
        outbox.record_failure(s, channel, claimed, outbox.Failure(permanent=False, error="OSError: down"))
        assert outbox.claim_one(s, channel) == (None, None)  # backing off: not due
        # Due again once its backoff has passed (a fresh clock at each claim).
        later = clock.now() + timedelta(seconds=app.config["MAIL_RETRY_BASE_SECONDS"] + 1)
        assert outbox.claim_one(s, channel, now=later)[1] is not None
        assert outbox.claim_one(s, channel, now=later) == (None, None)  # claimed: not twice


def test_passing_failures_are_retried_for_the_retry_period_then_failed_and_kept(small_retries, app):
    server = SMTPSink()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, MAIL_RETRY_FOR_SECONDS=3600)
    queue(app, 1)
    assert mail_service.deliver_for_app(app) == 0
    [row] = rows(app)
    assert (row.status, row.attempts) == ("pending", 1)
    # Long past any attempt count (the old MAIL_MAX_ATTEMPTS gave up after 60), still retried.
    with app.app_context():
        s = db.session()
        s.get(OutboxMessage, row.id).attempts = 500
        s.commit()
    assert mail_service.deliver_for_app(app, now=clock.now() + timedelta(minutes=5)) == 0
    [row] = rows(app)
    assert (row.status, row.attempts) == ("pending", 501)
    with app.app_context():  # queued more than an hour ago: this failure is its last
        s = db.session()
        s.get(OutboxMessage, row.id).created_at = clock.now() - timedelta(hours=2)
        s.commit()
    assert mail_service.deliver_for_app(app, now=clock.now() + timedelta(minutes=10)) == 0
    [row] = rows(app)
    assert row.status == "failed" and "TOKEN" in row.text_body  # kept, to be sent again by `mail retry --failed`


def test_the_old_max_attempts_setting_still_gives_up(small_retries, app):
    server = SMTPSink()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, MAIL_MAX_ATTEMPTS=1)
    queue(app, 1)
    assert mail_service.deliver_for_app(app) == 0
    assert [r.status for r in rows(app)] == ["failed"]


def test_mail_retry_sends_failed_mail_again_with_its_message_id(small_retries, smtp_server, app, runner):
    smtp_server.stop()
    app.config["MAIL_RETRY_FOR_SECONDS"] = 0  # the first passing failure is the last
    queue(app, 2)
    with app.app_context():  # and one that can never be built (its text is dropped when it fails)
        s = db.session()
        mail_service.queue(s, to="poison@example.org", subject="Broken\r\nBcc: x@example.org", template="status_link",
                           context={"link": "http://portal.test/status/T", "reference": "PR-1", "minutes": 30})
        s.commit()
    mail_service.deliver_for_app(app)
    assert [r.status for r in rows(app)] == ["failed"] * 3
    ids = [r.message_id for r in rows(app)]

    result = runner.invoke(args=["mail", "retry"])
    assert result.exit_code == 0 and "0 pending messages due now" in result.output
    assert [r.status for r in rows(app)] == ["failed"] * 3
    app.config["MAIL_RETRY_FOR_SECONDS"] = 3600
    result = runner.invoke(args=["mail", "retry", "--failed"])
    assert result.exit_code == 0, result.output
    assert "2 failed messages queued again; 1 cannot be sent again" in result.output
    smtp_server.start()
    assert mail_service.deliver_for_app(app) == 2
    got = smtp_server.wait_for(2)
    assert sorted(m["Message-ID"] for m in got) == sorted(ids[:2])
    assert [r.status for r in rows(app)] == ["sent", "sent", "failed"]


def test_mail_retry_makes_pending_mail_due_now(small_retries, app, runner):
    server = SMTPSink()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port)
    queue(app, 1)
    mail_service.deliver_for_app(app)
    assert rows(app)[0].next_attempt_at > clock.now()
    result = runner.invoke(args=["mail", "retry"])
    assert result.exit_code == 0 and "1 pending messages due now" in result.output
    assert rows(app)[0].next_attempt_at <= clock.now()


def test_admins_see_a_banner_when_mail_failed_or_waits_too_long(app, client, mailbox):
    admin, support = make_staff(app, "admin"), make_staff(app, "support")
    sign_in(client, admin)
    assert "mail-alert" not in client.get("/staff/").get_data(as_text=True)
    queue(app, 1)  # pending, but not for long
    assert "mail-alert" not in client.get("/staff/").get_data(as_text=True)
    with app.app_context():
        s = db.session()
        s.execute(OutboxMessage.__table__.update().values(created_at=clock.now() - timedelta(hours=3)))
        s.commit()
    html = client.get("/staff/").get_data(as_text=True)
    assert "mail-alert" in html and "waiting for 3 hours" in html and "/staff/admin/outbox" in html
    mailbox.deliver()
    assert "mail-alert" not in client.get("/staff/").get_data(as_text=True)
    with app.app_context():
        s = db.session()
        mail_service.queue(s, to="poison@example.org", subject="Broken\r\nsubject", template="status_link",
                           context={"link": "http://portal.test/status/T", "reference": "PR-1", "minutes": 30})
        s.commit()
    mailbox.deliver()
    html = client.get("/staff/").get_data(as_text=True)
    assert "mail-alert" in html and "1 message could not be delivered" in html
    other = app.test_client()
    sign_in(other, support)
    assert "mail-alert" not in other.get("/staff/").get_data(as_text=True)


def test_the_daily_digest_tells_admins_about_failed_mail(app, mailbox):
    from portal.services.staff import digest
    make_staff(app, "admin")
    make_staff(app, "support")
    app.config["STAFF_DIGEST_HOUR"] = 0
    with app.app_context():
        s = db.session()
        mail_service.queue(s, to="poison@example.org", subject="Broken\r\nsubject", template="status_link",
                           context={"link": "http://portal.test/status/T", "reference": "PR-1", "minutes": 30})
        s.commit()
    mailbox.deliver()  # fails for good
    with app.app_context():  # no case is due: only the admin, for the mail, gets a digest
        assert digest.send_daily_digests(db.session()) == 1
    [digest] = [m for m in mailbox.messages if m["To"] == "admin@billgenix.example"]
    text = digest.get_body(preferencelist=("plain",)).get_content()
    assert "Outgoing mail needs attention: 1 message could not be delivered" in text and "/staff/admin/outbox" in text
    assert not [m for m in mailbox.read() if m["To"] == "support@billgenix.example"]
