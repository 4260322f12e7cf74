"""Privacy inquiries (questions, BAA/HIPAA requests, security concerns, children's data): Inquiry,
which needs no verification and may link to a privacy request, and InquiryMessage, its replies."""
from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _request_fk, _text, _ts

_inquiry_version = Column("version", Integer, nullable=False)


class Inquiry(SQLModel, table=True):
    """A privacy question, BAA/HIPAA request, security concern or child's-data report."""

    __tablename__ = "inquiry"
    __table_args__ = (Index("ix_inquiry_queue", "status", "urgent", "response_due"),)
    __mapper_args__ = {"version_id_col": _inquiry_version}

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=12, unique=True)
    kind: str = Field(max_length=16)  # question | baa | security | child | other
    status: str = Field(max_length=16)  # open | answered | closed
    urgent: bool = Field(default=False)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254, index=True)
    organization: str | None = Field(default=None, max_length=200)
    message: str = _text(nullable=False)
    language: str = Field(default="en", max_length=8)
    received_at: datetime = _ts(nullable=False)
    response_due: date
    answered_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    linked_request_id: int | None = _request_fk(nullable=True, ondelete="SET NULL")
    attachment_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("document.id", ondelete="SET NULL"), nullable=True))
    version: int = Field(default=None, sa_column=_inquiry_version)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    updated_at: datetime = _ts(nullable=False, default_factory=clock.now)


class InquiryMessage(SQLModel, table=True):
    """A reply from the privacy team to an inquiry (or a follow-up from its sender)."""

    __tablename__ = "inquiry_message"

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(sa_column=Column(Integer, ForeignKey("inquiry.id", ondelete="CASCADE"),
                                             nullable=False, index=True))
    direction: str = Field(max_length=16)  # to_sender | from_sender
    author: str = Field(max_length=64)
    body: str = _text(nullable=False)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
