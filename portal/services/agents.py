"""Authorized agents (§7063, §7026(j)): a request made for a consumer, on a signed permission or a
power of attorney, confirmed by the consumer when reachable and reviewed by staff.

The request's own email is the agent's: the agent confirms it with the same single-use token as a
requester, receives the request's mail and tracks its status with the reference and that email.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlmodel import Session

from .. import lifecycle
from ..lifecycle import AWAITING_EMAIL, DENIED, FINAL, ON_HOLD, REQUEST_TYPES
from ..models import AgentAuthorization, PrivacyRequest, utcnow
from ..urls import external_url
from . import audit, documents, mail, tokens
from .requests import MailSpec, get_by_reference, new_reference, normalize_email, transition

log = logging.getLogger(__name__)

AGENT_KINDS = {"person": _l("A person (a family member, friend or attorney)"),
               "business": _l("A business registered with the California Secretary of State")}
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
    language: str = "en"


@dataclass(frozen=True)
class Upload:
    """The authorization file as it arrived: read through the documents service, never here."""

    stream: BinaryIO
    filename: str | None
    content_type: str | None


def for_request(session: Session, req: PrivacyRequest) -> AgentAuthorization | None:
    return session.execute(select(AgentAuthorization).where(AgentAuthorization.request_id == req.id)).scalar()


def submit(session: Session, *, new: NewAgentRequest, upload: Upload) -> PrivacyRequest:
    """Record a request made by an agent, with its authorization document; mail the agent a link
    to confirm their email. Raises documents.DocumentRejected (nothing saved) for a refused file."""
    # The file is checked first: a refused upload leaves no request behind.
    doc = documents.store(session, stream=upload.stream, filename=upload.filename,
                          declared_type=upload.content_type, purpose="authorization", uploaded_by="agent")
    now = utcnow()
    business = new.agent_kind == "business"
    req = PrivacyRequest(
        reference=new_reference(), request_type=new.request_type, status=AWAITING_EMAIL, manner="web",
        language=new.language, first_name=new.consumer_first_name.strip(),
        last_name=new.consumer_last_name.strip(), email=normalize_email(new.agent_email),
        received_at=now, acknowledgement_due=lifecycle.acknowledgement_due(now),
        response_due=lifecycle.response_due(new.request_type, now), created_at=now, updated_at=now)
    while get_by_reference(session, req.reference) is not None:
        req.reference = new_reference()
    session.add(req)
    session.flush()
    doc.request_id = req.id
    auth = AgentAuthorization(
        request_id=req.id, agent_kind=new.agent_kind, agent_name=new.agent_name.strip(),
        agent_email=req.email,
        agent_business_name=((new.agent_business_name or "").strip() or None) if business else None,
        agent_sos_number=(new.agent_sos_number or None) if business else None,
        consumer_email=normalize_email(new.consumer_email) if new.consumer_email else None,
        consumer_phone=new.consumer_phone or None, authorization_kind=new.authorization_kind,
        document_id=doc.id, created_at=now)
    session.add(auth)
    audit.record(session, action="submitted", actor="agent", request_id=req.id, to_status=req.status,
                 detail=f"manner=web; agent={new.agent_kind}; authorization={new.authorization_kind}")
    audit.record(session, action="document_uploaded", actor="agent", request_id=req.id,
                 detail=f"document {doc.id} (authorization)")
    verification_mail(session, req, auth, now)
    session.commit()
    log.info("agent request %s submitted (%s, %s)", req.reference, req.request_type, new.authorization_kind)
    return req


def verification_mail(session: Session, req: PrivacyRequest, auth: AgentAuthorization, now: datetime) -> None:
    hours = current_app.config["VERIFY_TOKEN_HOURS"]
    token = tokens.issue(session, purpose="verify", request_id=req.id, ttl=timedelta(hours=hours), now=now)
    mail.queue(session, to=req.email, subject=_("Confirm the request you made for %(name)s",
                                                name=f"{req.first_name} {req.last_name}"),
               template="agent_verify", request_id=req.id,
               context=_context(req, auth, link=external_url("public.verify", token=token.value), hours=hours))


def _context(req: PrivacyRequest, auth: AgentAuthorization, **extra) -> dict:
    return dict(extra, req=req, auth=auth, type_label=REQUEST_TYPES[req.request_type].label,
                status_url=external_url("public.status"))


def acknowledgement_spec(req: PrivacyRequest, auth: AgentAuthorization) -> MailSpec:
    """The acknowledgement an agent receives once their email is confirmed."""
    waits_for_consumer = auth.authorization_kind == "signed_permission" and auth.consumer_email
    return MailSpec("agent_acknowledgement", _("We received your request: %(reference)s", reference=req.reference),
                    {"auth": auth, "waits_for_consumer": waits_for_consumer})


def email_confirmed(session: Session, *, req: PrivacyRequest, auth: AgentAuthorization, now: datetime) -> None:
    """After the agent's email is confirmed: the case waits for the authorization review, and a
    consumer named with an email is asked to confirm a signed permission (§7063(a)(2))."""
    transition(session, req, ON_HOLD, actor="system", action="agent_authorization_hold",
               hold_reason="agent_authorization", now=now)
    if auth.authorization_kind != "signed_permission" or not auth.consumer_email:
        return  # a power of attorney, or no reachable consumer: staff review the document alone
    days = current_app.config["AGENT_CONFIRM_DAYS"]
    token = tokens.issue(session, purpose="agent_confirm", request_id=req.id, ttl=timedelta(days=days), now=now)
    mail.queue(session, to=auth.consumer_email, template="agent_confirm", request_id=req.id,
               subject=_("Did you ask %(agent)s to make a privacy request for you?", agent=agent_label(auth)),
               context=_context(req, auth, link=external_url("agent.confirm", token=token.value), days=days,
                                agent_label=agent_label(auth)))
    audit.record(session, action="agent_confirmation_requested", actor="system", request_id=req.id)


def agent_label(auth: AgentAuthorization) -> str:
    """How the agent is named to the consumer: the person, and the business when there is one."""
    if auth.agent_business_name:
        return f"{auth.agent_name} ({auth.agent_business_name})"
    return auth.agent_name


def request_for_confirmation(session: Session, *, token: str) -> tuple[PrivacyRequest, AgentAuthorization]:
    """The request behind a consumer's confirmation link; tokens.TokenError when it cannot be used."""
    row = tokens.check(session, value=token, purpose="agent_confirm")
    req = session.get(PrivacyRequest, row.request_id)
    auth = for_request(session, req)
    if req.status in FINAL or auth.consumer_decision is not None:
        raise tokens.TokenError("used", row)
    return req, auth


CONSUMER_REJECTION_CODE = "agent_not_authorized"
CONSUMER_REJECTION_CITATION = "Cal. Code Regs., tit. 11, § 7063(a)"


def record_consumer_decision(session: Session, *, token: str, confirmed: bool) -> PrivacyRequest:
    """Spend the consumer's link: a confirmation goes on file for the staff review; a rejection
    ends the request and tells the agent."""
    now = utcnow()
    req, auth = request_for_confirmation(session, token=token)
    tokens.spend(session, value=token, purpose="agent_confirm", now=now)
    auth.consumer_decision, auth.consumer_decided_at = ("confirmed" if confirmed else "rejected"), now
    session.add(auth)
    if confirmed:
        audit.record(session, action="agent_confirmed_by_consumer", actor="consumer", request_id=req.id)
    else:
        req.outcome_code, req.outcome_citation = CONSUMER_REJECTION_CODE, CONSUMER_REJECTION_CITATION
        req.response_message = _("The consumer told us they did not authorize this request.")
        transition(session, req, DENIED, actor="consumer", action="agent_rejected_by_consumer", now=now,
                   mail_spec=MailSpec("agent_rejected", _("Request %(reference)s closed: not confirmed by the consumer",
                                                          reference=req.reference), {"auth": auth}))
    session.commit()
    log.info("agent request %s %s by the consumer", req.reference, auth.consumer_decision)
    return req
