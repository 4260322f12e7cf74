"""Case work in the staff console: what can be done next, verification by hand, holds, information
requests, extensions, notes and the case's documents (outcomes.py ends a case; queue.py lists them).

Every action takes the case `version` the member of staff saw (optimistic locking): a stale one
raises transitions.StaleCase and nothing is written. Every status change goes through
transitions.transition, which writes the audit event and queues the mail in the same transaction.
"""
import logging
from datetime import date, datetime, time

from flask_babel import gettext as _
from sqlmodel import Session

from ... import clock, lifecycle
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...lifecycle import (
    AWAITING_EMAIL,
    DENIED,
    IN_PROGRESS,
    ON_HOLD,
    VERIFYING,
    IllegalTransition,
)
from ...models import (
    CaseNote,
    Document,
    IdentityCheck,
    PrivacyRequest,
    RequestMessage,
    StaffUser,
)
from .. import audit
from ..documents import kinds
from ..documents import store as documents
from ..identity import tiers
from . import agents, verification
from . import submission as request_service
from .transitions import MailSpec, mail_requester, transition

log = logging.getLogger(__name__)

# What staff can match against the business's records when they verify identity by hand (§7060(c)):
# the points of the identity index, and two only a person can check.
DATA_POINTS = {
    "email": _l("Email address (only one the business holds for this person)"),
    "phone": _l("Phone number"),
    "name_dob": _l("Name and date of birth"),
    "claim_number": _l("Claim or account number"),
    "date_of_injury": _l("Date of injury"),
    "employer": _l("Employer"),
    "postal_code": _l("ZIP code"),
    "postal_address": _l("Postal address"),
    "transaction": _l("A recent invoice or payment detail"),
}
# Where a point checked by hand was confirmed: recorded with each point.
VERIFICATION_SOURCES = {
    "phone_call": _l("A phone call with the requester"),
    "document": _l("A document the requester sent"),
    "claim_file": _l("The claim or billing file"),
}


def matched_automatically(session: Session, req: PrivacyRequest) -> tuple[str, ...]:
    """The points the identity index matched for this case at its latest matching."""
    attempt = verification.latest_attempt(session, req)
    if attempt is None or not attempt.subject_key or not attempt.matched:
        return ()
    return tuple(attempt.matched.split(","))


# ---- what can be done from here --------------------------------------------------------------

def available_actions(req: PrivacyRequest, *, on: date | None = None) -> list[str]:
    """The actions the lifecycle allows from the case's current status, in the order shown."""
    on = on or clock.today()
    nxt = lifecycle.TRANSITIONS[req.status]
    actions = []
    # An agent's authorization is accepted or rejected through its review, never bypassed.
    reviewing = agents.review_pending(req)
    if agents.in_review(req):
        actions += list(agents.REVIEW_ACTIONS)
    elif req.status in (VERIFYING, ON_HOLD) and IN_PROGRESS in nxt and not reviewing:
        actions.append("verify")
    if req.status == VERIFYING and ON_HOLD in nxt:
        actions += ["request_info", "fraud_hold"]
    elif req.status == ON_HOLD and req.hold_reason in verification.MATCHING_HOLDS:
        actions.append("request_info")  # staff resolving a verification hold may ask the requester
    if req.status == ON_HOLD and VERIFYING in nxt and not reviewing:
        actions.append("clear_hold")
    if req.status == IN_PROGRESS:
        actions.append("complete")
    if lifecycle.extension_allowed(request_type=req.request_type, status=req.status, response_due=req.response_due,
                                   extended_due=req.extended_due, today=on):
        actions.append("extend")
    if DENIED in nxt and req.status != AWAITING_EMAIL:  # an unconfirmed request is denied only at its due date
        actions.append("deny")
    return actions


def require_action(req: PrivacyRequest, action: str) -> None:
    if action not in available_actions(req):
        raise IllegalTransition(f"{action} is not possible while the request is {req.status}")


# ---- actions ---------------------------------------------------------------------------------

@atomic
def verify_identity(session: Session, *, req: PrivacyRequest, staff: StaffUser, sources: dict[str, str],
                    note: str | None, expected_version: int) -> None:
    """Staff matched the requester against the records by hand: each point with the source that
    confirmed it (a phone call, a document, the claim file). The points the identity index already
    matched count too. The case moves to in progress."""
    require_action(req, "verify")
    sources = {p: s for p, s in sources.items() if s}
    if any(p not in DATA_POINTS for p in sources):
        raise IllegalTransition("unknown data point")
    if any(s not in VERIFICATION_SOURCES for s in sources.values()):
        raise IllegalTransition("unknown source")
    for point in tiers.excluded_points(req):
        sources.pop(point, None)  # §7060(h): a correction's disputed details never verify it
    automatic = matched_automatically(session, req)
    needed = tiers.points_required(req)
    if len(set(sources) | set(automatic)) < needed:
        raise IllegalTransition(_("This request needs at least %(n)s matching data points.", n=needed))
    points = ",".join(f"{p}:{sources[p]}" for p in sorted(sources))
    detail = "by hand: " + (", ".join(f"{p} ({sources[p]})" for p in sorted(sources)) or "none")
    if automatic:
        detail += "; matched automatically: " + ", ".join(automatic)
    transition(session, req, IN_PROGRESS, actor=audit.staff_actor(staff), action="identity_verified",
               detail=detail, expected_version=expected_version)
    session.add(IdentityCheck(request_id=req.id, staff_id=staff.id, data_points=points[:200],
                              note=(note or "").strip() or None))
    session.commit()


@atomic
def place_fraud_hold(session: Session, *, req: PrivacyRequest, staff: StaffUser, reason: str,
                     expected_version: int) -> None:
    """§7061: hold a case for a security review. The requester is not told why (no tip-off)."""
    require_action(req, "fraud_hold")
    if not reason.strip():
        raise IllegalTransition("a fraud hold needs a reason")
    transition(session, req, ON_HOLD, actor=audit.staff_actor(staff), action="fraud_hold",
                               hold_reason="fraud_suspected", expected_version=expected_version)
    session.add(CaseNote(request_id=req.id, staff_id=staff.id, body=_("Fraud hold: %(reason)s", reason=reason.strip())))
    session.commit()


@atomic
def clear_hold(session: Session, *, req: PrivacyRequest, staff: StaffUser, reason: str,
               expected_version: int) -> None:
    """Release a hold: the case goes back to identity verification."""
    require_action(req, "clear_hold")
    if not reason.strip():
        raise IllegalTransition("clearing a hold needs a reason")
    held_for = req.hold_reason
    transition(session, req, VERIFYING, actor=audit.staff_actor(staff), action="hold_cleared",
                               detail=f"was {held_for}", expected_version=expected_version)
    session.add(CaseNote(request_id=req.id, staff_id=staff.id, body=_("Hold cleared: %(reason)s", reason=reason.strip())))
    session.commit()


@atomic
def request_information(session: Session, *, req: PrivacyRequest, staff: StaffUser, message: str,
                        expected_version: int) -> None:
    """Ask the requester for more information: mailed, and on hold until they answer."""
    require_action(req, "request_info")
    message = message.strip()
    if not message:
        raise IllegalTransition("the request for information needs a message")
    transition(
        session, req, ON_HOLD, actor=audit.staff_actor(staff), action="information_requested",
        hold_reason="information_requested", expected_version=expected_version,
        mail_spec=information_mail(req, message))
    session.add(RequestMessage(request_id=req.id, direction="to_requester", author=audit.staff_actor(staff), body=message))
    session.commit()


def information_mail(req: PrivacyRequest, message: str) -> MailSpec:
    """What the requester (or the agent) receives when staff ask for information or documents."""
    return MailSpec("information_requested", _l("We need more information for request %(reference)s",
                                                reference=req.reference), {"message": message.strip()})


def can_answer(req: PrivacyRequest) -> bool:
    return req.status == ON_HOLD and req.hold_reason == "information_requested"


@atomic
def answer_information(session: Session, *, req: PrivacyRequest, body: str, attachment: tuple | None = None) -> None:
    """The requester answers from their status page, with text and optionally one document
    ((stream, filename, declared type); kinds.DocumentRejected if refused, nothing saved).
    The wait was on them, so the case goes back to `verifying` and reappears in the queue."""
    body = body.strip()
    if not can_answer(req):
        raise IllegalTransition("this request is not waiting for information")
    if not body:
        raise IllegalTransition("an answer needs some text")
    # An agent answering while their authorization is under review: the answer (and its document)
    # belongs to that review, which resumes; otherwise the case goes back to verification.
    reviewing = agents.review_pending(req)
    if attachment is not None:
        stream, filename, declared = attachment
        documents.store(session, stream=stream, filename=filename, declared_type=declared,
                        purpose="authorization" if reviewing else "evidence", request_id=req.id,
                        uploaded_by="agent" if reviewing else "requester")
    session.add(RequestMessage(request_id=req.id, direction="from_requester", author="requester", body=body))
    if reviewing:
        transition(session, req, ON_HOLD, actor="agent", action="information_provided",
                                   hold_reason="agent_authorization")
    else:
        transition(session, req, VERIFYING, actor="requester", action="information_provided")
    session.commit()


@atomic
def extend(session: Session, *, req: PrivacyRequest, staff: StaffUser, days: int, reason: str,
           expected_version: int, on: date | None = None) -> None:
    """§7021(b): one extension, with the reason mailed (requests.extend holds the rules)."""
    request_service.extend(session, req=req, days=days, reason=reason, actor=audit.staff_actor(staff),
                           expected_version=expected_version, today=on)


@atomic
def add_note(session: Session, *, req: PrivacyRequest, staff: StaffUser, body: str) -> CaseNote:
    """An internal note. Notes change nothing on the case, so they need no version check."""
    body = body.strip()
    if not body:
        raise IllegalTransition("a note needs some text")
    note = CaseNote(request_id=req.id, staff_id=staff.id, body=body)
    session.add(note)
    # The note's text stays out of the audit chain: it may hold personal data, and the chain is kept.
    audit.record(session, action="note_added", actor=audit.staff_actor(staff), request_id=req.id)
    session.commit()
    return note


STAFF_DOCUMENT_PURPOSES = ("authorization", "evidence", "correction")


@atomic
def open_document(session: Session, *, req: PrivacyRequest, document_id: int, staff: StaffUser,
                  inline: bool = False) -> tuple[Document, bytes]:
    """A document the agent or requester sent with this case, decrypted for staff, the look on record
    (`document_viewed` for an inline preview, `document_downloaded` otherwise). LookupError when it is
    not this case's (object-level check: a document id from another case finds nothing), or cannot be read."""
    doc = session.get(Document, document_id)
    if doc is None or doc.request_id != req.id or doc.purpose not in STAFF_DOCUMENT_PURPOSES:
        raise LookupError(document_id)
    if inline and doc.content_type not in kinds.INLINE_TYPES:
        raise LookupError(document_id)
    try:
        data = documents.read(session, document=doc)
    except documents.DocumentTampered:
        raise LookupError(document_id) from None
    documents.record_access(session, document=doc, actor=audit.staff_actor(staff),
                            action="document_viewed" if inline else "document_downloaded")
    return doc, data


def intake_received_at(received_on: date, *, now: datetime | None = None) -> datetime:
    """The moment to count deadlines from for a phone or mail request received on a California date."""
    now = now or clock.now()
    if received_on >= lifecycle.local_date(now):
        return now
    return datetime.combine(received_on, time(12, 0), lifecycle.PACIFIC).astimezone(now.tzinfo)


# ---- what the case page shows ----------------------------------------------------------------


# ---- the queue -------------------------------------------------------------------------------




@atomic
def send_acknowledgement(session: Session, *, req: PrivacyRequest, staff: StaffUser) -> None:
    """§7021(a): staff send the acknowledgement a case never had, from the console's list: a fresh
    confirmation link (which carries the same facts) while the email is unconfirmed, else the
    acknowledgement itself (a letter owed when the case has no email)."""
    if req.acknowledged_at is not None or req.status not in lifecycle.OPEN:
        raise IllegalTransition(_("This request's receipt is already acknowledged."))
    now = clock.now()
    if req.status == lifecycle.AWAITING_EMAIL:
        verification.send_link(session, req, now=now)
    else:
        mail_requester(session, req, MailSpec("acknowledgement", _l("We received your request: %(reference)s",
                                                                    reference=req.reference), {}))
    req.acknowledged_at = now
    audit.record(session, action="acknowledgement_sent", actor=audit.staff_actor(staff), request_id=req.id)
    session.commit()
