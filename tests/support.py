"""Test helpers: read mail, find links and CSRF tokens, run a real SMTP server, submit forms; staff
accounts and signing them in (test client or browser), cases in a given state, case action forms."""
import email
import os
import re
import shutil
import socket
import sqlite3
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from email import policy
from pathlib import Path

import pytest

from portal import clock, db
from portal.lifecycle import IN_PROGRESS, ON_HOLD, VERIFYING
from portal.models import PrivacyRequest, StaffUser
from portal.services.cases import submission, transitions
from portal.services.cases.submission import NewRequest
from portal.services.delivery import mail as mail_service
from portal.services.identity import tiers
from portal.services.staff import accounts as staff_service


class Mailbox:
    """Delivers the outbox to the instance's .eml folder (no SMTP host set) and reads it back."""

    def __init__(self, app):
        self.app = app
        self.folder = Path(app.instance_path) / "outbox"

    def deliver(self) -> int:
        return mail_service.deliver_for_app(self.app)

    def read(self) -> list[email.message.EmailMessage]:
        """What is in the outbox folder now, oldest first, without delivering anything."""
        return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
                for p in sorted(self.folder.glob("*.eml"))]

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        self.deliver()
        return self.read()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def last(self, address: str) -> email.message.EmailMessage:
        found = self.to(address)
        assert found, f"no mail to {address}"
        return found[-1]


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, path_prefix: str) -> str:
    """The path of the first link in the mail's text under path_prefix (e.g. /verify/)."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"[^\s]+)", body(message))
    assert match, f"no {path_prefix} link in mail: {body(message)!r}"
    return match.group(1)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SMTPSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self):
        self.port = free_port()
        self.received: list[email.message.EmailMessage] = []
        self.cond = threading.Condition()
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with sink.cond:
                    sink.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
                    sink.cond.notify_all()
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, count: int, timeout: float = 10) -> list:
        with self.cond:
            self.cond.wait_for(lambda: len(self.received) >= count, timeout=timeout)
        return list(self.received)



VALID = {"first_name": "Ana", "last_name": "Ruiz", "email": "ana.ruiz@example.org", "phone": "",
         "claim_number": "", "date_of_birth": "", "details": ""}
TYPE_EXTRAS = {
    "access": {"access_scope": "categories", "lookback": "12_months"},
    "delete": {"declaration": "y", "declaration_signature": "Ana Ruiz"},
    "correct": {"correction_current": "My address is 1 Old St", "correction_details": "It is 2 New Ave",
                "declaration": "y", "declaration_signature": "Ana Ruiz"},
    "opt_out": {},
    "limit": {},
}


def request_form(kind: str, **overrides) -> dict:
    """A valid request form for one type, with overrides (request_type among them, if wanted)."""
    return {"request_type": kind, **VALID, **TYPE_EXTRAS[kind], **overrides}


def post_form(client, url: str, data: dict, form_url: str | None = None, **kw):
    """GET the form page for its CSRF token, then POST the data as a browser would."""
    page = client.get(form_url or url)
    return client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)), **data}, **kw)


STAFF_PASSWORD = "correct horse battery staple"  # the known password of staff made by `staff_login`


def publish_policy(app, version: str, effective: str = "2027-01-01") -> None:
    """Put a new privacy policy in the instance folder, as an operator would."""
    (Path(app.instance_path) / app.config["PRIVACY_POLICY_FILE"]).write_text(
        f"---\nversion: {version}\neffective: {effective}\n"
        f"sells_or_shares: {'yes' if app.config.get('SELLS_OR_SHARES') else 'no'}\n---\n## Our policy\nWe changed it.\n",
        encoding="utf-8")


# ---- staff and cases -----------------------------------------------------------------------------

def make_staff(app, role: str, email: str | None = None) -> StaffUser:
    """A staff account whose password is support.STAFF_PASSWORD."""
    with app.app_context():
        return staff_service.create(db.session(), email=email or f"{role}@billgenix.example", role=role,
                                    password=STAFF_PASSWORD, name=role.title())


def sign_in(client, user: StaffUser) -> None:
    """Sign in through the real sign-in form (the test client): the one way tests sign staff in."""
    resp = post_form(client, "/staff/login", {"email": user.email, "password": STAFF_PASSWORD})
    assert resp.status_code == 303, f"staff sign-in failed with {resp.status_code}"


def new_case(app, request_type: str = "access", status: str = VERIFYING, *, email: str = "ana.ruiz@example.org",
             first_name: str = "Ana", last_name: str = "Ruiz", received_at: datetime | None = None,
             access_scope: str | None = None, hold_reason: str | None = None, language: str = "en") -> PrivacyRequest:
    """A case submitted on the web and moved to `status` through the lifecycle."""
    with app.app_context():
        s = db.session()
        scope = access_scope or ("categories" if request_type == "access" else None)
        needs_sig = tiers.declaration_required(request_type, scope)
        new = NewRequest(request_type=request_type, first_name=first_name, last_name=last_name, email=email,
                         access_scope=scope, correction_current="1 Old St" if request_type == "correct" else None,
                         correction_details="2 New Ave" if request_type == "correct" else None,
                         declaration_signature=f"{first_name} {last_name}" if needs_sig else None, language=language)
        req = submission.submit(s, new=new, received_at=received_at).request
        if req.status == "awaiting_email" and status != "awaiting_email":
            req.email_confirmed_at = req.acknowledged_at = received_at or clock.now()
            transitions.transition(s, req, VERIFYING, actor="requester", action="email_confirmed")
        if status == IN_PROGRESS and req.status != IN_PROGRESS:
            transitions.transition(s, req, IN_PROGRESS, actor="system")
        if status == ON_HOLD:
            transitions.transition(s, req, ON_HOLD, actor="system", hold_reason=hold_reason or "data_mismatch")
        s.commit()
        return req


def status_client(app, reference: str, seconds: int = 600):
    """A browser whose status session opened `reference`, as a spent status link leaves it."""
    client = app.test_client()
    with client.session_transaction() as s:
        s["status_access"] = {"ref": reference, "until": int(clock.timestamp()) + seconds}
    return client


def get_case(app, reference: str) -> PrivacyRequest:
    with app.app_context():
        return submission.get_by_reference(db.session(), reference)


def hidden(html: str, name: str) -> str:
    match = re.search(r'name="' + re.escape(name) + r'" type="hidden" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in the page"
    return match.group(1)


def action_fields(html: str, action: str) -> dict:
    """The CSRF token and case version of one action form on the case page."""
    return {f"{action}-csrf_token": hidden(html, f"{action}-csrf_token"), f"{action}-version": hidden(html, f"{action}-version")}


# The actions that send the requester a message: the console shows it first (the review step), and
# "Send" there posts the same fields again with step=send.
REVIEWED_ACTIONS = ("deny", "complete", "request_info", "extend", "reject_agent", "ask_agent")


def post_action(client, reference: str, action: str, data: dict, page: str | None = None, *, review: bool = False,
                **kw):
    """Load the case page (unless given), then post one action form with its token and version. An
    action with a review step is sent as from its review page ("Send"), unless `review` asks for
    the review page itself."""
    html = page if page is not None else client.get(f"/staff/requests/{reference}").get_data(as_text=True)
    fields = {f"{action}-{k}": v for k, v in data.items()}
    if action in REVIEWED_ACTIONS and not review:
        fields["step"] = "send"
    return client.post(f"/staff/requests/{reference}/actions/{action}", data={**action_fields(html, action), **fields}, **kw)


def days_ago(n: int) -> datetime:
    """Noon in California, n calendar days before today there: a receipt n days back whatever the
    hour (n × 24 hours back can be another California day across a clock change)."""
    return datetime.combine(clock.today() - timedelta(days=n), time(12), clock.PACIFIC)


def sign_in_page(page, base_url: str, email: str, otp: str | None = None) -> None:
    """Fill in and send the real sign-in page in a browser, as a person would."""
    page.goto(base_url + "/staff/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    if otp:
        page.get_by_label("Authentication code", exact=False).fill(otp)
    page.get_by_role("button", name="Sign in").click()


def require_binary(name: str, hint: str) -> str:
    """The path of an executable (on PATH or beside this Python); skip without it, fail in CI."""
    found = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
    if found:
        return found
    message = f"{name} not found: {hint}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def settle_notice(client, reference: str, notice_id: int, how: str, data: dict):
    """Post the case page's form that settles a notice downstream ("record" or "explain"), with its token."""
    page = client.get(f"/staff/requests/{reference}").get_data(as_text=True)
    url = f"/staff/requests/{reference}/notices/{notice_id}/{how}"
    form = page[page.index(f'action="{url}"'):]
    prefix = f"n{notice_id}-{how}"
    token = csrf_from(form.replace(f'name="{prefix}-csrf_token"', 'name="csrf_token"', 1))
    return client.post(url, data={f"{prefix}-csrf_token": token, **{f"{prefix}-{k}": v for k, v in data.items()}})


@contextmanager
def sqlite_write_lock_held(app):
    """Another connection holds SQLite's write lock (as a long write would) until the block ends."""
    holder = sqlite3.connect(db.sqlite_file(app.config["DATABASE_URL"]), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def answers_within(seconds: float, *calls) -> list:
    """Run each call in a thread of its own; fail unless all of them return within `seconds`. A call
    that raised raises here."""
    results, errors = [None] * len(calls), []

    def run(i, call):
        try:
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001  raised again in the test's thread, below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds)
    assert not any(t.is_alive() for t in threads), f"still waiting after {seconds} s"
    if errors:
        raise errors[0]
    return results
