"""The one delivery core behind mail, signed recipient notices (webhooks) and DRP callbacks.

Each of those is a table of rows queued in the transaction of the action that caused them (the
transactional outbox). This module claims the rows that are due, one at a time, hands each to its
channel's `send`, and records the outcome; a channel only says how to send one row and how to
tell a permanent failure from a passing one.

Claiming. A claim re-checks, in the statement that takes it, that the row is still
`status='pending' AND next_attempt_at <= now AND (claimed_until IS NULL OR claimed_until < now)`,
with a fresh `clock.now()` for every claim (never one `now` for a whole pass: a slow pass would
otherwise hand out claims that have already expired). On PostgreSQL the due row is picked with
`SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent deliverers each take a different row without
waiting; on SQLite the select and the conditional UPDATE run in one BEGIN IMMEDIATE transaction
(the write lock). A claim lasts `claim_seconds`, longer than a send can take (several times the
network timeout); a row whose deliverer died is taken again once its claim has run out.

Delivery is at least once. The row is marked sent in its own transaction after the receiver
accepted it; a process killed between the receiver's "250"/2xx and that update, or a send that
outlived its claim, sends the row again. Every copy carries the same identifier (the Message-ID
stored at queue time, the Idempotency-Key of webhooks and callbacks), so receivers drop repeats.

Retrying. A passing failure (network, 4xx from the mail server, 5xx/429 from a receiver) is retried
with exponential backoff capped at `retry_max`, for `retry_for` seconds after the row was queued
(and, if the channel sets one, at most `max_attempts` times); only then is the row `failed`. A
permanent failure (a 5xx refusal from the mail server, a row that cannot be built) fails at once.
One row's failure never stops the pass.
"""
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ... import clock

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120  # the least a claim lasts; a channel gets 10× its network timeout when that is more


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2×base, 4×base... at most cap."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def claim_seconds(timeout: float) -> float:
    """How long a claim lasts for a channel whose network operations time out after `timeout`
    seconds: a send is several such operations (connect, greeting, TLS, login, data)."""
    return max(CLAIM_SECONDS, 10 * float(timeout))


@dataclass
class Failure:
    """How a channel classifies one failed attempt: permanent (never retried), and the error to store."""
    permanent: bool
    error: str


@dataclass
class Channel:
    """One kind of outgoing row and how to deliver it."""
    name: str  # for the logs: "mail", "webhook", "drp callback"
    model: Any  # the SQLModel table: id, status, attempts, next_attempt_at, claimed_until, last_error, created_at
    send: Callable[[Any], None]  # deliver one row (outside any transaction); raises on failure
    classify: Callable[[Exception, Any], Failure]  # a failed attempt: permanent or not, and its error
    done_status: str = "sent"
    done_at: str = "sent_at"
    retry_base: float = 5
    retry_max: float = 900
    retry_for: float | None = None  # seconds after queuing during which passing failures are retried
    max_attempts: int | None = None  # an older limit on the number of attempts (None: no limit)
    claim_for: float = CLAIM_SECONDS
    pass_seconds: float | None = None  # start no new send after this long in one pass
    due_extra: Callable[[], Any] | None = None  # an extra condition on due rows (DRP: one subject in order)
    on_success: dict = field(default_factory=dict)  # extra column values once delivered
    on_failed: Callable[[Failure], dict] | None = None  # extra column values once failed for good
    failed_status: Callable[[Session, Any, bool], str] | None = None  # the status of a row that fails (DRP: superseded)
    label: Callable[[Any], str] = lambda row: ""  # what the log says about a row (never personal data)


def _free(model, now: datetime):
    return and_(model.status == "pending", model.next_attempt_at <= now,
                or_(model.claimed_until.is_(None), model.claimed_until < now))


def claim_one(session: Session, channel: Channel, *, now: datetime | None = None, after: int = 0):
    """Claim the oldest due row with an id above `after` (attempts + 1, claimed for `claim_for`
    seconds): (its id, the row); (None, None) when none is due; (its id, None) when another deliverer
    took it between the select and the update. `now` is read afresh for each claim unless a test fixes it."""
    model = channel.model
    now = now or clock.now()
    due = and_(_free(model, now), model.id > after)
    if channel.due_extra is not None:
        due = and_(due, channel.due_extra())
    query = select(model.id).where(due).order_by(model.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    try:
        row_id = session.execute(query).scalar()
        if row_id is None:
            session.rollback()
            return None, None
        claimed = session.execute(update(model).where(model.id == row_id, _free(model, now)).values(
            claimed_until=now + timedelta(seconds=channel.claim_for), attempts=model.attempts + 1))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if claimed.rowcount != 1:
        return row_id, None  # taken meanwhile (cannot happen under the row lock or the write lock; a guard)
    row = session.get(model, row_id, populate_existing=True)
    # Send outside any transaction, so the database stays free meanwhile. The row is detached first:
    # a rollback expires what the session holds, and reading an expired row during the send would
    # open a transaction again (on SQLite, the write lock, held for the whole send).
    session.expunge(row)
    session.rollback()
    return row_id, row


def deliver_due(engine: Engine, channel: Channel, *, now: datetime | None = None, limit: int = 50,
                stop: Callable[[], bool] | None = None) -> int:
    """Claim and send due rows until none is due, `limit` were tried, the channel's pass time is
    up or `stop()` says so; returns how many were delivered. `now` fixes the clock of the claims
    (tests only); outcomes are always stamped with the real clock."""
    deadline = time.monotonic() + channel.pass_seconds if channel.pass_seconds is not None else None
    delivered = last = 0  # a pass walks the ids upwards: each row is tried at most once per pass
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(limit):
            if (stop is not None and stop()) or (deadline is not None and time.monotonic() > deadline):
                break
            last, row = claim_one(session, channel, now=now, after=last)
            if last is None:
                break
            if row is None:
                continue
            try:
                channel.send(row)
            except Exception as exc:  # noqa: BLE001  one row's failure never stops the pass
                record_failure(session, channel, row, channel.classify(exc, row))
                continue
            record_success(session, channel, row)
            delivered += 1
    return delivered


def record_success(session: Session, channel: Channel, row, *, now: datetime | None = None) -> None:
    model = channel.model
    session.execute(update(model).where(model.id == row.id).values(
        status=channel.done_status, claimed_until=None, last_error=None,
        **{channel.done_at: now or clock.now()}, **channel.on_success))
    session.commit()
    log.info("%s %s delivered%s", channel.name, row.id, channel.label(row))


def gives_up(channel: Channel, row, failure: Failure, now: datetime) -> bool:
    """Whether this failure is the row's last: permanent, or retried for long enough."""
    if failure.permanent:
        return True
    if channel.max_attempts is not None and row.attempts >= int(channel.max_attempts):
        return True
    if channel.retry_for is not None:
        start = getattr(row, "retry_from", None) or row.created_at
        start = start if start.tzinfo else start.replace(tzinfo=now.tzinfo)
        return now - start >= timedelta(seconds=float(channel.retry_for))
    return False


def record_failure(session: Session, channel: Channel, row, failure: Failure, *, now: datetime | None = None) -> None:
    model = channel.model
    now = now or clock.now()
    give_up = gives_up(channel, row, failure, now)
    wait = backoff(row.attempts, channel.retry_base, channel.retry_max)
    status = "failed" if give_up else "pending"
    if channel.failed_status is not None:
        status = channel.failed_status(session, row, give_up)
    extra = channel.on_failed(failure) if give_up and channel.on_failed is not None else {}
    session.execute(update(model).where(model.id == row.id).values(
        status=status, claimed_until=None, next_attempt_at=now + wait, last_error=failure.error[:500], **extra))
    session.commit()
    log.warning("%s %s not delivered (attempt %s, %s)%s: %s", channel.name, row.id, row.attempts,
                f"giving up ({status})" if status != "pending" else f"retry in {wait.total_seconds():.0f}s",
                channel.label(row), failure.error.split(":")[0][:80])
