"""The fulfilment plan: FulfilmentItem, one system (or recipient) to act in for one case, with who
does it, by when, in what state, and the evidence of what was done. Built from the data map when a
case reaches in_progress (services/fulfilment/plan.py); purged with its case (ON DELETE CASCADE)."""
from datetime import date, datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _request_fk, _text, _ts

# The states that settle an item (completion waits for every item to reach one); the others are open.
SETTLED_ITEM_STATES = ("done", "not_found", "not_held")


class FulfilmentItem(SQLModel, table=True):
    """One item of a case's plan: an automatic run, a staff task or a processor's answer."""

    __tablename__ = "fulfilment_item"
    __table_args__ = (
        UniqueConstraint("request_id", "system", name="uq_fulfilment_item_request_id_system"),
        Index("ix_fulfilment_item_state_due_on", "state", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_key: str = Field(max_length=36, unique=True)  # random: what a processor's answer names
    request_id: int = _request_fk()
    system: str = Field(max_length=200)  # the dataset's fides_key, or the recipient's name
    system_name: str = Field(max_length=200)  # shown to staff
    kind: str = Field(max_length=16)  # automatic | staff | processor
    state: str = Field(max_length=16, default="pending")  # pending | in_progress | done | not_found | not_held | failed
    owner: str | None = Field(default=None, max_length=254)  # the map's owner (a staff email), as written
    assignee_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("staff_user.id", ondelete="SET NULL"), nullable=True))
    due_on: date
    instructions: str | None = _text()  # generated from the map: tables, fields, what to do and why
    # What the map says of this system for the request type: {"categories": [ccpa keys],
    # "retained": [{"ccpa", "basis", "fields"}], "erased": [ccpa keys]} (no personal data)
    detail: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    recipient_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("recipient.id", ondelete="SET NULL"), nullable=True))
    notice_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("downstream_notice.id", ondelete="SET NULL"), nullable=True))
    answer_token_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("verification_token.id", ondelete="SET NULL"), nullable=True))
    found: bool | None = None  # the evidence: the person was found there (None: not recorded yet)
    outcome_note: str | None = _text()  # what was done, as staff or the processor wrote it
    document_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("document.id", ondelete="SET NULL"), nullable=True))
    answered_via: str | None = Field(default=None, max_length=16)  # staff | link | webhook
    updated_by: str | None = Field(default=None, max_length=64)
    updated_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class FulfilmentRun(SQLModel, table=True):
    """One queued run of an automatic item (access, erasure preview, erasure, correction), claimed by a
    worker through the outbox core: retried with backoff, taken again once a dead worker's claim runs
    out, and ended in the same transaction that records the item's outcome (never run twice)."""

    __tablename__ = "fulfilment_run"
    __table_args__ = (Index("ix_fulfilment_run_status_next_attempt_at", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(sa_column=Column(Integer, ForeignKey("fulfilment_item.id", ondelete="CASCADE"),
                                          nullable=False, index=True))
    action: str = Field(max_length=16)  # access | preview | erase | correct
    status: str = Field(max_length=16, default="pending")  # pending | done | failed
    attempts: int = 0
    next_attempt_at: datetime = _ts(nullable=False, default_factory=clock.now)
    claimed_until: datetime | None = _ts()
    last_error: str | None = Field(default=None, max_length=500)
    requested_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    finished_at: datetime | None = _ts()
