"""Client businesses whose data the business holds as their service provider (CCPA) or business
associate (HIPAA): Client; ClientReferral, one client found holding a case's person and what was done
about it (forwarded, explained, handled as the business); ClientRequest, a client's own signed
request that opened a case scoped to its data. Referrals and client requests go with their case
(ON DELETE CASCADE); their free texts sooner (services/records/retention.py)."""
from datetime import date, datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _request_fk, _text, _ts


class Client(SQLModel, table=True):
    """A client business: who it is, the agreement under which the business holds its data, whom to
    write to about its consumers' requests, its signed webhook, and its Ed25519 key for the API."""

    __tablename__ = "client"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)  # what the identity index's `client` column and the map name
    name: str = Field(max_length=200)
    kind: str = Field(max_length=16)  # provider | billing | lien | payer | other
    agreement: str = Field(max_length=24)  # service_provider | baa | both
    email: str = Field(max_length=254)  # the client's privacy contact
    webhook_url: str | None = Field(default=None, max_length=500)
    webhook_secret: str | None = Field(default=None, max_length=500)  # Fernet token (ENCRYPTION_KEYS)
    days: int = Field(default=10)  # the days the client commits to answer a forwarded request in
    verify_key: str | None = Field(default=None, max_length=64)  # standard base64 Ed25519 key: its API calls
    removed_at: datetime | None = _ts()  # removed clients keep their referrals; nothing new reaches them
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    updated_at: datetime = _ts(nullable=False, default_factory=clock.now)


class ClientReferral(SQLModel, table=True):
    """One client found holding this case's person (through the identity index or the data map), and
    the outcome staff chose for it: forward (the client answers: will act, not ours, done), explain
    (the consumer is told whom to ask), or handle as the business (data it also holds for itself)."""

    __tablename__ = "client_referral"
    __table_args__ = (UniqueConstraint("request_id", "client_id", name="uq_client_referral_request_id_client_id"),)

    id: int | None = Field(default=None, primary_key=True)
    referral_key: str = Field(max_length=36, unique=True)  # what the client's answer names
    request_id: int = _request_fk()
    client_id: int = Field(sa_column=Column(Integer, ForeignKey("client.id"), nullable=False))
    only_client: bool = Field(default=False)  # the business holds nothing of this person for itself
    health_information: bool = Field(default=False)  # the request asks for medical records (45 CFR 164.524)
    outcome: str | None = Field(default=None, max_length=16)  # forward | explain | handle
    state: str = Field(default="found", max_length=16)  # found | forwarded | will_act | not_ours | done | explained | handled
    method: str | None = Field(default=None, max_length=16)  # webhook | email (a forward)
    webhook_delivery_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("webhook_delivery.id", ondelete="SET NULL"), nullable=True))
    answer_token_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("verification_token.id", ondelete="SET NULL"), nullable=True))
    due_on: date | None = None  # a forward: the client's answer is due
    reminded_on: date | None = None
    reminders: int = Field(default=0)
    answer_note: str | None = _text()  # the client's note with its answer (purged with verification data)
    answered_via: str | None = Field(default=None, max_length=16)  # link | webhook
    answered_at: datetime | None = _ts()
    chosen_by: str | None = Field(default=None, max_length=64)
    chosen_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class ClientRequest(SQLModel, table=True):
    """The client's side of a case it opened through the signed API: which client, its own id, the
    signed message's hash (the same message twice is the same request), the verification statement
    and the identifiers it named (dropped with the case's verification data)."""

    __tablename__ = "client_request"
    __table_args__ = (
        UniqueConstraint("client_id", "message_digest", name="uq_client_request_client_id_message_digest"),
        UniqueConstraint("client_id", "client_request_id", name="uq_client_request_client_id_client_request_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("privacy_request.id", ondelete="CASCADE"),
                                             nullable=False, unique=True))
    request_uuid: str = Field(max_length=36, unique=True)  # the id the client follows it by
    client_id: int = Field(sa_column=Column(Integer, ForeignKey("client.id"), nullable=False))
    client_request_id: str | None = Field(default=None, max_length=200)
    message_digest: str = Field(max_length=64)
    subject_key: str = Field(max_length=100)  # the identity index's subject the client named
    statement: str | None = _text()  # the client's verification statement
    identifiers: dict | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
