"""The identity index that requests are matched against: IdentitySubject, one person in the
business's records as keyed hashes only, and SubjectImport, the counts of one `subjects import` run."""
from datetime import datetime

from sqlalchemy import Column, ForeignKeyConstraint, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _ts


class IdentitySubject(SQLModel, table=True):
    """One person in the business's records (the identity index), imported from its billing and claims
    systems. Only keyed hashes (HMAC-SHA256 of the normalized value) are stored, never a value in clear;
    `subject_key` is the business's own opaque key, kept so a re-import replaces the row and
    `subjects forget` can remove it. A person may have several rows: one the business holds for itself
    (`client_key` empty) and one per client it holds them for (`client_key`: the client's key). Rows
    live until re-imported or forgotten."""

    __tablename__ = "identity_subject"
    __table_args__ = (UniqueConstraint("subject_key", "client_key", name="uq_identity_subject_subject_key_client_key"),)

    id: int | None = Field(default=None, primary_key=True)
    subject_key: str = Field(max_length=100, index=True)
    client_key: str = Field(default="", sa_column=Column(String(64), nullable=False, server_default=""))
    email_hash: str | None = Field(default=None, max_length=64, index=True)
    phone_hash: str | None = Field(default=None, max_length=64, index=True)
    name_dob_hash: str | None = Field(default=None, max_length=64, index=True)
    claim_number_hash: str | None = Field(default=None, max_length=64, index=True)
    date_of_injury_hash: str | None = Field(default=None, max_length=64)
    employer_hash: str | None = Field(default=None, max_length=64)
    postal_code_hash: str | None = Field(default=None, max_length=64)
    imported_at: datetime = _ts(nullable=False, default_factory=clock.now)


class IdentityNameKey(SQLModel, table=True):
    """One form of a subject's name that still names them (normalize.name_variants: one of two
    surnames, one of two given names, without the apostrophe or the suffix), with the date of birth,
    as a keyed hash: never the name itself. Written at import beside the subject's row (the row held
    for the business, or for a client) and removed with it (re-import, `subjects forget`)."""

    __tablename__ = "identity_name_key"
    __table_args__ = (ForeignKeyConstraint(
        ["subject_key", "client_key"], ["identity_subject.subject_key", "identity_subject.client_key"],
        ondelete="CASCADE", name="fk_identity_name_key_subject_key_client_key_identity_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    subject_key: str = Field(sa_column=Column(String(100), nullable=False, index=True))
    client_key: str = Field(default="", sa_column=Column(String(64), nullable=False, server_default=""))
    name_dob_hash: str = Field(max_length=64, index=True)


class SubjectImport(SQLModel, table=True):
    """One run of `subjects import` (counts only; no row content)."""

    __tablename__ = "subject_import"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _ts(nullable=False)
    finished_at: datetime = _ts(nullable=False)
    rows_imported: int = 0
    rows_rejected: int = 0
