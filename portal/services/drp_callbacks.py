"""DRP status callbacks to agents: a JSON POST queued in the same transaction as the change it
reports, delivered later by the same loop that delivers mail (the web process's background thread, or `flask worker`).

A delivery is claimed with a conditional UPDATE before it is sent, so any number of processes can
deliver side by side; it is retried with backoff until the receiver answers 2xx. Its `delivery_id`
travels as the `Idempotency-Key` header, the same on every attempt, so a receiver that saw it
already can ignore the repeat. Deliveries of one subject go out in order, and queuing a newer one
supersedes the older ones not yet sent (the receiver needs the latest state, not every step).
"""
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from .. import clock
from ..models import DrpCallback

log = logging.getLogger(__name__)
CLAIM_SECONDS = 120
USER_AGENT = "privacy-portal-drp-callbacks/1"


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


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


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer we do not follow: the POST is retried at the URL we were given."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: str, *, delivery_id: str, timeout: float) -> None:
    """POST the body; raises OSError (urllib.error.HTTPError included) unless the answer is 2xx."""
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "Idempotency-Key": delivery_id, "User-Agent": USER_AGENT})
    with _opener.open(req, timeout=timeout) as resp:
        resp.read(65536)  # the body is discarded (DRP §2.03.1); read a little so the connection closes cleanly


def _due(now: datetime):
    earlier = aliased(DrpCallback)
    blocked = exists().where(earlier.subject == DrpCallback.subject, earlier.id < DrpCallback.id,
                             earlier.status == "pending")
    return and_(DrpCallback.status == "pending", DrpCallback.next_attempt_at <= now,
                or_(DrpCallback.claimed_until.is_(None), DrpCallback.claimed_until < now), ~blocked)


def deliver_due(engine, cfg, *, now: datetime | None = None, limit: int = 50) -> int:
    """Send the deliveries that are due, for at most DRP_CALLBACK_PASS_SECONDS (the mail shares this
    loop: a slow receiver must not hold it up); returns how many the receivers accepted."""
    now = now or clock.now()
    deadline = time.monotonic() + cfg["DRP_CALLBACK_PASS_SECONDS"]
    delivered = 0
    with Session(engine, expire_on_commit=False) as session:
        ids = session.execute(select(DrpCallback.id).where(_due(now))
                              .order_by(DrpCallback.id).limit(limit)).scalars().all()
        session.rollback()
        for delivery_id in ids:
            if time.monotonic() > deadline:
                break  # the rest go out on the next pass
            claimed = session.execute(update(DrpCallback).where(
                DrpCallback.id == delivery_id, DrpCallback.status == "pending",
                or_(DrpCallback.claimed_until.is_(None), DrpCallback.claimed_until < now),
            ).values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS), attempts=DrpCallback.attempts + 1))
            session.commit()
            if claimed.rowcount != 1:
                continue  # another process took it
            row = session.get(DrpCallback, delivery_id)
            session.rollback()  # send outside any transaction
            try:
                post(row.url, row.body, delivery_id=row.delivery_id, timeout=cfg["DRP_CALLBACK_TIMEOUT_SECONDS"])
            except (OSError, ValueError) as exc:  # refused, timed out, non-2xx, or a URL urllib cannot use
                _record_failure(session, row, exc, cfg)
                continue
            session.execute(update(DrpCallback).where(DrpCallback.id == delivery_id).values(
                status="sent", sent_at=clock.now(), claimed_until=None, last_error=None))
            session.commit()
            delivered += 1
            log.info("webhook %s delivered (%s, request %s)", row.id, row.kind, row.request_id)
    return delivered


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    return f"{type(exc).__name__}: {exc}"[:500]


def _record_failure(session: Session, row: DrpCallback, exc: Exception, cfg) -> None:
    give_up = row.attempts >= cfg["DRP_CALLBACK_MAX_ATTEMPTS"]
    wait = backoff(row.attempts, cfg["DRP_CALLBACK_RETRY_BASE_SECONDS"], cfg["DRP_CALLBACK_RETRY_MAX_SECONDS"])
    # A newer delivery queued while this one was in flight carries the later state: send that instead.
    newer = session.execute(select(DrpCallback.id).where(
        DrpCallback.subject == row.subject, DrpCallback.id > row.id).limit(1)).scalar() is not None
    session.execute(update(DrpCallback).where(DrpCallback.id == row.id).values(
        status="superseded" if newer else "failed" if give_up else "pending", claimed_until=None, next_attempt_at=clock.now() + wait,
        last_error=_describe(exc)))
    session.commit()
    log.warning("webhook %s not delivered (attempt %s, %s): %s", row.id, row.attempts,
                "giving up" if give_up else f"retry in {wait.total_seconds():.0f}s", _describe(exc))


def deliver_for_app(app, **kw) -> int:
    return deliver_due(app.extensions["db_engine"], app.config, **kw)
