"""Notices downstream by webhook to a real HTTP server on loopback: the receiver checks the signature
and applies each notice once; a 500 and a timeout are retried; a restart in between loses nothing."""
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from portal import clock, create_app, db
from portal.models import DownstreamNotice, PrivacyRequest, WebhookDelivery
from portal.services.cases import notices
from portal.services.delivery import webhooks

from ..support import new_case

SECRET = "receiver and portal share this secret, 40+"


class Receiver:
    """A recipient's endpoint: refuses bad signatures (401), applies each idempotency key once, and
    answers each request as the next scripted behaviour says ("ok", "500", "slow": apply, then stall)."""

    def __init__(self, behaviours=()):
        self.behaviours = list(behaviours)
        self.applied: list[dict] = []  # what the recipient acted on
        self.seen_keys: set[str] = set()
        self.requests: list[tuple[int, str]] = []  # (answer, idempotency key) per request
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/privacy-notices"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, http):
        body = http.rfile.read(int(http.headers["Content-Length"]))
        key = http.headers[webhooks.KEY_HEADER]
        stamp = http.headers[webhooks.TIMESTAMP_HEADER]
        good = webhooks.verify_signature(SECRET.encode(), stamp, body, http.headers[webhooks.SIGNATURE_HEADER]) \
            and abs(time.time() - int(stamp)) < 300
        with self.lock:
            behaviour = self.behaviours.pop(0) if self.behaviours else "ok"
            status = 401 if not good else 500 if behaviour == "500" else 200
            if status == 200 and key not in self.seen_keys:  # idempotency: apply a notice once
                self.seen_keys.add(key)
                self.applied.append(json.loads(body))
            self.requests.append((status, key))
        if behaviour == "slow":
            time.sleep(2.5)  # applied, but the answer comes after the sender's timeout
        try:
            http.send_response(status)
            http.end_headers()
        except OSError:
            pass  # the sender gave up waiting

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(*behaviours):
        made.append(Receiver(behaviours))
        return made[-1]
    yield make
    for r in made:
        r.stop()


@pytest.fixture
def hook_config(app_config):
    app_config.update(WEBHOOK_ALLOW_HTTP=True, WEBHOOK_TIMEOUT_SECONDS=1, MAIL_RETRY_BASE_SECONDS=1,
                      OUTBOUND_ALLOW_HOSTS="127.0.0.1")  # the receivers listen on loopback
    return app_config


def _notice_for(app, url, request_type="delete", secret=SECRET):
    """A recipient at `url`, a case that concerns it, and its notice queued."""
    with app.app_context():
        s = db.session()
        notices.save_recipient(s, data=notices.RecipientData(
            name="Ledger Cloud", kind="service_provider", request_types=[request_type], method="webhook",
            webhook_url=url, webhook_secret=secret), actor="test")
    req = new_case(app, request_type, "in_progress", email="dana@example.org", first_name="Dana", last_name="Lee")
    with app.app_context():
        s = db.session()
        req = s.merge(req)
        assert notices.send(s, req=req, actor="test") == 1
    return req


def _state(app):
    with app.app_context():
        s = db.session()
        notices.refresh_states(s)
        s.commit()
        notice = s.execute(select(DownstreamNotice)).scalar_one()
        row = s.execute(select(WebhookDelivery)).scalar_one()
        return notice.state, row.status, row.attempts


def _later(minutes=5):
    return clock.now() + timedelta(minutes=minutes)


def test_a_signed_notice_is_delivered_and_the_receiver_checks_it(hook_config, app, receiver):
    r = receiver()
    req = _notice_for(app, r.url)
    assert webhooks.deliver_for_app(app) == 1
    [payload] = r.applied
    assert payload["reference"] == req.reference and payload["action"] == "delete"
    assert payload["subject"] == {"first_name": "Dana", "last_name": "Lee", "email": "dana@example.org",
                                  "identified_by": "as_given_by_the_requester"}
    assert payload["notice_id"] == r.requests[0][1]
    assert _state(app) == ("delivered", "delivered", 1)
    assert webhooks.deliver_for_app(app, now=_later()) == 0 and len(r.requests) == 1


def test_a_wrong_secret_is_refused_by_the_receiver_and_never_counts_as_told(hook_config, app, receiver):
    r = receiver()
    _notice_for(app, r.url, secret="a different secret of more than 32 chars")
    assert webhooks.deliver_for_app(app) == 0
    assert r.requests[0][0] == 401 and r.applied == []
    assert _state(app) == ("failed", "failed", 1)  # a 4xx is not retried: staff record or explain instead


def test_a_500_and_a_timeout_are_retried_and_the_notice_applied_once(hook_config, app, receiver):
    r = receiver("500", "slow", "ok")
    _notice_for(app, r.url, request_type="opt_out")
    assert webhooks.deliver_for_app(app) == 0  # 500
    assert _state(app) == ("queued", "pending", 1)
    assert webhooks.deliver_for_app(app) == 0  # backing off: not yet due again
    started = time.monotonic()
    assert webhooks.deliver_for_app(app, now=_later()) == 0  # applied, but the answer timed out
    assert time.monotonic() - started < 2.4
    assert _state(app) == ("queued", "pending", 2) and len(r.applied) == 1
    assert webhooks.deliver_for_app(app, now=_later(60)) == 1  # the same key again: acknowledged, not re-applied
    assert _state(app) == ("delivered", "delivered", 3)
    assert [status for status, _key in r.requests] == [500, 200, 200]
    assert len({key for _status, key in r.requests}) == 1 and len(r.applied) == 1


def test_a_restart_in_between_loses_nothing(hook_config, app, receiver):
    r = receiver("500")
    _notice_for(app, r.url)
    assert webhooks.deliver_for_app(app) == 0
    # A process that claimed the row and died before answering: the claim runs out, the row is retried.
    with app.app_context():
        s = db.session()
        row = s.execute(select(WebhookDelivery)).scalar_one()
        row.claimed_until, row.next_attempt_at = clock.now() + timedelta(seconds=webhooks.CLAIM_SECONDS), clock.now()
        s.commit()
    app.extensions["db_engine"].dispose()  # the process stops

    restarted = create_app(hook_config)
    try:
        assert webhooks.deliver_for_app(restarted) == 0  # still claimed by the dead process
        assert webhooks.deliver_for_app(restarted, now=_later()) == 1
        assert _state(restarted) == ("delivered", "delivered", 2)
        assert len(r.applied) == 1
    finally:
        restarted.extensions["db_engine"].dispose()


def test_the_background_delivery_thread_sends_webhooks_too(hook_config, app, receiver):
    r = receiver()
    _notice_for(app, r.url)
    delivery = app.extensions["mail_delivery"]
    delivery.ensure_started()
    deadline = time.monotonic() + 10
    while not r.applied and time.monotonic() < deadline:
        time.sleep(0.1)
    delivery.stop()
    assert len(r.applied) == 1


def test_a_contested_statement_goes_to_every_recipient_of_corrections(hook_config, app, receiver, mailbox):
    """§7023(f): staff deny a correction with the requester's statement; the statement goes as its own
    notice to the webhook, mail and by-hand recipients of corrections, after the case is closed."""
    from ..support import body, make_staff, post_action, settle_notice, sign_in
    r = receiver()
    with app.app_context():
        s = db.session()
        for data in (dict(name="Ledger Cloud", method="webhook", webhook_url=r.url, webhook_secret=SECRET),
                     dict(name="Mailroom LLC", method="email", email="privacy@mailroom.example"),
                     dict(name="Paper Archive", method="manual"),
                     dict(name="Only Deletions", method="email", email="del@example.org", request_types=["delete"])):
            notices.save_recipient(s, data=notices.RecipientData(
                kind="service_provider", **{"request_types": ["correct"], **data}), actor="test")
    req = new_case(app, "correct", "in_progress", email="dana@example.org", first_name="Dana", last_name="Lee")
    client = app.test_client()
    sign_in(client, make_staff(app, "support"))
    statement = "The injury date is wrong: it was March 3, as my physician's note on lumbar strain shows."
    resp = post_action(client, req.reference, "deny", {
        "basis": "legal_obligation", "explanation": "The record reflects the adjuster's finding.",
        "categories": "Claim file: injury date", "assessment": "The adjuster's report.", "contested_statement": statement})
    assert resp.status_code == 303

    assert webhooks.deliver_for_app(app) == 1
    [payload] = r.applied
    assert payload["action"] == notices.CONTESTED_ACTION and payload["reference"] == req.reference
    assert payload["contested_statement"]["statement"] == statement and "§7023(f)" in payload["instructions"]
    mail = mailbox.last("privacy@mailroom.example")
    assert statement in body(mail) and notices.CONTESTED_ACTION in mail["Subject"]
    assert mailbox.to("del@example.org") == []
    with app.app_context():
        s = db.session()
        notices.refresh_states(s)
        s.commit()
        rows = s.execute(select(DownstreamNotice).order_by(DownstreamNotice.id)).scalars().all()
        assert [(n.purpose, n.method, n.state) for n in rows] == [
            ("contested_statement", "webhook", "delivered"), ("contested_statement", "email", "delivered"),
            ("contested_statement", "manual", "awaiting_staff")]
        manual = rows[2]
        # Receivers sort by `sequence`, never by arrival (docs/operations.md, "Order").
        issued = [notices.payload(s, s.get(PrivacyRequest, req.id), n)["sequence"] for n in rows]
    assert issued == sorted(issued) and len(set(issued)) == 3 and payload["sequence"] == issued[0]
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert page.count("contested statement · notice") == 3 and "Settle the notice to Paper Archive" in page
    assert "have not been told yet" not in page  # a denied case needs no notices to act
    # The case is closed; staff still record the one told by hand.
    resp = settle_notice(client, req.reference, manual.id, "record", {
        "told_on": clock.today().isoformat(), "method": "Letter with the statement enclosed"})
    assert resp.status_code == 303
    with app.app_context():
        assert db.session().get(DownstreamNotice, manual.id).state == "recorded"
