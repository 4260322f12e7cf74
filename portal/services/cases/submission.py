"""Privacy requests: the one constructor of a case, submission, withdrawal, extension, expiry, the timeline."""
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import bindparam, literal, null, select, union_all
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from ... import clock, lifecycle, normalize
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...lifecycle import AWAITING_EMAIL, OPEN, REQUEST_TYPES, WITHDRAWN
from ...models import AuditEvent, PrivacyRequest, RequestMessage
from .. import audit
from ..documents import pending
from ..documents import store as documents
from ..identity import tiers
from . import letters, references, verification
from .transitions import MailSpec, check_version, mail_requester, status_changed, transition

log = logging.getLogger(__name__)

LOOKBACK_FLOOR = date(2022, 1, 1)  # §7024(h): no obligation to look back before this date


@dataclass(frozen=True)
class NewRequest:
    """What a requester (or staff, for phone and mail intake) submits; already validated."""

    request_type: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    claim_number: str | None = None
    date_of_birth: date | None = None
    date_of_injury: date | None = None
    employer: str | None = None
    postal_code: str | None = None
    correction_points: str | None = None  # comma-separated: the details a correction disputes
    details: str | None = None
    correction_current: str | None = None
    correction_details: str | None = None
    access_scope: str | None = None
    lookback: str = "12_months"  # or "since_2022"
    declaration_signature: str | None = None
    language: str = "en"
    # correct: supporting documents, each (stream, filename, declared type), checked by the documents service
    documents: tuple = ()
    # correct: uploads kept from an earlier try of the same form (documents.pending), by id
    kept_documents: tuple[int, ...] = ()


@dataclass(frozen=True)
class SubmitOutcome:
    request: PrivacyRequest
    duplicate: bool


def lookback_start(choice: str, received: date) -> date:
    """§7024(g)-(h): 12 months by default, back to 2022-01-01 on request."""
    if choice == "since_2022":
        return LOOKBACK_FLOOR
    try:
        start = received.replace(year=received.year - 1)
    except ValueError:  # 29 February
        start = received.replace(year=received.year - 1, day=28)
    return max(start, LOOKBACK_FLOOR)


_BY_REFERENCE = select(PrivacyRequest).where(PrivacyRequest.reference == bindparam("reference"))  # built once


def get_by_reference(session: Session, reference: str) -> PrivacyRequest | None:
    return session.execute(_BY_REFERENCE, {"reference": reference}).scalar()


def find_open_duplicate(session: Session, *, email: str, request_type: str) -> PrivacyRequest | None:
    return session.execute(select(PrivacyRequest).where(
        PrivacyRequest.email == email, PrivacyRequest.request_type == request_type,
        PrivacyRequest.status.in_(OPEN)).order_by(PrivacyRequest.id).limit(1)).scalar()


def open_case(session: Session, *, request_type: str, first_name: str, last_name: str, email: str, manner: str,
              language: str, received_at: datetime, actor: str, detail: str | None = None, status: str | None = None,
              **fields) -> PrivacyRequest:
    """The one constructor of a new case, however it arrived (web form, phone or mail intake, an
    agent, a child's-information report): a random reference, deadlines counted from receipt, the
    initial status, and the `submitted` audit event. The caller commits."""
    now = clock.now()
    req = PrivacyRequest(
        reference=references.unique(session), request_type=request_type,
        status=status or lifecycle.initial_status(request_type), manner=manner, language=language,
        first_name=first_name.strip(), last_name=last_name.strip(), email=email, received_at=received_at,
        acknowledgement_due=lifecycle.acknowledgement_due(received_at),
        response_due=lifecycle.response_due(request_type, received_at), created_at=now, updated_at=now, **fields)
    session.add(req)
    session.flush()
    audit.record(session, action="submitted", actor=actor, request_id=req.id, to_status=req.status,
                 detail=detail or f"manner={manner}")
    if req.status == lifecycle.IN_PROGRESS:  # opt-out and limit start here: the listeners hear of it
        status_changed(session, req)
    return req


@atomic
def submit(session: Session, *, new: NewRequest, manner: str = "web", received_at: datetime | None = None,
           actor: str = "requester") -> SubmitOutcome:
    """Record a new request, or point the requester to the open one of the same kind."""
    now = clock.now()
    # The documents are checked first, whether or not the request is a duplicate: a refused file is
    # refused either way, and both answers cost the same checking (the view pads the rest).
    checked = check_documents(new)
    duplicate = find_open_duplicate(session, email=normalize.email(new.email), request_type=new.request_type)
    if duplicate is not None:
        audit.record(session, action="duplicate_submission", actor=actor, request_id=duplicate.id)
        if duplicate.status == AWAITING_EMAIL:
            verification.send_link(session, duplicate, now=now)
        else:
            mail_requester(session, duplicate, MailSpec("duplicate", _l("You already have an open privacy request"), {}))
        session.commit()
        log.info("duplicate submission pointed to request %s", duplicate.reference)
        return SubmitOutcome(duplicate, True)
    req = record(session, new=new, manner=manner, received_at=received_at or now, actor=actor, now=now,
                 checked=checked)
    session.commit()
    log.info("request %s submitted (%s, %s)", req.reference, req.request_type, manner)
    return SubmitOutcome(req, False)


def check_documents(new: NewRequest) -> tuple:
    """A correction's supporting documents, checked (documents.Checked each); DocumentRejected for a refused one."""
    if new.request_type != "correct":
        return ()
    return tuple(documents.check(stream=stream, filename=filename, declared_type=declared, purpose="correction")
                 for stream, filename, declared in new.documents)


def record(session: Session, *, new: NewRequest, manner: str, received_at: datetime, actor: str,
           email_confirmed: bool = False, now: datetime | None = None, checked: tuple | None = None) -> PrivacyRequest:
    """A new case from what was submitted, with its first mail, in the caller's transaction (no
    duplicate check). `email_confirmed`: the email was confirmed elsewhere (a Data Rights Protocol
    agent attests it), so a know/delete/correct case starts in verification, acknowledged."""
    now = now or clock.now()
    rule = REQUEST_TYPES[new.request_type]
    confirmed = email_confirmed and rule.needs_verification
    fields = dict(phone=new.phone or None, claim_number=new.claim_number or None, date_of_birth=new.date_of_birth,
                  date_of_injury=new.date_of_injury, employer=new.employer or None,
                  postal_code=new.postal_code or None, details=new.details or None)
    if new.request_type == "access":
        fields.update(access_scope=new.access_scope,
                      lookback_start=lookback_start(new.lookback, lifecycle.local_date(received_at)))
    if new.request_type == "correct":
        fields.update(correction_current=new.correction_current, correction_details=new.correction_details,
                      correction_points=new.correction_points or None)
    if tiers.declaration_required(new.request_type, new.access_scope):
        fields.update(declaration_signature=new.declaration_signature, declaration_signed_at=now)
    if confirmed:
        fields.update(status=lifecycle.VERIFYING, email_confirmed_at=now, acknowledged_at=now)
    req = open_case(session, request_type=new.request_type, first_name=new.first_name, last_name=new.last_name,
                    email=normalize.email(new.email), manner=manner, language=new.language, received_at=received_at,
                    actor=actor, **fields)
    if new.request_type == "correct":
        # §7023: the requester's documentation, kept for staff to weigh. kinds.DocumentRejected
        # (raised before anything is committed) rolls the whole submission back.
        for document in checked if checked is not None else check_documents(new):
            documents.keep(session, checked=document, request_id=req.id, uploaded_by="requester")
        for document_id in new.kept_documents:
            pending.claim(session, document_id=document_id, request_id=req.id, uploaded_by="requester")
    if confirmed:
        mail_requester(session, req, MailSpec("acknowledgement", _l("We received your request: %(reference)s",
                                                                    reference=req.reference), {}))
    elif rule.needs_verification:
        verification.send_link(session, req, now=now)
    else:
        # §7060(b): an opt-out or limit request takes effect now, with no verification gate.
        req.effective_at = req.acknowledged_at = now
        mail_requester(session, req, MailSpec("receipt", _l("We received your request: %(reference)s",
                                                            reference=req.reference), {}))
    return req


@dataclass(frozen=True)
class Intake:
    """What staff record about a phone, mail or email request beyond the request itself."""

    manner: str  # lifecycle.INTAKE_MANNERS
    received_at: datetime
    confirmed_by: str  # lifecycle.INTAKE_CONFIRMATIONS
    acknowledged_by: str  # lifecycle.ACKNOWLEDGEMENT_MEANS
    postal_address: str | None = None


@atomic
def submit_intake(session: Session, *, new: NewRequest, intake: Intake, actor: str) -> SubmitOutcome:
    """A request received by phone, mail or email and typed in by staff (§1798.130(a)(1), §7021). Staff
    confirmed identity and intent with the requester, so there is no emailed link: the case is
    acknowledged by the means recorded and matched against the identity index at once. An email
    address is optional; a postal address is the alternative."""
    now = clock.now()
    email = normalize.email(new.email)
    if not email and not (intake.postal_address or "").strip():
        raise lifecycle.IllegalTransition(_("Give an email address or a postal address."))
    if intake.acknowledged_by == "email" and not email:
        raise lifecycle.IllegalTransition(_("An acknowledgement by email needs the email address."))
    duplicate = find_open_duplicate(session, email=email, request_type=new.request_type) if email else None
    if duplicate is not None:
        audit.record(session, action="duplicate_submission", actor=actor, request_id=duplicate.id)
        session.commit()
        return SubmitOutcome(duplicate, True)
    fields = dict(phone=new.phone or None, claim_number=new.claim_number or None, date_of_birth=new.date_of_birth,
                  date_of_injury=new.date_of_injury, employer=new.employer or None,
                  postal_code=new.postal_code or None, details=new.details or None,
                  postal_address=(intake.postal_address or "").strip() or None,
                  intake_confirmed_by=intake.confirmed_by, acknowledged_by=intake.acknowledged_by, acknowledged_at=now)
    if new.request_type == "access":
        fields.update(access_scope=new.access_scope,
                      lookback_start=lookback_start(new.lookback, lifecycle.local_date(intake.received_at)))
    if new.request_type == "correct":
        fields.update(correction_current=new.correction_current, correction_details=new.correction_details,
                      correction_points=new.correction_points or None)
    if tiers.declaration_required(new.request_type, new.access_scope):
        fields.update(declaration_signature=new.declaration_signature, declaration_signed_at=now)
    needs_check = REQUEST_TYPES[new.request_type].needs_verification
    req = open_case(session, request_type=new.request_type, first_name=new.first_name, last_name=new.last_name,
                    email=email, manner=intake.manner, language=new.language, received_at=intake.received_at,
                    actor=actor, status=lifecycle.VERIFYING if needs_check else lifecycle.IN_PROGRESS,
                    detail=f"manner={intake.manner}; identity and intent confirmed {intake.confirmed_by}; "
                           f"acknowledged {intake.acknowledged_by}", **fields)
    if not needs_check:
        req.effective_at = now  # §7060(b): in effect at once
    if intake.acknowledged_by == "email":
        template = "acknowledgement" if needs_check else "receipt"
        mail_requester(session, req, MailSpec(template, _l("We received your request: %(reference)s",
                                                           reference=req.reference), {}))
    if needs_check:
        verification.match_identity(session, req, actor=actor, now=now)
    session.commit()
    log.info("request %s taken in (%s, %s)", req.reference, req.request_type, intake.manner)
    return SubmitOutcome(req, False)


def open_child_deletion(session: Session, *, inquiry) -> PrivacyRequest:
    """A deletion case for a child's information, linked to the report. The business must delete
    promptly, so it starts in progress: staff complete it without the usual identity tiers."""
    first, _sep, last = inquiry.name.strip().rpartition(" ")
    req = open_case(session, request_type="delete", first_name=(first or last)[:100],
                    last_name=(last if first else "")[:100], email=inquiry.email, manner="web",
                    language=inquiry.language, received_at=inquiry.received_at, actor="requester",
                    status=lifecycle.IN_PROGRESS, details=inquiry.message, acknowledged_at=clock.now(),
                    detail=f"child's information report {inquiry.reference}: no identity tiers apply")
    log.info("request %s opened for child's-data report %s", req.reference, inquiry.reference)
    return req


def can_withdraw(req: PrivacyRequest) -> bool:
    return WITHDRAWN in lifecycle.TRANSITIONS[req.status]


@atomic
def withdraw(session: Session, *, req: PrivacyRequest, actor: str = "requester") -> None:
    """The requester takes the request back."""
    transition(session, req, WITHDRAWN, actor=actor, action="withdrawn",
               mail_spec=MailSpec("withdrawn", _l("Request %(reference)s withdrawn", reference=req.reference), {}))
    session.commit()


@atomic
def extend(session: Session, *, req: PrivacyRequest, days: int, reason: str, actor: str,
           expected_version: int | None = None, today: date | None = None) -> None:
    """§7021(b): one extension of up to 45 days, with a reason mailed, before the original due date."""
    today = today or clock.today()
    check_version(req, expected_version)
    if not reason.strip():
        raise lifecycle.IllegalTransition("an extension needs a reason for the requester")
    if not lifecycle.extension_allowed(request_type=req.request_type, status=req.status, response_due=req.response_due,
                                       extended_due=req.extended_due, today=today):
        raise lifecycle.IllegalTransition("this request cannot be extended: once only, before the original due date")
    req.extended_due = lifecycle.extended_due(req.response_due, days)
    req.extension_reason = reason.strip()
    req.updated_at = clock.now()
    session.add(req)
    audit.record(session, action="extended", actor=actor, request_id=req.id,
                 detail=f"{days} days, due {req.extended_due.isoformat()}")
    status_changed(session, req)  # the new due date: a DRP agent hears of it (DRP §3.08 expected_by)
    mail_requester(session, req, extension_mail(req, req.extension_reason))
    session.commit()


def extension_mail(req: PrivacyRequest, reason: str) -> MailSpec:
    """§7021(b): the extension's reason, as the requester receives it."""
    return MailSpec("extension", _l("More time needed for request %(reference)s", reference=req.reference),
                    {"reason": reason.strip()})


@atomic
def expire_unconfirmed(session: Session, *, now: datetime | None = None) -> int:
    """Close what could not be verified, never before the response due date (§7021(b)): a web request
    whose email was never confirmed within UNCONFIRMED_EXPIRY_DAYS, and a request still held for
    details from the requester, are denied as unverifiable, with the reason mailed. Intake cases
    never wait for an email link, so they are never closed this way."""
    now = now or clock.now()
    today = lifecycle.local_date(now)
    cutoff = now - timedelta(days=current_app.config["UNCONFIRMED_EXPIRY_DAYS"])
    unconfirmed = session.execute(select(PrivacyRequest).where(
        PrivacyRequest.status == AWAITING_EMAIL, PrivacyRequest.received_at < cutoff)).scalars().all()
    # A postal requester is not denied before the letter asking for more details has gone out.
    held = session.execute(select(PrivacyRequest).where(
        PrivacyRequest.status == lifecycle.ON_HOLD,
        PrivacyRequest.hold_reason.in_(verification.MATCHING_HOLDS),
        ~letters.unsent_exists(PrivacyRequest.id))).scalars().all()
    closed = 0
    for req in [*unconfirmed, *held]:
        if today < req.due or req.status not in (AWAITING_EMAIL, lifecycle.ON_HOLD):
            continue  # the requester still has until the due date (or it was closed meanwhile)
        req_id = req.id
        try:  # each in its own transaction: another worker (or staff) may have closed it meanwhile
            verification.deny_unverifiable(session, req, now=now,
                                           never_confirmed=req.status == AWAITING_EMAIL)
            session.commit()
        except StaleDataError:
            session.rollback()  # the version check failed: someone else changed it first; nothing to do
            log.info("request %s changed meanwhile; not expired here", req_id)
            continue
        closed += 1
    session.commit()
    return closed


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # status | message_in | message_out | extended
    status: str | None = None
    body: str | None = None


def timeline_union(request_id):
    """Status changes, messages and the extension of one request (`request_id`: a value or a SQL expression),
    in one statement: rows of (at, source, id, status, direction, body); `entries` orders them."""
    return union_all(
        select(AuditEvent.created_at.label("at"), literal(0).label("source"), AuditEvent.id.label("id"),
               AuditEvent.to_status.label("status"), null().label("direction"), null().label("body"))
        .where(AuditEvent.request_id == request_id, AuditEvent.to_status.is_not(None)),
        select(RequestMessage.created_at, literal(1), RequestMessage.id, null(), RequestMessage.direction,
               RequestMessage.body)
        .where(RequestMessage.request_id == request_id),
        select(AuditEvent.created_at, literal(2), AuditEvent.id, null(), null(), null())
        .where(AuditEvent.request_id == request_id, AuditEvent.action == "extended"))


_TIMELINE = timeline_union(bindparam("request_id"))


def entries(rows) -> list[TimelineEntry]:
    """Timeline rows (timeline_union) as entries, oldest first (on the same moment, status changes
    before messages)."""
    return [TimelineEntry(at, "status", status=status) if source == 0 else
            TimelineEntry(at, "extended") if source == 2 else
            TimelineEntry(at, "message_out" if direction == "to_requester" else "message_in", body=body)
            for at, source, _id, status, direction, body in sorted(rows, key=lambda r: (r[0], r[1], r[2]))]


def timeline(session: Session, req: PrivacyRequest) -> list[TimelineEntry]:
    """What the requester sees: every status change and every message, oldest first."""
    return entries(session.connection().execute(_TIMELINE, {"request_id": req.id}).all())
