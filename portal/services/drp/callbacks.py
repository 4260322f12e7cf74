"""DRP status callbacks to agents: a JSON POST queued in the same transaction as the change it
reports, delivered later by the same loop that delivers mail (the web process's background thread, or `flask worker`).

Delivery is the shared core's (services/delivery/outbox.py): any number of processes deliver side by
side, at least once; it is retried with backoff until the receiver answers 2xx. The POST is
services/delivery/outbound.py's: only to an address outside the portal's own network, to the address
that was checked, never following a redirect (a 3xx, like an address not allowed, is not retried). Its `delivery_id`
travels as the `Idempotency-Key` header, the same on every attempt, so a receiver that saw it
already can ignore the repeat. Deliveries of one subject go out in order, and queuing a newer one
supersedes the older ones not yet sent (the receiver needs the latest state, not every step).
"""
import json
import logging
import uuid
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from ...models import DrpCallback
from ..delivery import outbound, outbox

log = logging.getLogger(__name__)
USER_AGENT = "privacy-portal-drp-callbacks/1"


def queue(session: Session, *, kind: str, subject: str, url: str, payload: dict,
          request_id: int | None = None) -> DrpCallback:
    """Queue one POST of `payload` to `url` in the caller's transaction."""
    session.execute(update(DrpCallback).where(
        DrpCallback.subject == subject, DrpCallback.status == "pending",
        DrpCallback.claimed_until.is_(None)).values(status="superseded"))
    row = DrpCallback(delivery_id=str(uuid.uuid4()), kind=kind, subject=subject, url=url, request_id=request_id,
                          body=json.dumps(payload, separators=(",", ":"), sort_keys=True))
    session.add(row)
    session.flush()
    return row


def latest_body(session: Session, *, subject: str) -> dict | None:
    """The payload most recently queued for a subject, or None."""
    body = session.execute(select(DrpCallback.body).where(DrpCallback.subject == subject)
                           .order_by(DrpCallback.id.desc()).limit(1)).scalar()
    return json.loads(body) if body is not None else None


def for_request(session: Session, *, request_id: int) -> list[DrpCallback]:
    return list(session.execute(select(DrpCallback).where(DrpCallback.request_id == request_id)
                                .order_by(DrpCallback.id)).scalars())


def post(url: str, body: str, *, delivery_id: str, timeout: float, allow_hosts=()) -> None:
    """POST the body; raises outbound.Failed (with a short reason) unless the answer is 2xx."""
    # The answer's body is discarded (DRP §2.03.1).
    outbound.post(url, body.encode(), timeout=timeout, allow_hosts=allow_hosts, headers={
        "Content-Type": "application/json", "Idempotency-Key": delivery_id, "User-Agent": USER_AGENT})


def _in_order():
    """A delivery waits while an older one of the same subject is still pending."""
    earlier = aliased(DrpCallback)
    return ~exists().where(earlier.subject == DrpCallback.subject, earlier.id < DrpCallback.id,
                           earlier.status == "pending")


def _classify(exc: Exception, row: DrpCallback) -> outbox.Failure:
    # Refused, timed out, 4xx or 5xx: retried (the agent may fix it). A redirect or an address that
    # is not allowed is not: the URL itself is wrong, and the agent sends a new one with its next request.
    if isinstance(exc, outbound.Failed):
        return outbox.Failure(permanent=exc.permanent, error=exc.reason)
    log.error("DRP callback %s could not be sent", row.id, exc_info=exc)
    return outbox.Failure(permanent=True, error="could not be sent: an error in the portal (see its log)")


def _failed_status(session: Session, row: DrpCallback, give_up: bool) -> str:
    # A newer delivery queued while this one was in flight carries the later state: send that instead.
    newer = session.execute(select(DrpCallback.id).where(
        DrpCallback.subject == row.subject, DrpCallback.id > row.id).limit(1)).scalar() is not None
    return "superseded" if newer else "failed" if give_up else "pending"


def channel(cfg) -> outbox.Channel:
    """DRP callbacks as the delivery core sees them: one POST, in order per subject, for at most
    DRP_CALLBACK_PASS_SECONDS per pass (the mail shares this loop: a slow receiver must not hold it up)."""
    def send(row: DrpCallback) -> None:
        post(row.url, row.body, delivery_id=row.delivery_id, timeout=cfg["DRP_CALLBACK_TIMEOUT_SECONDS"],
             allow_hosts=cfg.get("OUTBOUND_ALLOW_HOSTS") or ())

    return outbox.Channel(
        name="drp callback", model=DrpCallback, send=send, classify=_classify,
        retry_base=cfg["DRP_CALLBACK_RETRY_BASE_SECONDS"], retry_max=cfg["DRP_CALLBACK_RETRY_MAX_SECONDS"],
        retry_for=cfg.get("DELIVERY_RETRY_FOR_SECONDS"), max_attempts=cfg.get("DRP_CALLBACK_MAX_ATTEMPTS"),
        claim_for=outbox.claim_seconds(cfg["DRP_CALLBACK_TIMEOUT_SECONDS"]),
        pass_seconds=cfg["DRP_CALLBACK_PASS_SECONDS"], due_extra=_in_order, failed_status=_failed_status,
        label=lambda row: f" ({row.kind}, request {row.request_id})")


def deliver_due(engine, cfg, *, now: datetime | None = None, limit: int = 50, stop=None, beat=None) -> int:
    """Send the deliveries that are due; returns how many the receivers accepted."""
    return outbox.deliver_due(engine, channel(cfg), now=now, limit=limit, stop=stop, beat=beat)


def deliver_for_app(app, **kw) -> int:
    return deliver_due(app.extensions["db_engine"], app.config, **kw)
