"""Uploaded files: Document, the row behind every file encrypted at rest in the document storage
(authorizations, evidence, inquiry attachments, response files); services.documents owns the blobs."""
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _ts


class Document(SQLModel, table=True):
    """An uploaded file, encrypted at rest in the document storage under a random name."""

    __tablename__ = "document"
    __table_args__ = (
        Index("ix_document_request_purpose", "request_id", "purpose"),
        Index("ix_document_key_id", "key_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # SET NULL, not CASCADE: the row (and so the stored blob's name) must outlive a deleted case
    # until the retention job has removed the blob itself.
    request_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("privacy_request.id", ondelete="SET NULL"), nullable=True))
    purpose: str = Field(max_length=24)  # authorization | evidence | inquiry_attachment | response_file
    storage_name: str = Field(max_length=64, unique=True)
    original_name: str = Field(max_length=160)  # sanitized; only for display and download names
    content_type: str = Field(max_length=64)  # decided from the content, never from the upload's claim
    size: int
    sha256: str = Field(max_length=64)  # of the plaintext, checked on every read
    key_id: str = Field(max_length=16)  # fingerprint of the key that encrypted the stored blob
    uploaded_by: str = Field(max_length=64)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class KeyFingerprint(SQLModel, table=True):
    """What the database was written with: a keyed fingerprint of the secret key and of the identity
    hash key (an HMAC of a fixed label under the key, which tells keys apart and gives nothing of
    them away), so that a start given a different key refuses instead of running on it."""

    __tablename__ = "key_fingerprint"

    name: str = Field(max_length=32, primary_key=True)  # secret_key | subject_hash_key
    fingerprint: str = Field(max_length=64)
    recorded_at: datetime = _ts(nullable=False, default_factory=clock.now)
