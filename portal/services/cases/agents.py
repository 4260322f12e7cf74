"""Authorized agents (§7063, §7026(j)): a request made for a consumer, on a signed permission or a
power of attorney, confirmed by the consumer when reachable and reviewed by staff.

The request's own email is the agent's: the agent confirms it with the same single-use token as a
requester, receives the request's mail and tracks its status with the reference and that email.
"""
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import BinaryIO

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import object_session
from sqlmodel import Session

from ... import clock, lifecycle, normalize
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...lifecycle import (
    AWAITING_EMAIL,
    DENIED,
    FINAL,
    IN_PROGRESS,
    ON_HOLD,
    OPEN,
    REQUEST_TYPES,
    VERIFYING,
    IllegalTransition,
)
from ...models import AgentAuthorization, CaseOutcome, PrivacyRequest, RequestMessage, StaffUser
from .. import audit
from ..documents import store as documents
from ..identity import tiers, tokens
from . import verification
from .submission import lookback_start, open_case
from .transitions import MailSpec, agent_of, check_version, mail_requester, transition

log = logging.getLogger(__name__)

AGENT_KINDS = {"person": _l("A person (a family member, friend or attorney)"),
               "business": _l("A business acting for the consumer")}
AUTHORIZATION_KINDS = {
    "signed_permission": _l("Written permission signed by the consumer"),
    # Probate Code §§4121-4130: with a power of attorney the consumer is not asked to confirm (§7063(b)).
    "power_of_attorney": _l("A power of attorney (California Probate Code §§4121-4130)"),
}


@dataclass(frozen=True)
class NewAgentRequest:
    """What an agent submits; already validated by the form."""

    request_type: str
    agent_kind: str
    agent_name: str
    agent_email: str
    consumer_first_name: str
    consumer_last_name: str
    authorization_kind: str
    agent_business_name: str | None = None
    agent_sos_number: str | None = None
    consumer_email: str | None = None
    consumer_phone: str | None = None
    # What the consumer's own form asks for the type (§7063: the same rules for an agent's request).
    access_scope: str | None = None
    lookback: str = "12_months"
    correction_current: str | None = None
    correction_details: str | None = None
    correction_points: str | None = None
    # The consumer's data points, matched against the identity index like a consumer's own.
    date_of_birth: date | None = None
    claim_number: str | None = None
    date_of_injury: date | None = None
    employer: str | None = None
    postal_code: str | None = None
    language: str = "en"


@dataclass(frozen=True)
class Upload:
    """The authorization file as it arrived: read through the documents service, never here."""

    stream: BinaryIO
    filename: str | None
    content_type: str | None


def find_open_duplicate(session: Session, *, agent_email: str, request_type: str, first_name: str,
                        last_name: str) -> PrivacyRequest | None:
    """The same agent's open request of the same kind for the same consumer (a resubmission or a
    double click), so a second case is not opened."""
    candidates = session.execute(
        select(PrivacyRequest).join(AgentAuthorization, AgentAuthorization.request_id == PrivacyRequest.id)
        .where(AgentAuthorization.agent_email == agent_email, PrivacyRequest.request_type == request_type,
               PrivacyRequest.status.in_(OPEN)).order_by(PrivacyRequest.id)).scalars()
    name = (first_name.strip().casefold(), last_name.strip().casefold())
    return next((r for r in candidates if (r.first_name.casefold(), r.last_name.casefold()) == name), None)


@atomic
def submit(session: Session, *, new: NewAgentRequest, upload: Upload) -> PrivacyRequest:
    """Record a request made by an agent, with its authorization document; mail the agent a link
    to confirm their email. Raises kinds.DocumentRejected (nothing saved) for a refused file."""
    # The file is checked first: a refused upload gets its message whether or not a case exists.
    data = documents.inspect(stream=upload.stream, filename=upload.filename, declared_type=upload.content_type,
                             purpose="authorization")
    now = clock.now()
    agent_email = normalize.email(new.agent_email)
    duplicate = find_open_duplicate(session, agent_email=agent_email, request_type=new.request_type,
                                    first_name=new.consumer_first_name, last_name=new.consumer_last_name)
    if duplicate is not None:
        _point_to_duplicate(session, duplicate, now)
        return duplicate
    doc = documents.store(session, stream=io.BytesIO(data), filename=upload.filename,
                          declared_type=upload.content_type, purpose="authorization", uploaded_by="agent")
    business = new.agent_kind == "business"
    # Know, delete and correct: the agent confirms their own email first. Opt-out and limit take
    # effect on upload of the signed permission, staff review it afterwards (§7026(j), §7060(b)).
    needs_check = REQUEST_TYPES[new.request_type].needs_verification
    fields = dict(phone=new.consumer_phone or None, date_of_birth=new.date_of_birth,
                  claim_number=new.claim_number or None, date_of_injury=new.date_of_injury,
                  employer=new.employer or None, postal_code=new.postal_code or None)
    if new.request_type == "access":
        fields.update(access_scope=new.access_scope or "categories",
                      lookback_start=lookback_start(new.lookback, lifecycle.local_date(now)))
    if new.request_type == "correct":
        fields.update(correction_current=new.correction_current, correction_details=new.correction_details,
                      correction_points=new.correction_points or None)
    if not needs_check:
        fields.update(effective_at=now, acknowledged_at=now)
    req = open_case(session, request_type=new.request_type, first_name=new.consumer_first_name,
                    last_name=new.consumer_last_name, email=agent_email, manner="web", language=new.language,
                    received_at=now, actor="agent", status=AWAITING_EMAIL if needs_check else VERIFYING,
                    detail=f"manner=web; agent={new.agent_kind}; authorization={new.authorization_kind}; "
                           "the agent declared their authority", **fields)
    doc.request_id = req.id
    auth = AgentAuthorization(
        request_id=req.id, agent_kind=new.agent_kind, agent_name=new.agent_name.strip(),
        agent_email=req.email,
        agent_business_name=((new.agent_business_name or "").strip() or None) if business else None,
        agent_sos_number=(new.agent_sos_number or None) if business else None,
        consumer_email=normalize.email(new.consumer_email) if new.consumer_email else None,
        consumer_phone=new.consumer_phone or None, authorization_kind=new.authorization_kind,
        document_id=doc.id, created_at=now)
    session.add(auth)
    audit.record(session, action="document_uploaded", actor="agent", request_id=req.id,
                 detail=f"document {doc.id} (authorization)")
    if needs_check:
        verification.send_link(session, req, now=now)
    else:
        mail_requester(session, req, MailSpec("agent_acknowledgement", _("We received your request: %(reference)s",
                                                                        reference=req.reference),
                                              {"waits_for_consumer": False, "in_effect": True}))
        verification.hold_for_authorization_review(session, req, auth, now=now)
    session.commit()
    log.info("agent request %s submitted (%s, %s)", req.reference, req.request_type, new.authorization_kind)
    return req


def _point_to_duplicate(session: Session, req: PrivacyRequest, now: datetime) -> None:
    """Tell the agent about the open case instead of opening a second one (same page either way)."""
    audit.record(session, action="duplicate_submission", actor="agent", request_id=req.id)
    if req.status == AWAITING_EMAIL:
        verification.send_link(session, req, now=now)
    else:
        mail_requester(session, req, MailSpec(
            "agent_duplicate", _l("You already have an open request for %(name)s", name=f"{req.first_name} {req.last_name}"),
            {}))
    session.commit()
    log.info("duplicate agent submission pointed to request %s", req.reference)


def request_for_confirmation(session: Session, *, token: str) -> tuple[PrivacyRequest, AgentAuthorization]:
    """The request behind a consumer's confirmation link; tokens.TokenError when it cannot be used."""
    row = tokens.check(session, value=token, purpose="agent_confirm")
    req = session.get(PrivacyRequest, row.request_id)
    auth = agent_of(session, req)
    if req.status in FINAL or auth.consumer_decision is not None:
        raise tokens.TokenError("used", row)
    return req, auth


CONSUMER_REJECTION_CODE = "agent_not_authorized"
CONSUMER_REJECTION_CITATION = "Cal. Code Regs., tit. 11, § 7063(a)"


@atomic
def record_consumer_decision(session: Session, *, token: str, confirmed: bool, points: dict | None = None,
                             declaration_signature: str | None = None) -> PrivacyRequest:
    """Spend the consumer's link: a confirmation goes on file for the staff review; a rejection
    ends the request and tells the agent. Confirming, the consumer may verify directly (§7063(a)):
    the data points they give are matched once the authorization is accepted, and they may sign
    the declaration themselves for a high-tier request."""
    now = clock.now()
    req, auth = request_for_confirmation(session, token=token)
    tokens.spend(session, value=token, purpose="agent_confirm", now=now)
    auth.consumer_decision, auth.consumer_decided_at = ("confirmed" if confirmed else "rejected"), now
    session.add(auth)
    if confirmed:
        given = [p for p in verification.ADDABLE_POINTS if (points or {}).get(p) not in (None, "")]
        for point in given:
            setattr(req, point, points[point])
        if declaration_signature and tiers.declaration_needed(req):
            req.declaration_signature, req.declaration_signed_at = declaration_signature.strip()[:200], now
            given.append("declaration")
        session.add(req)
        audit.record(session, action="agent_confirmed_by_consumer", actor="consumer", request_id=req.id,
                     detail=("consumer gave: " + ", ".join(given)) if given else None)
    else:
        req.outcome_code, req.outcome_citation = CONSUMER_REJECTION_CODE, CONSUMER_REJECTION_CITATION
        req.response_message = _("The consumer told us they did not authorize this request.")
        transition(session, req, DENIED, actor="consumer", action="agent_rejected_by_consumer", now=now,
                   mail_spec=MailSpec("agent_rejected", _l("Request %(reference)s closed: not confirmed by the consumer",
                                                          reference=req.reference), {"auth": auth}))
    session.commit()
    log.info("agent request %s %s by the consumer", req.reference, auth.consumer_decision)
    return req


# ---- the staff review (§7063, §7026(j)) ------------------------------------------------------

# What staff check on the document before accepting it; every item must hold.
REVIEW_CHECKLIST = {
    "signed": _l("Signed by the consumer"),
    "names_agent": _l("Names this agent (the person or business that sent the request)"),
    "scope": _l("Its scope covers this kind of request"),
    "dated": _l("Dated"),
    "not_expired": _l("Not expired, and not revoked"),
}
CONSUMER_STATES = {
    "confirmed": _l("Confirmed by the consumer"),
    "rejected": _l("Rejected by the consumer"),
    "waiting": _l("Waiting for the consumer's answer"),
    "not_asked": _l("Not asked: no email address was given for the consumer"),
    "not_applicable": _l("Not applicable: a power of attorney needs no confirmation (§7063(b))"),
}
# The case actions of the review, offered instead of verifying identity while it is pending.
REVIEW_ACTIONS = ("accept_agent", "reject_agent", "ask_agent")
AGENT_REVIEW_REJECTED_CODE = "agent_authorization_rejected"
AGENT_REVIEW_CITATION = "Cal. Code Regs., tit. 11, § 7063(a)"
OPT_OUT_CITATION = "Cal. Code Regs., tit. 11, § 7026(j)"
# How the two ways an agent's request ends unauthorized appear on the case page and in the metrics.
OUTCOME_BASES = {
    CONSUMER_REJECTION_CODE: {"code": CONSUMER_REJECTION_CODE, "label": _l("The consumer did not confirm the agent"),
                              "citation": CONSUMER_REJECTION_CITATION},
    AGENT_REVIEW_REJECTED_CODE: {"code": AGENT_REVIEW_REJECTED_CODE,
                                 "label": _l("The agent's authorization was not accepted"),
                                 "citation": AGENT_REVIEW_CITATION},
}


def consumer_state(auth: AgentAuthorization) -> str:
    """Where the consumer's confirmation stands: a key of CONSUMER_STATES."""
    if auth.authorization_kind == "power_of_attorney":
        return "not_applicable"
    if auth.consumer_decision:
        return auth.consumer_decision
    return "waiting" if auth.consumer_email else "not_asked"


def in_review(req: PrivacyRequest) -> bool:
    """The case waits for staff to accept or reject the agent's authorization."""
    return req.status == ON_HOLD and req.hold_reason == "agent_authorization"


def review_pending(req: PrivacyRequest) -> bool:
    """An agent's open case whose authorization staff have not accepted or rejected yet (in review,
    or waiting for documents staff asked the agent for)."""
    session = object_session(req)
    if session is None or req.status != ON_HOLD:
        return False
    with session.no_autoflush:  # a question, asked mid-transaction: it must not write anything
        auth = agent_of(session, req)
    return auth is not None and auth.review_decision is None and req.status == ON_HOLD


def next_status(req: PrivacyRequest) -> str:
    """Where an accepted authorization sends the case: identity verification for know, delete and
    correct (the consumer's identity is still checked, §7063(a)), straight to work for an opt-out
    or limit request, which needs no verification (§7026(j), §7060(b))."""
    return VERIFYING if REQUEST_TYPES[req.request_type].needs_verification else IN_PROGRESS


def _reviewable(session: Session, req: PrivacyRequest, expected_version: int) -> AgentAuthorization:
    check_version(req, expected_version)
    auth = agent_of(session, req)
    if auth is None or not in_review(req) or auth.review_decision is not None:
        raise IllegalTransition("this case is not waiting for an authorization review")
    return auth


@atomic
def accept_authorization(session: Session, *, req: PrivacyRequest, staff: StaffUser, checklist: list[str],
                         note: str | None, expected_version: int) -> None:
    """Staff accept the authorization with every checklist item ticked; the case moves on and the
    agent is told what happens next."""
    auth = _reviewable(session, req, expected_version)
    ticked = sorted(set(checklist))
    if ticked != sorted(REVIEW_CHECKLIST):
        raise IllegalTransition("every item of the review checklist must hold to accept")
    now, staff_actor = clock.now(), f"staff:{staff.id}"
    to_status = next_status(req)
    auth.review_decision, auth.review_checklist = "accepted", ",".join(ticked)
    auth.review_reason, auth.reviewed_by, auth.reviewed_at = (note or "").strip() or None, staff_actor, now
    session.add(auth)
    if to_status == IN_PROGRESS and req.effective_at is None:
        req.effective_at = now
    transition(session, req, to_status, actor=staff_actor, action="agent_authorization_accepted",
               detail=f"checklist: {', '.join(ticked)}; consumer: {consumer_state(auth)}",
               expected_version=expected_version, now=now,
               mail_spec=MailSpec("agent_accepted", _l("Your authorization for request %(reference)s was accepted",
                                                      reference=req.reference),
                                  {"auth": auth, "verifying": to_status == VERIFYING}))
    if to_status == VERIFYING:
        # The consumer's identity is checked with the same tiers as a consumer's own request.
        verification.match_identity(session, req, actor=staff_actor, now=now)
    session.commit()
    log.info("agent authorization on request %s accepted", req.reference)


@atomic
def ask_agent(session: Session, *, req: PrivacyRequest, staff: StaffUser, message: str, expected_version: int) -> None:
    """Ask the agent for more (a clearer scan, a signed page, a document naming them): mailed to the
    agent, who answers from the status page with an upload; the review resumes when they do."""
    _reviewable(session, req, expected_version)
    message = message.strip()
    if not message:
        raise IllegalTransition("the request for documents needs a message")
    transition(session, req, ON_HOLD, actor=f"staff:{staff.id}", action="agent_documents_requested",
               hold_reason="information_requested", expected_version=expected_version,
               mail_spec=MailSpec("information_requested", _l("We need more information for request %(reference)s",
                                                              reference=req.reference), {"message": message}))
    session.add(RequestMessage(request_id=req.id, direction="to_requester", author=f"staff:{staff.id}", body=message))
    session.commit()


def rejection_mail(req: PrivacyRequest, auth: AgentAuthorization, reason: str) -> MailSpec:
    """What the agent receives when staff reject the authorization."""
    return MailSpec("agent_review_rejected",
                    _l("Request %(reference)s closed: authorization not accepted", reference=req.reference),
                    {"auth": auth, "reason": reason.strip()})


@atomic
def reject_authorization(session: Session, *, req: PrivacyRequest, staff: StaffUser, reason: str,
                         expected_version: int) -> None:
    """Staff reject the authorization: the request is denied and the agent receives the reason."""
    auth = _reviewable(session, req, expected_version)
    reason = reason.strip()
    if not reason:
        raise IllegalTransition("a rejected authorization needs a reason for the agent")
    now, staff_actor = clock.now(), f"staff:{staff.id}"
    auth.review_decision, auth.review_reason, auth.reviewed_by, auth.reviewed_at = "rejected", reason, staff_actor, now
    session.add(auth)
    citation = OPT_OUT_CITATION if req.request_type == "opt_out" else AGENT_REVIEW_CITATION
    req.outcome_code, req.outcome_citation, req.response_message = AGENT_REVIEW_REJECTED_CODE, citation, reason
    transition(session, req, DENIED, actor=staff_actor, action="agent_authorization_rejected",
               expected_version=expected_version, now=now,
               mail_spec=rejection_mail(req, auth, reason))
    session.add(CaseOutcome(request_id=req.id, outcome=DENIED, basis_code=AGENT_REVIEW_REJECTED_CODE,
                            explanation=reason, staff_id=staff.id))
    session.commit()
    log.info("agent authorization on request %s rejected", req.reference)
