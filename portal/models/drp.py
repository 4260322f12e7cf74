"""The Data Rights Protocol: agents that send requests machine to machine (DrpAgent), the protocol's
side of the cases they open (DrpRequest), and the status callbacks queued to them (DrpCallback)."""
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _request_fk, _text, _ts


class DrpAgent(SQLModel, table=True):
    """An authorized-agent service the portal trusts under the Data Rights Protocol: its Ed25519
    verify key (added by an operator) and the hash of the bearer token it received at pairing."""

    __tablename__ = "drp_agent"

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    verify_key: str = Field(max_length=64)  # standard base64 of the 32-byte Ed25519 public key
    # SHA-256 of the current bearer token (never the token); a new pairing replaces it.
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    token_issued_at: datetime | None = _ts()
    removed_at: datetime | None = _ts()  # removed agents keep their cases; their tokens stop working
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class DrpRequest(SQLModel, table=True):
    """The Data Rights Protocol side of a case: the agent, its identifiers, the claims it sent."""

    __tablename__ = "drp_request"
    __table_args__ = (
        UniqueConstraint("agent_pk", "message_digest", name="uq_drp_request_agent_pk_message_digest"),
        # An agent's own id for a request is unique within that agent (DRP §3.03); absent ids (NULL) repeat freely.
        UniqueConstraint("agent_pk", "agent_request_id", name="uq_drp_request_agent_pk_agent_request_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("privacy_request.id", ondelete="CASCADE"),
                                             nullable=False, unique=True))
    request_uuid: str = Field(max_length=36, unique=True)  # the protocol's request_id
    agent_pk: int = Field(sa_column=Column(Integer, ForeignKey("drp_agent.id"), nullable=False))
    agent_request_id: str | None = Field(default=None, max_length=200)
    # SHA-256 of the signed message: the same message sent twice is the same request.
    message_digest: str = Field(max_length=64)
    exercise: str = Field(max_length=24)
    regime: str | None = Field(default=None, max_length=16)
    drp_version: str = Field(max_length=16)
    status_callback: str | None = Field(default=None, max_length=2000)
    # The identity claims and which the agent says it verified; values are dropped when the case closes.
    claims: dict = Field(sa_column=Column(JSON, nullable=False))
    revoke_reason: str | None = _text()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class DrpCallback(SQLModel, table=True):
    """An HTTP POST queued in the same transaction as the change it reports, delivered later by
    the same loop as mail; retried with backoff; `delivery_id` is its idempotency key."""

    __tablename__ = "drp_callback"
    __table_args__ = (
        Index("ix_drp_callback_due", "status", "next_attempt_at"),
        Index("ix_drp_callback_subject", "subject", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=36, unique=True)
    kind: str = Field(max_length=32)  # drp_status
    # Deliveries of one subject go out in order, and a newer one supersedes those not yet sent.
    subject: str = Field(max_length=64)
    request_id: int | None = _request_fk(nullable=True)
    url: str = Field(max_length=2000)
    body: str = _text(nullable=False)
    status: str = Field(default="pending", max_length=12)  # pending | sent | failed | superseded
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False, default_factory=clock.now)
    claimed_until: datetime | None = _ts()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    sent_at: datetime | None = _ts()
    # As OutboxMessage.retry_from: `drp callbacks retry --failed` gives a re-queued callback a whole retry period.
    retry_from: datetime | None = _ts()
