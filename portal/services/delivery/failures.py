"""What failed or stalls on any channel, said in one place: the console banner, the daily digest,
/readyz and /metrics read it, and `notices retry` / `drp callbacks retry` send failed rows again.

Every channel (mail, notices to recipients, DRP callbacks) retries passing failures for the one
DELIVERY_RETRY_FOR_SECONDS; a row that ran out of it, or was refused for good, is `failed` and stays
until retention. Admins hear of failures of every channel, not only of mail's. A mail server that
does not answer within SMTP_TIMEOUT is named as such at once: the attempted pending mail all timed
out and nothing was sent meanwhile (no 30 minutes' wait for the oldest mail's age).
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...models import DrpCallback, OutboxMessage, WebhookDelivery
from . import mail

log = logging.getLogger(__name__)

# channel -> (table, what one row is called, the command that sends failed ones again)
CHANNELS = {
    "mail": (OutboxMessage, "message", "flask --app portal mail retry --failed"),
    "webhooks": (WebhookDelivery, "notice to a recipient", "flask --app portal notices retry --failed"),
    "drp_callbacks": (DrpCallback, "DRP status callback", "flask --app portal drp callbacks retry --failed"),
}
TIMEOUT_PREFIX = "timeout:"  # how a mail attempt the server did not answer in time is recorded (mail._classify)
TIMEOUT_ALERT = "the mail server does not answer in time"


def failed_counts(session: Session, *, since: datetime | None = None) -> dict[str, int]:
    """Failed rows per channel (those that failed at or after `since`, when given)."""
    counts = {}
    for name, (model, _label, _command) in CHANNELS.items():
        query = select(func.count()).select_from(model).where(model.status == "failed")
        if since is not None:
            query = query.where(model.next_attempt_at >= since)
        counts[name] = session.execute(query).scalar_one()
    return counts


def pending_counts(session: Session) -> dict[str, int]:
    return {name: session.execute(select(func.count()).select_from(model).where(model.status == "pending")).scalar_one()
            for name, (model, _label, _command) in CHANNELS.items()}


def mail_timing_out(session: Session, *, now: datetime, smtp_timeout: float) -> bool:
    """The last attempts at mail saw only timeouts: some pending mail's last attempt timed out,
    no attempted pending mail failed otherwise, and no mail was sent within the last minutes."""
    tried = select(OutboxMessage.last_error).where(
        OutboxMessage.status == "pending", OutboxMessage.attempts > 0, OutboxMessage.last_error.is_not(None))
    errors = list(session.execute(tried.limit(100)).scalars())
    if not errors or not all(e.startswith(TIMEOUT_PREFIX) for e in errors):
        return False
    window = timedelta(seconds=max(300.0, 10 * float(smtp_timeout)))
    sent = session.execute(select(OutboxMessage.id).where(
        OutboxMessage.status == "sent", OutboxMessage.sent_at >= now - window).limit(1)).first()
    return sent is None


def alerts(session: Session, *, now: datetime | None = None) -> list[str]:
    """What to tell admins about every channel, in English (the console banner, the digest)."""
    cfg = current_app.config
    now = now or clock.now()
    out = []
    if mail_timing_out(session, now=now, smtp_timeout=cfg["SMTP_TIMEOUT"]):
        out.append(f"Mail is not going out: {TIMEOUT_ALERT} (SMTP_TIMEOUT {cfg['SMTP_TIMEOUT']:g} s); "
                   "each message is retried.")
    out += mail.health(session, now=now).alerts(now=now)
    days = float(cfg["MAIL_ALERT_FAILED_DAYS"])
    counts = failed_counts(session, since=now - timedelta(days=days))
    session.rollback()
    for name in ("webhooks", "drp_callbacks"):
        if counts[name]:
            _model, label, command = CHANNELS[name]
            out.append(f"{counts[name]} {label}{'s' if counts[name] != 1 else ''} could not be delivered in the "
                       f"last {days:g} days (`{command}` sends them again).")
    return out


@dataclass
class RetryResult:
    pending: int  # pending rows made due now
    failed: int  # failed rows queued again, with a whole retry period


def _requeue_condition(name: str):
    if name != "drp_callbacks":
        return None
    # A DRP callback superseded by a newer one for its subject is not sent again: the newer carries the later state.
    newer = aliased(DrpCallback)
    return ~exists().where(newer.subject == DrpCallback.subject, newer.id > DrpCallback.id)


@atomic
def retry(session: Session, *, channel: str, failed: bool = False, now: datetime | None = None) -> RetryResult:
    """`notices retry` / `drp callbacks retry`: every pending row of the channel due now (not those
    in a sender's hands); with `failed`, failed rows queued again with a new retry period (a DRP
    callback only when it is its subject's latest)."""
    model = CHANNELS[channel][0]
    now = now or clock.now()
    free = or_(model.claimed_until.is_(None), model.claimed_until < now)
    pending = session.execute(update(model).where(model.status == "pending", free).values(
        next_attempt_at=now)).rowcount
    requeued = 0
    if failed:
        condition = [model.status == "failed"]
        extra = _requeue_condition(channel)
        if extra is not None:
            condition.append(extra)
        ids = list(session.execute(select(model.id).where(*condition)).scalars())
        for start in range(0, len(ids), 5000):
            requeued += session.execute(update(model).where(model.id.in_(ids[start:start + 5000])).values(
                status="pending", next_attempt_at=now, claimed_until=None, retry_from=now)).rowcount
    session.commit()
    log.info("%s retry: %s pending made due, %s failed queued again", channel, pending, requeued)
    return RetryResult(pending=pending, failed=requeued)
