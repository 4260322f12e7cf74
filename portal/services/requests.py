"""Privacy requests: submission, email confirmation, status access, transitions, extension."""
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlmodel import Session

from .. import lifecycle
from ..lifecycle import AWAITING_EMAIL, EXPIRED, FINAL, OPEN, REQUEST_TYPES, VERIFYING, WITHDRAWN
from ..models import AuditEvent, PrivacyRequest, RequestMessage
from .. import clock
from ..urls import external_url
from . import audit, drp_status, mail, references, tokens

log = logging.getLogger(__name__)

LOOKBACK_FLOOR = date(2022, 1, 1)  # §7024(h): no obligation to look back before this date


class StaleCase(Exception):
    """Someone else changed the case since it was loaded."""


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
    details: str | None = None
    correction_current: str | None = None
    correction_details: str | None = None
    access_scope: str | None = None
    lookback: str = "12_months"  # or "since_2022"
    declaration_signature: str | None = None
    language: str = "en"


@dataclass(frozen=True)
class MailSpec:
    template: str
    subject: str
    context: dict


@dataclass(frozen=True)
class SubmitOutcome:
    request: PrivacyRequest
    duplicate: bool


def normalize_email(value: str) -> str:
    return value.strip().lower()


def lookback_start(choice: str, received: date) -> date:
    """§7024(g)-(h): 12 months by default, back to 2022-01-01 on request."""
    if choice == "since_2022":
        return LOOKBACK_FLOOR
    try:
        start = received.replace(year=received.year - 1)
    except ValueError:  # 29 February
        start = received.replace(year=received.year - 1, day=28)
    return max(start, LOOKBACK_FLOOR)


def declaration_required(request_type: str, access_scope: str | None) -> bool:
    """§7062: specific pieces always; delete and correct as configured (the high tier)."""
    if request_type == "access":
        return access_scope == "specific"
    return request_type in current_app.config["DECLARATION_REQUIRED_TYPES"]


def get_by_reference(session: Session, reference: str) -> PrivacyRequest | None:
    return session.execute(select(PrivacyRequest).where(PrivacyRequest.reference == reference)).scalar()


def find_open_duplicate(session: Session, *, email: str, request_type: str) -> PrivacyRequest | None:
    return session.execute(select(PrivacyRequest).where(
        PrivacyRequest.email == email, PrivacyRequest.request_type == request_type,
        PrivacyRequest.status.in_(OPEN)).order_by(PrivacyRequest.id).limit(1)).scalar()


def transition(session: Session, req: PrivacyRequest, to_status: str, *, actor: str, action: str | None = None,
               hold_reason: str | None = None, detail: str | None = None, mail_spec: MailSpec | None = None,
               expected_version: int | None = None, now: datetime | None = None) -> AuditEvent:
    """Apply one status change with its audit event and mail, in the caller's transaction.

    Raises lifecycle.IllegalTransition for a change the table does not allow, StaleCase when the
    caller saw an older version of the case than the one stored.
    """
    if expected_version is not None and expected_version != req.version:
        raise StaleCase(req.reference)
    lifecycle.check_transition(req.status, to_status, hold_reason)
    now = now or clock.now()
    from_status = req.status
    req.status, req.hold_reason, req.updated_at = to_status, hold_reason, now
    if to_status in FINAL:
        req.closed_at = now
    session.add(req)
    event = audit.record(session, action=action or to_status, actor=actor, request_id=req.id,
                         from_status=from_status, to_status=to_status, detail=detail)
    drp_status.status_changed(session, req)  # a Data Rights Protocol agent hears of every change
    if mail_spec is not None:
        mail_requester(session, req, mail_spec)
    log.info("request %s: %s -> %s by %s", req.reference, from_status, to_status, actor)
    return event


def recipient_name(session: Session, req: PrivacyRequest) -> str:
    """Whom the request's mail greets: the agent for an agent's request, else the requester."""
    from . import agents
    agent = agents.for_request(session, req)  # an agent's request: the mail goes to the agent
    return agent.agent_name if agent else req.first_name


def mail_requester(session: Session, req: PrivacyRequest, spec: MailSpec) -> None:
    """Queue a mail to the requester (or their agent) with what every request mail shows."""
    context = dict(spec.context, req=req, type_label=REQUEST_TYPES[req.request_type].label,
                   status_url=external_url("public.status"), recipient_name=recipient_name(session, req))
    mail.queue(session, to=req.email, subject=spec.subject, template=spec.template, context=context,
               request_id=req.id)


def _verification_mail(session: Session, req: PrivacyRequest, now: datetime) -> None:
    hours = current_app.config["VERIFY_TOKEN_HOURS"]
    token = tokens.issue(session, purpose="verify", request_id=req.id, ttl=timedelta(hours=hours), now=now)
    mail_requester(session, req, MailSpec("verify", _("Confirm your privacy request"),
                                 {"link": external_url("public.verify", token=token.value), "hours": hours}))


def submit(session: Session, *, new: NewRequest, manner: str = "web", received_at: datetime | None = None,
           actor: str = "requester") -> SubmitOutcome:
    """Record a new request, or point the requester to the open one of the same kind."""
    now = clock.now()
    received_at = received_at or now
    email = normalize_email(new.email)
    duplicate = find_open_duplicate(session, email=email, request_type=new.request_type)
    if duplicate is not None:
        audit.record(session, action="duplicate_submission", actor=actor, request_id=duplicate.id)
        if duplicate.status == AWAITING_EMAIL:
            _verification_mail(session, duplicate, now)
        else:
            mail_requester(session, duplicate, MailSpec("duplicate", _("You already have an open privacy request"), {}))
        session.commit()
        log.info("duplicate submission pointed to request %s", duplicate.reference)
        return SubmitOutcome(duplicate, True)

    req = open_case(session, new=new, manner=manner, received_at=received_at, actor=actor, now=now)
    session.commit()
    log.info("request %s submitted (%s, %s)", req.reference, req.request_type, manner)
    return SubmitOutcome(req, False)


def open_case(session: Session, *, new: NewRequest, manner: str, received_at: datetime, actor: str,
              email_confirmed: bool = False, now: datetime | None = None) -> PrivacyRequest:
    """A new case with its audit event and first mail, in the caller's transaction (no duplicate check).
    `email_confirmed`: the email was confirmed elsewhere (a Data Rights Protocol agent attests it),
    so a know/delete/correct case starts in verification, acknowledged, instead of awaiting the link."""
    now = now or clock.now()
    email = normalize_email(new.email)
    rule = REQUEST_TYPES[new.request_type]
    received_day = lifecycle.local_date(received_at)
    req = PrivacyRequest(
        reference=references.unique(session), request_type=new.request_type, status=lifecycle.initial_status(new.request_type),
        manner=manner, language=new.language, first_name=new.first_name.strip(), last_name=new.last_name.strip(),
        email=email, phone=new.phone or None, claim_number=new.claim_number or None,
        date_of_birth=new.date_of_birth, details=new.details or None,
        received_at=received_at, acknowledgement_due=lifecycle.acknowledgement_due(received_at),
        response_due=lifecycle.response_due(new.request_type, received_at), created_at=now, updated_at=now)
    confirmed = email_confirmed and rule.needs_email_confirmation
    if confirmed:
        req.status, req.email_confirmed_at, req.acknowledged_at = VERIFYING, now, now
    if new.request_type == "access":
        req.access_scope = new.access_scope
        req.lookback_start = lookback_start(new.lookback, received_day)
    if new.request_type == "correct":
        req.correction_current, req.correction_details = new.correction_current, new.correction_details
    if declaration_required(new.request_type, new.access_scope):
        req.declaration_signature, req.declaration_signed_at = new.declaration_signature, now
    session.add(req)
    session.flush()
    audit.record(session, action="submitted", actor=actor, request_id=req.id, to_status=req.status,
                 detail=f"manner={manner}")
    if confirmed:
        mail_requester(session, req, MailSpec("acknowledgement", _("We received your request: %(reference)s",
                                                                  reference=req.reference), {}))
    elif rule.needs_email_confirmation:
        _verification_mail(session, req, now)
    else:
        # §7060(b): an opt-out or limit request takes effect now, with no verification gate.
        req.effective_at = req.acknowledged_at = now
        mail_requester(session, req, MailSpec("receipt", _("We received your request: %(reference)s",
                                                  reference=req.reference), {}))
    return req


def open_child_deletion(session: Session, *, inquiry) -> PrivacyRequest:
    """A deletion case for a child's information, linked to the report. The business must delete
    promptly, so it starts in progress: staff complete it without the usual identity tiers."""
    now = clock.now()
    first, _sep, last = inquiry.name.strip().rpartition(" ")
    req = PrivacyRequest(
        reference=references.unique(session), request_type="delete", status=lifecycle.IN_PROGRESS, manner="web",
        language=inquiry.language, first_name=(first or last)[:100], last_name=(last if first else "")[:100],
        email=inquiry.email, details=inquiry.message, received_at=inquiry.received_at,
        acknowledgement_due=lifecycle.acknowledgement_due(inquiry.received_at),
        response_due=lifecycle.response_due("delete", inquiry.received_at), acknowledged_at=now,
        created_at=now, updated_at=now)
    session.add(req)
    session.flush()
    audit.record(session, action="submitted", actor="requester", request_id=req.id, to_status=req.status,
                 detail=f"child's information report {inquiry.reference}: no identity tiers apply")
    log.info("request %s opened for child's-data report %s", req.reference, inquiry.reference)
    return req


def request_for_token(session: Session, *, token: str, purpose: str) -> PrivacyRequest:
    """The request a usable token belongs to; tokens.TokenError when it cannot be used."""
    row = tokens.check(session, value=token, purpose=purpose)
    return session.get(PrivacyRequest, row.request_id)


def confirm_email(session: Session, *, token: str) -> PrivacyRequest:
    """Spend a verification token: the email is confirmed, the acknowledgement goes out."""
    now = clock.now()
    req = request_for_token(session, token=token, purpose="verify")
    if req.status != AWAITING_EMAIL:
        raise tokens.TokenError("used")
    tokens.spend(session, value=token, purpose="verify", now=now)
    req.email_confirmed_at = req.acknowledged_at = now
    from . import agents  # agents builds on this module
    agent = agents.for_request(session, req)
    spec = agents.acknowledgement_spec(req, agent) if agent else MailSpec(
        "acknowledgement", _("We received your request: %(reference)s", reference=req.reference), {})
    transition(session, req, VERIFYING, actor="agent" if agent else "requester", action="email_confirmed", now=now,
               mail_spec=spec)
    if agent:
        agents.email_confirmed(session, req=req, auth=agent, now=now)
    session.commit()
    return req


def resend_verification(session: Session, *, token: str) -> None:
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
        from . import agents
        agent = agents.for_request(session, req)
        if agent:
            agents.verification_mail(session, req, agent, clock.now())
        else:
            _verification_mail(session, req, clock.now())
        audit.record(session, action="verification_resent", actor="requester", request_id=req.id)
        session.commit()


def can_withdraw(req: PrivacyRequest) -> bool:
    return WITHDRAWN in lifecycle.TRANSITIONS[req.status]


def withdraw(session: Session, *, req: PrivacyRequest, actor: str = "requester") -> None:
    """The requester takes the request back."""
    transition(session, req, WITHDRAWN, actor=actor, action="withdrawn",
               mail_spec=MailSpec("withdrawn", _("Request %(reference)s withdrawn", reference=req.reference), {}))
    session.commit()


def extend(session: Session, *, req: PrivacyRequest, days: int, reason: str, actor: str,
           expected_version: int | None = None, today: date | None = None) -> None:
    """§7021(b): one extension of up to 45 days, with a reason mailed, before the original due date."""
    today = today or clock.today()
    if expected_version is not None and expected_version != req.version:
        raise StaleCase(req.reference)
    if not reason.strip():
        raise lifecycle.IllegalTransition("an extension needs a reason for the requester")
    if not lifecycle.extension_allowed(status=req.status, response_due=req.response_due,
                                       extended_due=req.extended_due, today=today):
        raise lifecycle.IllegalTransition("this request cannot be extended: once only, before the original due date")
    req.extended_due = lifecycle.extended_due(req.response_due, days)
    req.extension_reason = reason.strip()
    req.updated_at = clock.now()
    session.add(req)
    audit.record(session, action="extended", actor=actor, request_id=req.id,
                 detail=f"{days} days, due {req.extended_due.isoformat()}")
    drp_status.status_changed(session, req)  # DRP §3.08: the agent hears of the new expected_by
    mail_requester(session, req, MailSpec("extension", _("More time needed for request %(reference)s",
                                                reference=req.reference), {"reason": req.extension_reason}))
    session.commit()


def expire_unconfirmed(session: Session, *, now: datetime | None = None) -> int:
    """Close requests whose email was never confirmed within the configured days."""
    now = now or clock.now()
    cutoff = now - timedelta(days=current_app.config["UNCONFIRMED_EXPIRY_DAYS"])
    stale = session.execute(select(PrivacyRequest).where(
        PrivacyRequest.status == AWAITING_EMAIL, PrivacyRequest.received_at < cutoff)).scalars().all()
    for req in stale:
        transition(session, req, EXPIRED, actor="system", action="expired", now=now,
                   mail_spec=MailSpec("expired", _("Request %(reference)s closed", reference=req.reference), {}))
    session.commit()
    return len(stale)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # status | message_in | message_out
    status: str | None = None
    body: str | None = None


def timeline(session: Session, req: PrivacyRequest) -> list[TimelineEntry]:
    """What the requester sees: every status change and every message, oldest first."""
    events = session.execute(select(AuditEvent).where(
        AuditEvent.request_id == req.id, AuditEvent.to_status.is_not(None))).scalars()
    entries = [TimelineEntry(e.created_at, "status", status=e.to_status) for e in events]
    messages = session.execute(select(RequestMessage).where(RequestMessage.request_id == req.id)).scalars()
    entries += [TimelineEntry(m.created_at, "message_out" if m.direction == "to_requester" else "message_in",
                              body=m.body) for m in messages]
    return sorted(entries, key=lambda e: e.at)
