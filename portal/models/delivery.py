"""Outgoing deliveries: OutboxMessage (mail queued with the action that caused it) and its index of
sent mail, WebhookDelivery (signed POSTs to recipients), and WorkerHeartbeat, the sign of life of
each process that delivers them."""
from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import UTCDateTime, _text, _ts


class OutboxMessage(SQLModel, table=True):
    """A mail queued in the same transaction as the action that caused it."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=200, unique=True)
    request_id: int | None = Field(default=None, index=True)
    template: str = Field(max_length=64)
    to_addr: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    text_body: str = _text(nullable=False)
    html_body: str = _text(nullable=False)
    status: str = Field(default="pending", max_length=12)  # pending | sent | failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False, default_factory=clock.now)
    claimed_until: datetime | None = _ts()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    sent_at: datetime | None = _ts()
    # Passing failures are retried for MAIL_RETRY_FOR_SECONDS from this moment (None: created_at);
    # `mail retry --failed` sets it, so a re-queued message gets a whole retry period again.
    retry_from: datetime | None = _ts()


class WebhookDelivery(SQLModel, table=True):
    """A signed JSON POST queued in the same transaction as its cause, delivered and retried like mail."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=64, unique=True)  # sent with every attempt; receivers dedupe on it
    topic: str = Field(max_length=32)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=500)  # Fernet token of the signing secret
    body: str = _text(nullable=False)
    status: str = Field(default="pending", max_length=12)  # pending | delivered | failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False, default_factory=clock.now)
    claimed_until: datetime | None = _ts()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    delivered_at: datetime | None = _ts()
    # As OutboxMessage.retry_from: `notices retry --failed` gives a re-queued notice a whole retry period.
    retry_from: datetime | None = _ts()


class WorkerHeartbeat(SQLModel, table=True):
    """The last sign of life of a process that delivers the outbox (a worker, or a web process's
    delivery thread): one row per process, rewritten as it beats; readiness reads the newest."""

    __tablename__ = "worker_heartbeat"

    id: int | None = Field(default=None, primary_key=True)
    process: str = Field(max_length=200, unique=True)  # host:pid
    name: str = Field(max_length=32)  # worker | web
    started_at: datetime = _ts(nullable=False, default_factory=clock.now)
    beat_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


# Mail delivered in the last hour (the metrics' deliveries): a range over this index, not every sent row.
Index("ix_outbox_message_sent_at", OutboxMessage.sent_at)
