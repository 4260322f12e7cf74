"""The one way a request changes status: checked against the lifecycle table, stamped, audited,
told to the status listeners (a DRP agent's callback) and, when the requester must hear of it,
mailed, all in the caller's transaction."""
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from ... import clock, i18n, lifecycle
from ...lifecycle import FINAL, REQUEST_TYPES
from ...models import AgentAuthorization, AuditEvent, PrivacyRequest
from ...urls import external_url
from .. import audit
from ..delivery import mail
from . import letters

log = logging.getLogger(__name__)


class StaleCase(Exception):
    """Someone else changed the case since it was loaded."""


@dataclass(frozen=True)
class MailSpec:
    """A mail about a request: its template, subject and what the template needs beyond the request."""

    template: str
    subject: str  # lazy_gettext: translated when the mail is rendered, in the request's language
    context: dict


def check_version(req: PrivacyRequest, expected_version: int | None) -> None:
    """Optimistic locking: StaleCase when the caller saw an older version of the case than the stored one.
    (The ORM's version column catches a change made between this check and the commit.)"""
    if expected_version is not None and expected_version != req.version:
        raise StaleCase(req.reference)


def transition(session: Session, req: PrivacyRequest, to_status: str, *, actor: str, action: str | None = None,
               hold_reason: str | None = None, detail: str | None = None, mail_spec: MailSpec | None = None,
               expected_version: int | None = None, now: datetime | None = None) -> AuditEvent:
    """Apply one status change with its audit event and mail, in the caller's transaction.

    Raises lifecycle.IllegalTransition for a change the table does not allow, StaleCase when the
    caller saw an older version of the case than the one stored.
    """
    check_version(req, expected_version)
    lifecycle.check_transition(req.status, to_status, hold_reason)
    now = now or clock.now()
    from_status = req.status
    req.status, req.hold_reason, req.updated_at = to_status, hold_reason, now
    if to_status in FINAL:
        req.closed_at = now
    session.add(req)
    event = audit.record(session, action=action or to_status, actor=actor, request_id=req.id,
                         from_status=from_status, to_status=to_status, detail=detail)
    status_changed(session, req)
    if mail_spec is not None:
        mail_requester(session, req, mail_spec)
    log.info("request %s: %s -> %s by %s", req.reference, from_status, to_status, actor)
    return event


StatusListener = Callable[[Session, PrivacyRequest], None]
_LISTENERS = "status_listeners"


def listen(app, listener: StatusListener) -> None:
    """Call `listener(session, req)` in the transaction of every change of a case's status or due
    date (create_app registers them: the edge listens to the core, the core imports no edge)."""
    listeners = app.extensions.setdefault(_LISTENERS, [])
    if listener not in listeners:
        listeners.append(listener)


def status_changed(session: Session, req: PrivacyRequest) -> None:
    """Tell every registered listener that the case's status or due date changed."""
    for listener in current_app.extensions.get(_LISTENERS, ()):
        listener(session, req)


def agent_of(session: Session, req: PrivacyRequest) -> AgentAuthorization | None:
    """The agent's authorization when an agent made the request; None for a requester's own."""
    return session.execute(select(AgentAuthorization).where(AgentAuthorization.request_id == req.id)).scalar()


def recipient_name(agent: AgentAuthorization | None, req: PrivacyRequest) -> str:
    """Whom the request's mail greets: the agent for an agent's request, else the requester."""
    return agent.agent_name if agent else req.first_name


def _context(session: Session, req: PrivacyRequest, spec: MailSpec) -> dict:
    """What every request mail shows: the request, its type, the status page, and whom to greet."""
    agent = agent_of(session, req)
    return dict(spec.context, req=req, auth=agent, type_label=REQUEST_TYPES[req.request_type].label,
                status_url=external_url("public.status"), recipient_name=recipient_name(agent, req),
                opt_out_url=external_url("public.new_request", type="opt_out"),
                delete_url=external_url("public.new_request", type="delete"))


@dataclass(frozen=True)
class RequesterMail:
    """A requester's mail as it will go: to an email address, or as a letter to the postal address."""

    to: str | None  # None: a letter
    postal_address: str | None
    language: str
    subject: str
    text: str

    @property
    def by_letter(self) -> bool:
        return self.to is None


def render_requester_mail(session: Session, req: PrivacyRequest, spec: MailSpec) -> RequesterMail:
    """The mail `mail_requester` would queue (or the letter it would owe), rendered now from the same
    templates, in the request's language, without queuing anything: what staff review before it goes."""
    with i18n.language(req.language):
        subject = str(spec.subject)
        text, _html = mail.render(template=spec.template, subject=subject, context=_context(session, req, spec))
    return RequesterMail(to=req.email or None, postal_address=req.postal_address, language=req.language,
                         subject=subject, text=text)


def mail_requester(session: Session, req: PrivacyRequest, spec: MailSpec) -> None:
    """Queue a mail to the request's address (the agent's, for an agent's request). A request taken
    by phone or mail without an email address gets its answers by letter from staff instead."""
    context = _context(session, req, spec)
    if not req.email:  # a letter owed, in the same words, for staff to print, send and record
        letters.owe(session, req, template=spec.template, subject=spec.subject, context=context)
        return
    mail.queue(session, to=req.email, subject=spec.subject, template=spec.template, context=context,
               request_id=req.id, language=req.language)
