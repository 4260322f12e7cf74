"""Verification: the requester (or the agent) proves control of the request's email with a
single-use emailed link; confirming it acknowledges the request and starts the identity check."""
import logging
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlmodel import Session

from .. import clock
from ..db import atomic
from ..lifecycle import AWAITING_EMAIL, ON_HOLD, REQUEST_TYPES, VERIFYING
from ..models import AgentAuthorization, PrivacyRequest
from ..urls import external_url
from . import audit, mail, tokens
from .transitions import MailSpec, agent_of, mail_requester, transition

log = logging.getLogger(__name__)


def send_link(session: Session, req: PrivacyRequest, *, now: datetime) -> None:
    """Mail a fresh single-use link that confirms the request's email (the agent's, for an agent)."""
    hours = current_app.config["VERIFY_TOKEN_HOURS"]
    token = tokens.issue(session, purpose="verify", request_id=req.id, ttl=timedelta(hours=hours), now=now)
    context = {"link": external_url("public.verify", token=token.value), "hours": hours}
    if agent_of(session, req):
        spec = MailSpec("agent_verify", _l("Confirm the request you made for %(name)s",
                                          name=f"{req.first_name} {req.last_name}"), context)
    else:
        spec = MailSpec("verify", _l("Confirm your privacy request"), context)
    mail_requester(session, req, spec)


def request_for_token(session: Session, *, token: str, purpose: str) -> PrivacyRequest:
    """The request a usable token belongs to; tokens.TokenError when it cannot be used."""
    row = tokens.check(session, value=token, purpose=purpose)
    return session.get(PrivacyRequest, row.request_id)


@atomic
def confirm_email(session: Session, *, token: str) -> PrivacyRequest:
    """Spend a verification token: the email is confirmed, the acknowledgement goes out, and the
    request goes to identity verification (an agent's, to the review of its authorization)."""
    now = clock.now()
    req = request_for_token(session, token=token, purpose="verify")
    if req.status != AWAITING_EMAIL:
        raise tokens.TokenError("used")
    tokens.spend(session, value=token, purpose="verify", now=now)
    req.email_confirmed_at = req.acknowledged_at = now
    agent = agent_of(session, req)
    transition(session, req, VERIFYING, actor="agent" if agent else "requester", action="email_confirmed", now=now,
               mail_spec=_acknowledgement(req, agent))
    if agent:
        _hold_for_authorization_review(session, req, agent, now=now)
    session.commit()
    return req


def _acknowledgement(req: PrivacyRequest, agent: AgentAuthorization | None) -> MailSpec:
    subject = _l("We received your request: %(reference)s", reference=req.reference)
    if agent is None:
        return MailSpec("acknowledgement", subject, {})
    waits_for_consumer = agent.authorization_kind == "signed_permission" and bool(agent.consumer_email)
    return MailSpec("agent_acknowledgement", subject, {"waits_for_consumer": waits_for_consumer})


def _hold_for_authorization_review(session: Session, req: PrivacyRequest, agent: AgentAuthorization, *,
                                   now: datetime) -> None:
    """After the agent's email is confirmed: the case waits for the authorization review, and a
    consumer named with an email is asked to confirm a signed permission (§7063(a)(2))."""
    transition(session, req, ON_HOLD, actor="system", action="agent_authorization_hold",
               hold_reason="agent_authorization", now=now)
    if agent.authorization_kind != "signed_permission" or not agent.consumer_email:
        return  # a power of attorney, or no reachable consumer: staff review the document alone
    days = current_app.config["AGENT_CONFIRM_DAYS"]
    token = tokens.issue(session, purpose="agent_confirm", request_id=req.id, ttl=timedelta(days=days), now=now)
    mail.queue(session, to=agent.consumer_email, template="agent_confirm", request_id=req.id, language=req.language,
               subject=_l("Did you ask %(agent)s to make a privacy request for you?", agent=agent.label),
               context={"req": req, "auth": agent, "link": external_url("agent.confirm", token=token.value),
                        "days": days, "type_label": REQUEST_TYPES[req.request_type].label})
    audit.record(session, action="agent_confirmation_requested", actor="system", request_id=req.id)


@atomic
def resend_link(session: Session, *, token: str) -> None:
    """Send a fresh verification link for the request an expired link belonged to, if still open."""
    try:
        tokens.check(session, value=token, purpose="verify")
        return  # the link still works: nothing to resend
    except tokens.TokenError as exc:
        row = exc.token
    if row is None:
        return
    req = session.get(PrivacyRequest, row.request_id)
    if req is not None and req.status == AWAITING_EMAIL:
        send_link(session, req, now=clock.now())
        audit.record(session, action="verification_resent", actor="requester", request_id=req.id)
        session.commit()
