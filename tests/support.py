"""Test helpers: read mail, find links and CSRF tokens, run a real SMTP server, submit forms."""
import email
import re
import socket
import threading
from email import policy
from pathlib import Path

from portal.services import mail as mail_service


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
        f"---\nversion: {version}\neffective: {effective}\n---\n## Our policy\nWe changed it.\n", encoding="utf-8")
