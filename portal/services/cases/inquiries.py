"""Privacy inquiries: questions, BAA/HIPAA requests, security concerns and child's-data reports."""
import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from sqlmodel import Session

from ... import clock, lifecycle, normalize
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...lifecycle import INQUIRY_ANSWERED, INQUIRY_CLOSED, INQUIRY_KINDS, INQUIRY_OPEN
from ...models import AuditEvent, Document, Inquiry, InquiryMessage, PrivacyRequest
from ...urls import external_url
from .. import audit
from ..delivery import mail
from ..documents import store as documents
from . import references
from . import submission as requests
from .transitions import StaleCase

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewInquiry:
    kind: str
    name: str
    email: str
    message: str
    organization: str | None = None
    language: str = "en"


def get_by_reference(session: Session, reference: str) -> Inquiry | None:
    return session.execute(select(Inquiry).where(Inquiry.reference == reference)).scalar()


def _mail_sender(session: Session, inquiry: Inquiry, template: str, subject: str, **context) -> None:
    mail.queue(session, to=inquiry.email, subject=subject, template=template, language=inquiry.language,
               context=dict(context, inquiry=inquiry, kind_label=INQUIRY_KINDS[inquiry.kind],
                            status_url=external_url("public.status")))


@atomic
def submit(session: Session, *, new: NewInquiry, received_at: datetime | None = None,
           attachment: tuple | None = None) -> Inquiry:
    """Record an inquiry, acknowledge it, and route it: security to the contact, a child's data to deletion.
    `attachment` is (stream, filename, declared type); kinds.DocumentRejected if refused, nothing saved."""
    now = clock.now()
    received_at = received_at or now
    inquiry = Inquiry(reference=references.unique(session), kind=new.kind, status=INQUIRY_OPEN,
                      urgent=new.kind in lifecycle.URGENT_INQUIRY_KINDS, name=new.name.strip(),
                      email=normalize.email(new.email), organization=new.organization or None,
                      message=new.message, language=new.language, received_at=received_at,
                      response_due=lifecycle.inquiry_due(received_at), created_at=now, updated_at=now)
    if attachment is not None:
        stream, filename, declared = attachment
        inquiry.attachment_id = documents.store(session, stream=stream, filename=filename, declared_type=declared,
                                                purpose="inquiry_attachment", uploaded_by="requester").id
    session.add(inquiry)
    session.flush()
    audit.record(session, action="inquiry_received", actor="requester", inquiry_id=inquiry.id,
                 to_status=INQUIRY_OPEN, detail=f"kind={new.kind}")
    _mail_sender(session, inquiry, "inquiry_ack", _l("We received your message: %(reference)s",
                                                    reference=inquiry.reference))
    if inquiry.urgent:
        mail.queue(session, to=current_app.config["SECURITY_CONTACT_EMAIL"], template="inquiry_security_alert",
                   subject=_l("URGENT security concern %(reference)s", reference=inquiry.reference),
                   context={"inquiry": inquiry, "kind_label": INQUIRY_KINDS[inquiry.kind],
                            "console_url": external_url("staff.inquiry", reference=inquiry.reference)})
    if new.kind == "child":
        linked = requests.open_child_deletion(session, inquiry=inquiry)
        inquiry.linked_request_id = linked.id
        session.add(inquiry)
    session.commit()
    log.info("inquiry %s received (%s%s)", inquiry.reference, inquiry.kind, ", urgent" if inquiry.urgent else "")
    return inquiry


def messages(session: Session, inquiry: Inquiry) -> list[InquiryMessage]:
    return session.execute(select(InquiryMessage).where(InquiryMessage.inquiry_id == inquiry.id)
                           .order_by(InquiryMessage.created_at, InquiryMessage.id)).scalars().all()


def _change(session: Session, inquiry: Inquiry, to_status: str, *, actor: str, action: str,
            expected_version: int | None) -> None:
    if expected_version is not None and expected_version != inquiry.version:
        raise StaleCase(inquiry.reference)
    if to_status != inquiry.status:
        lifecycle.check_inquiry_transition(inquiry.status, to_status)
    audit.record(session, action=action, actor=actor, inquiry_id=inquiry.id, from_status=inquiry.status,
                 to_status=to_status if to_status != inquiry.status else None)
    inquiry.status, inquiry.updated_at = to_status, clock.now()
    session.add(inquiry)


@atomic
def answer(session: Session, *, inquiry: Inquiry, body: str, actor: str, expected_version: int | None = None) -> None:
    """Staff reply: mailed to the sender and shown on their status page."""
    if inquiry.status == INQUIRY_CLOSED:
        raise lifecycle.IllegalTransition("a closed inquiry cannot be answered")
    _change(session, inquiry, INQUIRY_ANSWERED, actor=actor, action="inquiry_answered",
            expected_version=expected_version)
    inquiry.answered_at = inquiry.answered_at or clock.now()
    session.add(InquiryMessage(inquiry_id=inquiry.id, direction="to_sender", author=actor, body=body.strip()))
    _mail_sender(session, inquiry, "inquiry_reply", _l("Our answer to your message %(reference)s",
                                                      reference=inquiry.reference), body=body.strip())
    session.commit()


@atomic
def follow_up(session: Session, *, inquiry: Inquiry, body: str) -> None:
    """The sender writes back from their status page: the inquiry is open again."""
    if inquiry.status == INQUIRY_CLOSED:
        raise lifecycle.IllegalTransition("a closed inquiry takes no more messages")
    _change(session, inquiry, INQUIRY_OPEN, actor="requester", action="inquiry_follow_up", expected_version=None)
    session.add(InquiryMessage(inquiry_id=inquiry.id, direction="from_sender", author="requester", body=body.strip()))
    session.commit()


@atomic
def close(session: Session, *, inquiry: Inquiry, actor: str, expected_version: int | None = None) -> None:
    _change(session, inquiry, INQUIRY_CLOSED, actor=actor, action="inquiry_closed", expected_version=expected_version)
    inquiry.closed_at = clock.now()
    session.commit()


def linked_request(session: Session, inquiry: Inquiry) -> PrivacyRequest | None:
    return session.get(PrivacyRequest, inquiry.linked_request_id) if inquiry.linked_request_id else None


def listing(session: Session, *, status: str = "open", kind: str = "", limit: int = 200) -> list[Inquiry]:
    """Inquiries for the console: urgent ones first, then by the date an answer is due."""
    query = select(Inquiry)
    if status in lifecycle.INQUIRY_STATUS_LABELS:
        query = query.where(Inquiry.status == status)
    elif status == "open_or_answered":
        query = query.where(Inquiry.status != INQUIRY_CLOSED)
    if kind in INQUIRY_KINDS:
        query = query.where(Inquiry.kind == kind)
    query = query.order_by(Inquiry.urgent.desc(), Inquiry.response_due, Inquiry.id).limit(limit)
    return session.execute(query).scalars().all()


def is_late(inquiry: Inquiry, today) -> bool:
    """Still unanswered after the promised 5 business days."""
    return inquiry.status == INQUIRY_OPEN and inquiry.response_due < today


def open_urgent(session: Session) -> list[Inquiry]:
    """Security concerns nobody has answered yet: the console shows them above everything else."""
    return session.execute(select(Inquiry).where(Inquiry.status == INQUIRY_OPEN, Inquiry.urgent.is_(True))
                           .order_by(Inquiry.received_at)).scalars().all()


def count_open(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Inquiry).where(Inquiry.status == INQUIRY_OPEN)).scalar()


def linking_to(session: Session, req: PrivacyRequest) -> Inquiry | None:
    """The child's-information report a deletion case was opened from, if any."""
    return session.execute(select(Inquiry).where(Inquiry.linked_request_id == req.id)).scalar()


def events(session: Session, inquiry: Inquiry) -> list[AuditEvent]:
    return session.execute(select(AuditEvent).where(AuditEvent.inquiry_id == inquiry.id)
                           .order_by(AuditEvent.id)).scalars().all()


@atomic
def open_attachment(session: Session, *, inquiry: Inquiry, actor: str) -> tuple[Document, bytes]:
    """The sender's attachment, decrypted for staff, the access on record. LookupError if none or unreadable."""
    doc = session.get(Document, inquiry.attachment_id) if inquiry.attachment_id else None
    if doc is None:
        raise LookupError(inquiry.reference)
    try:
        data = documents.read(session, document=doc)
    except documents.DocumentTampered:
        raise LookupError(inquiry.reference) from None
    documents.record_access(session, document=doc, actor=actor, action="document_downloaded", inquiry_id=inquiry.id)
    return doc, data
