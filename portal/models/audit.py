"""The audit trail: AuditEvent, the append-only, hash-chained record of what happened to every case
and inquiry (written by services.audit), which outlives the rows a retention purge removes."""
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _request_fk, _text, _ts


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained record of everything that happened to a case."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int | None = _request_fk(nullable=True, ondelete="SET NULL")
    inquiry_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("inquiry.id", ondelete="SET NULL"), nullable=True, index=True))
    actor: str = Field(max_length=64)
    action: str = Field(max_length=48)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str | None = Field(default=None, max_length=24)
    detail: str | None = _text()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    # The references of the case or inquiry: they outlive the rows (and ids) a retention purge removes.
    request_ref: str | None = Field(default=None, max_length=12, index=True)
    inquiry_ref: str | None = Field(default=None, max_length=12)
    # 2: the hash covers the references. 1: recorded before they existed; the hash covers the ids,
    # frozen in `hashed_ids` ("[request_id, inquiry_id]") so a purge that nulls the links breaks nothing.
    chain_version: int = Field(default=2)
    hashed_ids: str | None = Field(default=None, max_length=40)
