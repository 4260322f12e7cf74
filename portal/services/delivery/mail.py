"""The transactional outbox: mail is queued with the action that causes it, delivered later.

Delivery is the shared core's (services/delivery/outbox.py): any number of app processes and workers claim
due messages side by side, each claim re-checked with a fresh clock, so a message is not sent twice
without a crash. Delivery is at least once: a process killed between the mail server's "250" and
the `sent` update sends that message again, with the same Message-ID (stored at queue time), so
receivers can drop the copy. This module only says how to build and send one message and which
errors are permanent.

The bodies hold live links (verify, status, agent confirmation, staff invitation): they are kept
only while the message may still be sent. Once it is sent, or refused for good (5xx, or it cannot
be built), they are emptied and only the metadata stays (template, recipient, subject, times,
attempts, error). Passing failures (the mail server down or answering 4xx) are retried at a capped
interval for MAIL_RETRY_FOR_SECONDS (7 days by default); a message that runs out of that time is
`failed` but keeps its bodies until retention, so `flask mail retry --failed` can send it. Admins
see failed and stuck mail in a console banner and in the daily digest. A failing message never
holds up the others.
"""
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from flask import current_app, render_template
from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from ... import clock, i18n
from ...db import atomic
from ...models import OutboxMessage, PrivacyRequest
from ..documents.storage import write_atomic
from . import outbox

log = logging.getLogger(__name__)
CLAIM_SECONDS = outbox.CLAIM_SECONDS  # the least a claim lasts (see services/delivery/outbox.py)


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


backoff = outbox.backoff  # kept for callers that imported it from here


def _timed_out(exc: BaseException) -> bool:
    """The mail server did not answer within SMTP_TIMEOUT: a socket timeout, also when smtplib
    reports it as a closed connection (a reply that never came, e.g. after the end of data)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, TimeoutError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _classify(exc: Exception, row: OutboxMessage) -> outbox.Failure:
    if _timed_out(exc):
        # Said as such (failures.TIMEOUT_PREFIX): the console and /readyz name a relay slower than SMTP_TIMEOUT at once.
        return outbox.Failure(permanent=False, error=f"timeout: the mail server did not answer in time ({type(exc).__name__})")
    return outbox.Failure(permanent=_is_permanent(exc), error=f"{type(exc).__name__}: {exc}")


def channel(cfg, outbox_dir: Path) -> outbox.Channel:
    """Mail as the delivery core sees it: build and send one message; 5xx and unbuildable are permanent."""
    def send(row: OutboxMessage) -> None:
        try:
            message = build_message(row, cfg["MAIL_FROM"])
        except Exception as exc:  # noqa: BLE001  a poison message: it can never be built
            raise Unbuildable(f"{type(exc).__name__}: {exc}") from exc
        _send(cfg, outbox_dir, message, row)

    return outbox.Channel(
        name="mail", model=OutboxMessage, send=send, classify=_classify,
        retry_base=cfg["MAIL_RETRY_BASE_SECONDS"], retry_max=cfg["MAIL_RETRY_MAX_SECONDS"],
        retry_for=cfg.get("MAIL_RETRY_FOR_SECONDS"), max_attempts=cfg.get("MAIL_MAX_ATTEMPTS"),
        claim_for=outbox.claim_seconds(cfg["SMTP_TIMEOUT"]), on_success=DROPPED_BODIES,
        # A permanent failure can never be sent: its live links go at once. One that ran out of
        # retries (an outage) keeps its bodies until retention, so `mail retry --failed` can send it.
        on_failed=lambda failure: DROPPED_BODIES if failure.permanent else {},
        label=lambda row: f" (template {row.template}, request {row.request_id})")


class Unbuildable(ValueError):
    """A message that cannot be turned into mail (e.g. a header with a line break): permanent."""


def deliver_due(engine, cfg, outbox_dir: Path, *, now: datetime | None = None, limit: int = 50, stop=None, beat=None) -> int:
    """Send every message that is due; returns how many were delivered."""
    return outbox.deliver_due(engine, channel(cfg, outbox_dir), now=now, limit=limit, stop=stop, beat=beat)


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


@dataclass
class MailHealth:
    """What admins are alerted about: mail that failed lately, and mail waiting too long."""
    failed: int  # messages that failed within MAIL_ALERT_FAILED_DAYS
    pending: int
    oldest_pending: datetime | None  # when the oldest pending message was queued
    stuck: bool  # the oldest pending message is older than MAIL_ALERT_PENDING_SECONDS

    @property
    def alarming(self) -> bool:
        return bool(self.failed) or self.stuck

    def alerts(self, *, now: datetime | None = None) -> list[str]:
        """What to tell admins, in English (the console and the digest's operator notes): nothing when all is well."""
        alerts = []
        if self.failed:
            alerts.append(f"{self.failed} message{'s' if self.failed != 1 else ''} could not be delivered "
                          f"in the last {current_app.config['MAIL_ALERT_FAILED_DAYS']:g} days.")
        if self.stuck:
            waited = int(((now or clock.now()) - self.oldest_pending).total_seconds())
            hours = waited // 3600
            span = f"{hours} hour{'s' if hours != 1 else ''}" if hours else f"{waited // 60} minutes"
            alerts.append(f"{self.pending} message{'s' if self.pending != 1 else ''} waiting to be sent, the oldest "
                          f"waiting for {span}: is the worker running and the mail server reachable?")
        return alerts


def health(session: Session, *, now: datetime | None = None) -> MailHealth:
    """Failed and stuck mail, for the console banner and the daily digest (two small indexed queries)."""
    cfg = current_app.config
    now = now or clock.now()
    since = now - timedelta(days=float(cfg["MAIL_ALERT_FAILED_DAYS"]))
    failed = session.execute(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "failed", OutboxMessage.next_attempt_at >= since)).scalar_one()
    pending, oldest = session.execute(select(func.count(), func.min(OutboxMessage.created_at)).where(
        OutboxMessage.status == "pending")).one()
    session.rollback()
    stuck = oldest is not None and now - oldest > timedelta(seconds=float(cfg["MAIL_ALERT_PENDING_SECONDS"]))
    return MailHealth(failed=failed, pending=pending, oldest_pending=oldest, stuck=stuck)


@dataclass
class RetryResult:
    pending: int  # pending messages made due now
    failed: int  # failed messages queued again
    lost: int  # failed messages that cannot be sent again: their text was dropped (a permanent failure)


@atomic
def retry(session: Session, *, failed: bool = False, now: datetime | None = None) -> RetryResult:
    """`mail retry [--failed]`: make every pending message due now (not those in a sender's hands);
    with `failed`, also queue again each failed message whose text is still kept (it ran out of
    retries; its Message-ID stays, and it gets a whole MAIL_RETRY_FOR_SECONDS again). A message that
    failed permanently (refused with 5xx, or impossible to build) had its text dropped: it cannot be
    sent again, only counted, as the links it held may have expired and re-rendering them is not possible."""
    now = now or clock.now()
    free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
    pending = session.execute(update(OutboxMessage).where(OutboxMessage.status == "pending", free).values(
        next_attempt_at=now)).rowcount
    requeued = lost = 0
    if failed:
        requeued = session.execute(update(OutboxMessage).where(
            OutboxMessage.status == "failed", OutboxMessage.text_body != "").values(
            status="pending", next_attempt_at=now, claimed_until=None, retry_from=now)).rowcount
        lost = session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == "failed")).scalar_one()
    session.commit()
    log.info("mail retry: %s pending made due, %s failed queued again, %s cannot be sent again", pending, requeued, lost)
    return RetryResult(pending=pending, failed=requeued, lost=lost)


def deliver_for_app(app, **kw) -> int:
    """Deliver the app's due mail (tests' Mailbox, the worker and the web process's thread call this)."""
    return deliver_due(app.extensions["db_engine"], app.config, Path(app.instance_path) / "outbox", **kw)

