"""Uploads kept across a form's validation error: a file that passed every check is stored (encrypted,
as any document) without a case, as `PENDING`, and the form's next submission from the same browser
attaches it instead of asking for it again. The browser holds only the document's id, in its signed
session; an id from another browser's session is never offered. Unclaimed ones are removed by the
retention purge PENDING_UPLOAD_HOURS after their upload (`expired_ids`)."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...models import Document
from .. import audit
from . import store

PENDING = "pending"  # Document.uploaded_by of an upload no case has claimed yet


@dataclass(frozen=True)
class Kept:
    """What the form says about a kept upload: its id (for the session), its name and size."""
    id: int
    name: str
    size: int


@atomic
def keep(session: Session, *, stream, filename: str | None, declared_type: str | None, purpose: str) -> Kept:
    """Check and keep an upload for the form's retry; DocumentRejected (nothing kept) as `store.check`."""
    doc = store.store(session, stream=stream, filename=filename, declared_type=declared_type, purpose=purpose,
                      uploaded_by=PENDING)
    audit.record(session, action="upload_kept_for_retry", actor="requester", detail=f"document {doc.id} ({purpose})")
    session.commit()
    return Kept(doc.id, doc.original_name, doc.size)


def _deadline(now: datetime) -> datetime:
    return now - timedelta(hours=int(current_app.config["PENDING_UPLOAD_HOURS"]))


def find(session: Session, *, document_id: int | None, purpose: str) -> Kept | None:
    """A kept upload still waiting for its form, or None (claimed, purged, or never this purpose)."""
    if not document_id:
        return None
    doc = session.get(Document, int(document_id))
    if doc is None or doc.uploaded_by != PENDING or doc.request_id is not None or doc.purpose != purpose \
            or doc.created_at < _deadline(clock.now()):
        return None
    return Kept(doc.id, doc.original_name, doc.size)


def content(session: Session, *, document_id: int, purpose: str) -> tuple[bytes, str, str] | None:
    """A kept upload's bytes, name and type, for a form that submits it again as if just attached (the
    agent form); None when it is gone."""
    kept = find(session, document_id=document_id, purpose=purpose)
    if kept is None:
        return None
    doc = session.get(Document, kept.id)
    return bytes(store.read(session, document=doc)), doc.original_name, doc.content_type


@atomic
def discard(session: Session, *, document_id: int) -> None:
    """Remove a kept upload its form no longer needs (it was submitted again as a new file)."""
    doc = session.get(Document, document_id)
    if doc is not None and doc.uploaded_by == PENDING and doc.request_id is None:
        session.delete(doc)
        session.commit()
        store.get_storage().delete(doc.storage_name)


def claim(session: Session, *, document_id: int, request_id: int, uploaded_by: str) -> Document | None:
    """Attach a kept upload to the case the form created, in the caller's transaction."""
    doc = session.get(Document, document_id)
    if doc is None or doc.uploaded_by != PENDING or doc.request_id is not None:
        return None
    doc.request_id, doc.uploaded_by = request_id, uploaded_by
    session.add(doc)
    return doc


def expired_ids(session: Session, now: datetime) -> dict[int, str]:
    """Kept uploads no form claimed in time: id -> storage name, for the retention purge."""
    return dict(session.execute(select(Document.id, Document.storage_name).where(
        Document.uploaded_by == PENDING, Document.request_id.is_(None), Document.created_at < _deadline(now))).all())
