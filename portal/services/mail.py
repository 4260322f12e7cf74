"""The transactional outbox: mail is queued with the action that causes it, delivered later.

Delivery claims a row with a conditional UPDATE before sending, so any number of app processes
and workers can deliver side by side without sending a message twice.

The bodies hold live links (verify, status, agent confirmation, staff invitation): they are kept
only while the message is pending. Once it is sent, or has failed for good, they are emptied and
only the metadata stays (template, recipient, subject, times, attempts, error). A message that
cannot be built or is refused permanently is marked failed with its error, for admins to see,
and never holds up the others.
"""
import logging
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app, render_template
from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from .. import clock, i18n
from ..models import OutboxMessage, PrivacyRequest
from ..storage import write_atomic
from . import heartbeat

log = logging.getLogger(__name__)
CLAIM_SECONDS = 120


def render(*, template: str, subject: str, context: dict) -> tuple[str, str]:
    """The text and HTML bodies of templates/mail/<template>.txt and .html."""
    cfg = current_app.config
    ctx = dict(context, org_name=cfg["ORG_NAME"], privacy_email=cfg["PRIVACY_EMAIL"],
               privacy_phone=cfg["PRIVACY_PHONE"], subject=subject)
    return render_template(f"mail/{template}.txt", **ctx), render_template(f"mail/{template}.html", **ctx)


def queue(session: Session, *, to: str, subject: str, template: str, context: dict,
          request_id: int | None = None, language: str | None = None) -> OutboxMessage:
    """Render a mail in `language` (the request's; None: the default, as for staff) and queue it in
    the caller's transaction. A lazy subject (lazy_gettext) is translated here, in that language."""
    with i18n.language(language):
        subject = str(subject)
        text_body, html_body = render(template=template, subject=subject, context=context)
    domain = current_app.config["MAIL_FROM"].rpartition("@")[2] or "localhost"
    msg = OutboxMessage(message_id=make_msgid(domain=domain), request_id=request_id, template=template,
                        to_addr=to, subject=subject, text_body=text_body, html_body=html_body)
    session.add(msg)
    session.flush()
    return msg


def build_message(row: OutboxMessage, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Message-ID"] = row.message_id
    msg["Date"] = format_datetime(row.created_at)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.text_body)
    msg.add_alternative(row.html_body, subtype="html")
    return msg


def _send(cfg, outbox_dir: Path, msg: EmailMessage, row: OutboxMessage) -> None:
    if not cfg.get("SMTP_HOST"):
        outbox_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{row.created_at:%Y%m%dT%H%M%S}-{row.id:06d}.eml"
        # Atomic (a reader never sees half a file) and owner-only whatever the umask: it holds live links.
        write_atomic(outbox_dir / name, bytes(msg))
        return
    with smtplib.SMTP(cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]), timeout=cfg["SMTP_TIMEOUT"]) as smtp:
        if cfg.get("SMTP_STARTTLS"):
            smtp.starttls(context=ssl.create_default_context())
        if cfg.get("SMTP_USERNAME"):
            smtp.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD") or "")
        smtp.send_message(msg)


# What a message keeps once it is no longer pending: no bodies, so no live links.
DROPPED_BODIES = {"text_body": "", "html_body": ""}


def _is_permanent(exc: Exception) -> bool:
    """A refusal the mail server will repeat (5xx), or an error that is not about the network."""
    if not isinstance(exc, (OSError, smtplib.SMTPException)):
        return True  # e.g. an address the server cannot take (UnicodeEncodeError): retrying changes nothing
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500 and not isinstance(
        exc, smtplib.SMTPServerDisconnected)


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def deliver_due(engine, cfg, outbox_dir: Path, *, now: datetime | None = None, limit: int = 50) -> int:
    """Send every message that is due; returns how many were delivered."""
    now = now or clock.now()
    with Session(engine, expire_on_commit=False) as session:
        ids = session.execute(select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        ).order_by(OutboxMessage.id).limit(limit)).scalars().all()
        session.rollback()
        delivered = 0
        for msg_id in ids:
            claimed = session.execute(update(OutboxMessage).where(
                OutboxMessage.id == msg_id, OutboxMessage.status == "pending",
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            ).values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS), attempts=OutboxMessage.attempts + 1))
            session.commit()
            if claimed.rowcount != 1:
                continue  # another process took it
            row = session.get(OutboxMessage, msg_id)
            session.rollback()  # send outside any transaction, so the database stays free meanwhile
            try:
                message = build_message(row, cfg["MAIL_FROM"])
            except Exception as exc:  # noqa: BLE001  a poison message: it can never be built
                _record_failure(session, row, exc, cfg, permanent=True)
                continue
            try:
                _send(cfg, outbox_dir, message, row)
            except Exception as exc:  # noqa: BLE001  one message's failure never stops the pass
                _record_failure(session, row, exc, cfg)
                continue
            session.execute(update(OutboxMessage).where(OutboxMessage.id == msg_id).values(
                status="sent", sent_at=clock.now(), claimed_until=None, last_error=None, **DROPPED_BODIES))
            session.commit()
            delivered += 1
            log.info("mail %s delivered (template %s, request %s)", row.id, row.template, row.request_id)
        return delivered


def _record_failure(session: Session, row: OutboxMessage, exc: Exception, cfg, *, permanent: bool = False) -> None:
    permanent = permanent or _is_permanent(exc) or row.attempts >= cfg["MAIL_MAX_ATTEMPTS"]
    wait = backoff(row.attempts, cfg["MAIL_RETRY_BASE_SECONDS"], cfg["MAIL_RETRY_MAX_SECONDS"])
    session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
        status="failed" if permanent else "pending", claimed_until=None,
        next_attempt_at=clock.now() + wait, last_error=f"{type(exc).__name__}: {exc}"[:500],
        **(DROPPED_BODIES if permanent else {})))
    session.commit()
    log.warning("mail %s not delivered (attempt %s, %s): %s", row.id, row.attempts,
                "giving up" if permanent else f"retry in {wait.total_seconds():.0f}s", type(exc).__name__)


@dataclass
class OutboxOverview:
    """What admins see of the outbox: how many messages are in each state, and the failures."""
    counts: dict[str, int]
    failed: list[tuple[OutboxMessage, str | None]]  # (message, its case's reference)


def overview(session: Session, *, limit: int = 100) -> OutboxOverview:
    """Counts per status and the most recent failed messages, with their errors (never the bodies)."""
    counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    failed = session.execute(
        select(OutboxMessage, PrivacyRequest.reference)
        .outerjoin(PrivacyRequest, PrivacyRequest.id == OutboxMessage.request_id)
        .where(OutboxMessage.status == "failed").order_by(OutboxMessage.id.desc()).limit(limit)).all()
    session.rollback()
    return OutboxOverview({s: counts.get(s, 0) for s in ("pending", "sent", "failed")}, [tuple(r) for r in failed])


def deliver_for_app(app, **kw) -> int:
    return deliver_due(app.extensions["db_engine"], app.config, Path(app.instance_path) / "outbox", **kw)


class BackgroundDelivery:
    """A daemon thread in the web process that delivers the outbox every few seconds."""

    def __init__(self, app, deliverers=(deliver_for_app,)):
        self.app = app
        self.deliverers = deliverers  # mail, and whatever else is delivered the same way (webhooks)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    def ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox-delivery", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Ask the thread to finish its pass and wait for it."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                for deliver in self.deliverers:
                    deliver(self.app)
                heartbeat.beat(self.app.extensions["db_engine"], "web")
            except Exception:  # keep the thread alive through a database outage; retried next tick
                log.exception("outbox delivery pass failed")
            self.stopping.wait(self.app.config["MAIL_POLL_SECONDS"])


def run_worker(app, *, once: bool = False, jobs=(), jobs_every: float = 60.0, deliverers=(deliver_for_app,)) -> None:
    """The `flask worker` loop: deliver mail every poll, run scheduled jobs every minute."""
    last_jobs = float("-inf")
    while True:
        with app.app_context():
            if time.monotonic() - last_jobs >= jobs_every:
                for job in jobs:
                    job()
                last_jobs = time.monotonic()
            for deliver in deliverers:
                deliver(app)
            heartbeat.beat(app.extensions["db_engine"], "worker")
        if once:
            return
        time.sleep(app.config["MAIL_POLL_SECONDS"])
