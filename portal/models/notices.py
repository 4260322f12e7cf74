"""Notices downstream: Recipient, a service provider, contractor or third party to tell of deletions,
corrections and opt-outs, and DownstreamNotice, one recipient told (or to be told) about one request."""
from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _request_fk, _text, _ts


class Recipient(SQLModel, table=True):
    """A service provider, contractor or third party told of deletions, corrections and opt-outs."""

    __tablename__ = "recipient"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=24)  # service_provider | contractor | third_party
    request_types: str = Field(max_length=64)  # comma-separated: delete, correct, opt_out, limit
    method: str = Field(max_length=16)  # webhook | email | manual
    webhook_url: str | None = Field(default=None, max_length=500)
    webhook_secret: str | None = Field(default=None, max_length=500)  # Fernet token (ENCRYPTION_KEYS)
    email: str | None = Field(default=None, max_length=254)
    # §7002: the identifiers this recipient holds, the only ones it is sent (comma-separated: name,
    # email, phone, claim_number). Recipients made before this column keep all four until an admin narrows it.
    identifiers: str = Field(default="name,email", sa_column=Column(String(64), nullable=False,
                                                                     server_default="name,email,phone,claim_number"))
    active: bool = Field(default=True)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    updated_at: datetime = _ts(nullable=False, default_factory=clock.now)


class DownstreamNotice(SQLModel, table=True):
    """One recipient told (or to be told) to act on one request: by webhook, by mail, or by hand."""

    __tablename__ = "downstream_notice"
    __table_args__ = (UniqueConstraint("request_id", "recipient_id", "purpose",
                                       name="uq_downstream_notice_request_id_recipient_id_purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_key: str = Field(max_length=36, unique=True)  # the idempotency key the recipient sees
    request_id: int = _request_fk()
    recipient_id: int = Field(sa_column=Column(Integer, ForeignKey("recipient.id"), nullable=False))
    # act: delete, correct, stop selling or limit; contested_statement: note the consumer's statement (§7023(f))
    purpose: str = Field(default="act", sa_column=Column(String(24), nullable=False, server_default="act"))
    method: str = Field(max_length=16)  # webhook | email | manual, as configured when it was made
    state: str = Field(max_length=16)  # queued | delivered | failed | awaiting_staff | recorded | explained
    webhook_delivery_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("webhook_delivery.id", ondelete="SET NULL"), nullable=True))
    outbox_message_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("outbox_message.id", ondelete="SET NULL"), nullable=True))
    delivered_at: datetime | None = _ts()
    recorded_on: date | None = None  # by hand: the day the recipient was told
    recorded_method: str | None = Field(default=None, max_length=200)
    explanation: str | None = _text()  # impossible or disproportionate effort: why
    settled_by: str | None = Field(default=None, max_length=64)
    settled_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
