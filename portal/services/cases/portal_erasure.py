"""§1798.105(c): a deletion completed (in whole or in part) also deletes what the portal itself holds
about the person, beside the business's systems: their rows in the identity index (the subjects the
case was verified against) and their answered or closed inquiries, with their messages and
attachment. What stays, and why: the §7101 record of this and every other request (24 months, a legal
obligation), an inquiry still being answered, this case until RETENTION_DELETION_CASE_DAYS after it
closed (then only its §7101 record), and the index rows held for clients: the client decides on those
(a client's own deletion removes its rows: services/clients/inbound.py). A status listener, in the
transaction of the completion."""
import logging

from sqlalchemy import select
from sqlmodel import Session

from ... import lifecycle
from ...models import Document, Inquiry, PrivacyRequest, VerificationAttempt
from .. import audit
from ..documents import store as documents
from ..identity import subjects

log = logging.getLogger(__name__)

DONE = (lifecycle.COMPLETED, lifecycle.PARTIALLY_COMPLETED)


def status_changed(session: Session, req: PrivacyRequest) -> None:
    """When a deletion is completed: the identity index rows and the closed inquiries of the person."""
    if req.request_type != "delete" or req.status not in DONE or req.manner == "client":
        return  # a client's own request is about the client's data, and its email is the client's
    keys = session.execute(select(VerificationAttempt.subject_key).where(
        VerificationAttempt.request_id == req.id, VerificationAttempt.outcome == "verified",
        VerificationAttempt.subject_key.is_not(None))).scalars().all()
    removed = subjects.remove(session, subject_keys=keys)
    inquiries = session.execute(select(Inquiry).where(
        Inquiry.email == req.email, Inquiry.status != "open",  # a child's-data report stays with its own case
        (Inquiry.linked_request_id.is_(None)) | (Inquiry.linked_request_id != req.id))).scalars().all() if req.email else []
    for inquiry in inquiries:
        attachment = session.get(Document, inquiry.attachment_id) if inquiry.attachment_id else None
        session.delete(inquiry)  # the database cascades to its messages
        session.flush()
        if attachment is not None:
            documents.discard(session, document=attachment, actor="system")
    audit.record(session, action="portal_data_erased", actor="system", request_id=req.id,
                 detail=f"identity index rows: {removed}; closed inquiries: {len(inquiries)}")
    log.info("request %s: the portal's own data erased (%s index rows, %s inquiries)", req.reference, removed,
             len(inquiries))
