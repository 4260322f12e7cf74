"""What a case found about clients, and what staff chose for each one.

When a know, delete or correct case is verified (a status listener registered in create_app), the
identity index says whom the person's rows are held for: the business itself ("") and each client
(services/identity/subjects.holders). One ClientReferral per client found, marked `only_client` when
the business holds nothing of the person for itself. Staff then choose, per client:

- forward: the request goes to the client, by signed webhook when it has one, else by mail, with a
  single-use answer link (answers.py); it answers will act, not ours or done; reminders follow until
  it does; the consumer is told "we have sent your request to X, who decides on it";
- explain: the consumer is told, by mail (or by letter, for a postal requester) in the request's
  language, that the business holds the data for X as its service provider or business associate,
  and how to reach X (§7051; 45 CFR 164.524 for health information);
- handle as the business: where it also holds the data for its own purposes (never for a person
  found only in the client's data).

Completion (and a denial on an exemption: never a silent "exempt") waits until each client found
has an outcome: explained, handled, or forwarded and answered will act or done. The §7101 record
keeps which (`RequestRecord.client_outcomes`), with no name.
"""
import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlmodel import Session

from ... import clock, i18n
from ...db import atomic
from ...lifecycle import IN_PROGRESS, OPEN
from ...models import (
    Client,
    ClientReferral,
    ClientRequest,
    PrivacyRequest,
    RequestMessage,
    RequestRecord,
    StaffUser,
    VerificationAttempt,
)
from ...urls import external_url
from .. import audit
from ..cases.transitions import MailSpec, agent_of, check_version, mail_requester
from ..delivery import mail, webhooks
from ..identity import subjects, tokens
from . import health
from .registry import AGREEMENT_SHORT

log = logging.getLogger(__name__)

FOUND_TYPES = ("access", "delete", "correct")
OUTCOMES = {"forward": "Forward to the client", "explain": "Explain to the consumer whom to ask",
            "handle": "Handle as the business"}
STATES = {"found": "Outcome to choose", "forwarded": "Forwarded: waiting for the client's answer",
          "will_act": "The client will act", "not_ours": "The client says the person is not theirs: choose again",
          "done": "The client has acted", "explained": "Explained to the consumer", "handled": "Handled as the business"}
SETTLED = frozenset({"will_act", "done", "explained", "handled"})
CHOOSABLE = frozenset({"found", "not_ours"})
WEBHOOK_TOPIC = "client_request"
PURPOSE = "client_answer"
ANSWERS = {"will_act": "We will act on this request ourselves", "not_ours": "This person's data is not ours",
           "done": "We have acted on this request"}


class ReferralError(Exception):
    """A choice that cannot be made; the message is for people."""


def for_case(session: Session, req: PrivacyRequest) -> list[tuple[ClientReferral, Client]]:
    return [(r, c) for r, c in session.execute(
        select(ClientReferral, Client).join(Client, Client.id == ClientReferral.client_id)
        .where(ClientReferral.request_id == req.id).order_by(ClientReferral.id)).all()]


def _matched_subject(session: Session, req: PrivacyRequest) -> str | None:
    return session.execute(select(VerificationAttempt.subject_key).where(
        VerificationAttempt.request_id == req.id, VerificationAttempt.outcome.in_(("verified", "downgraded")),
        VerificationAttempt.subject_key.is_not(None)).order_by(VerificationAttempt.id.desc()).limit(1)).scalar()


def status_changed(session: Session, req: PrivacyRequest) -> None:
    """The status listener: a verified know, delete or correct case finds the clients its person's
    rows are held for, once. A client's own request (ClientRequest) is scoped to it already."""
    if req.status != IN_PROGRESS or req.request_type not in FOUND_TYPES:
        return
    if session.execute(select(ClientReferral.id).where(ClientReferral.request_id == req.id).limit(1)).first():
        return
    if session.execute(select(ClientRequest.id).where(ClientRequest.request_id == req.id)).first():
        return
    subject = _matched_subject(session, req)
    if subject is None:
        return
    held = subjects.holders(session, subject)
    keys = [k for k in held if k]
    if not keys:
        return
    clients = session.execute(select(Client).where(Client.key.in_(keys))).scalars().all()
    asks_health = health.asks_for_health_information(req)
    for client in sorted(clients, key=lambda c: c.key):
        session.add(ClientReferral(referral_key=str(uuid.uuid4()), request_id=req.id, client_id=client.id,
                                   only_client="" not in held, health_information=asks_health,
                                   due_on=health.due(req) if asks_health else None))
    session.flush()
    audit.record(session, action="client_data_found", actor="system", request_id=req.id,
                 detail=f"held for {', '.join(c.key for c in clients)}"
                        + ("; nothing held for the business itself" if "" not in held else "")
                        + ("; health information request" if asks_health else ""))


def _referral(session: Session, req: PrivacyRequest, referral_id: int) -> tuple[ClientReferral, Client]:
    referral = session.get(ClientReferral, referral_id)
    if referral is None or referral.request_id != req.id:
        raise LookupError(referral_id)
    return referral, session.get(Client, referral.client_id)


def role_words(client: Client) -> str:
    """What the business is to the client, in the request's language (called inside i18n.language)."""
    if client.agreement == "baa":
        return _("business associate")
    if client.agreement == "both":
        return _("service provider and business associate")
    return _("service provider")


@atomic
def choose(session: Session, *, req: PrivacyRequest, referral_id: int, outcome: str, staff: StaffUser,
           expected_version: int | None = None) -> ClientReferral:
    """Staff choose what happens with one client found: forward, explain or handle as the business."""
    check_version(req, expected_version)
    referral, client = _referral(session, req, referral_id)
    if req.status != IN_PROGRESS:
        raise ReferralError("An outcome is chosen while the case is in progress.")
    if referral.state not in CHOOSABLE:
        raise ReferralError("This client already has an outcome.")
    if outcome not in OUTCOMES:
        raise ReferralError("Choose forward, explain or handle as the business.")
    if outcome == "handle" and referral.only_client:
        raise ReferralError(f"The business holds nothing of this person for itself, only for {client.name}: "
                            "forward the request or explain whom to ask.")
    if outcome == "forward" and (client.removed_at is not None or referral.state == "not_ours"):
        raise ReferralError(f"{client.name} cannot be asked (again): explain or handle as the business.")
    actor = audit.staff_actor(staff)
    referral.outcome, referral.chosen_by, referral.chosen_at = outcome, actor, clock.now()
    if outcome == "forward":
        _forward(session, req, referral, client)
    elif outcome == "explain":
        referral.state = "explained"
        _tell_requester(session, req, referral, client, "client_explained",
                        _explained_message(session, req, referral, client))
    else:
        referral.state = "handled"
    session.add(referral)
    audit.record(session, action=f"client_{outcome}", actor=actor, request_id=req.id,
                 detail=f"client {client.key}: {outcome}" + (f" by {referral.method}" if outcome == "forward" else ""))
    _keep_on_record(session, req)
    session.commit()
    return referral


def _forward(session: Session, req: PrivacyRequest, referral: ClientReferral, client: Client) -> None:
    today = clock.today()
    due = min(today + timedelta(days=client.days), req.extended_due or req.response_due)
    if referral.health_information:
        due = min(due, max(today, health.due(req)))
    referral.due_on, referral.state = due, "forwarded"
    body = payload(session, req, referral, client, answer_link=_issue_link(session, req, referral))
    if client.webhook_url and client.webhook_secret:
        referral.method = "webhook"
        referral.webhook_delivery_id = webhooks.queue(
            session, topic=WEBHOOK_TOPIC, url=client.webhook_url, secret=client.webhook_secret, payload=body,
            idempotency_key=referral.referral_key).id
    else:
        referral.method = "email"
        _mail_client(session, req, client, body, reminder=False)
    _tell_requester(session, req, referral, client, "client_forwarded",
                    _forwarded_message(req, client))


def _issue_link(session: Session, req: PrivacyRequest, referral: ClientReferral) -> str:
    issued = tokens.issue(session, purpose=PURPOSE, request_id=req.id,
                          ttl=timedelta(days=int(current_app.config["CLIENTS_ANSWER_DAYS"])))
    referral.answer_token_id = issued.row.id
    return external_url("clients.answer", referral_key=referral.referral_key, token=issued.value)


def payload(session: Session, req: PrivacyRequest, referral: ClientReferral, client: Client, *,
            answer_link: str) -> dict:
    """What the client receives: the request, the consumer's identifiers (never an agent's), where to answer."""
    agent = agent_of(session, req)
    subject = {"first_name": req.first_name, "last_name": req.last_name,
               "email": agent.consumer_email if agent else req.email, "phone": req.phone,
               "claim_number": req.claim_number}
    body = {"referral_id": referral.referral_key, "reference": req.reference, "request_type": req.request_type,
            "business": current_app.config["ORG_NAME"], "client": client.key,
            "agreement": client.agreement, "received_at": req.received_at.isoformat(),
            "answer_due": referral.due_on.isoformat(), "health_information": referral.health_information,
            "subject": {k: v for k, v in subject.items() if v},
            "answers": sorted(ANSWERS), "answer_url": answer_link, "reply_url": external_url("clients.reply")}
    if req.request_type == "correct":
        body["correction"] = {"current": req.correction_current, "should_be": req.correction_details}
    if referral.health_information:
        body["hipaa"] = {"citation": health.CITATION, "covered_entity_due": health.due(req).isoformat()}
    return body


def _mail_client(session: Session, req: PrivacyRequest, client: Client, body: dict, *, reminder: bool) -> None:
    org = current_app.config["ORG_NAME"]
    subject = f"{org}: {'reminder: ' if reminder else ''}a consumer request about data we hold for you ({req.reference})"
    mail.queue(session, to=client.email, template="client_forward", request_id=req.id, subject=subject,
               context={"forward": body, "client": client, "reminder": reminder,
                        "agreement": AGREEMENT_SHORT[client.agreement]})


def _forwarded_message(req: PrivacyRequest, client: Client) -> str:
    with i18n.language(req.language):
        return _("We have sent your request to %(client)s, who decides on it: we hold this information for "
                 "%(client)s as its %(role)s. %(client)s will answer you, or tell us what to do.",
                 client=client.name, role=role_words(client))


def _explained_message(session: Session, req: PrivacyRequest, referral: ClientReferral, client: Client) -> str:
    with i18n.language(req.language):
        text = _("We hold some of the information in your request for %(client)s as its %(role)s, so we cannot "
                 "decide on your request for that information ourselves. Please contact %(client)s: %(email)s.",
                 client=client.name, role=role_words(client), email=client.email)
        if referral.health_information:
            text += " " + _("For your medical records, %(client)s must answer you within 30 days of receiving your "
                            "request (45 CFR 164.524).", client=client.name)
    return text


def _tell_requester(session: Session, req: PrivacyRequest, referral: ClientReferral, client: Client,
                    template: str, text: str) -> None:
    """The consumer's timeline message, and the same words by mail (or by letter, without an email)."""
    session.add(RequestMessage(request_id=req.id, direction="to_requester", author="system", body=text))
    with i18n.language(req.language):
        subject = _("About your request %(reference)s: %(client)s", reference=req.reference, client=client.name)
    mail_requester(session, req, MailSpec(template, subject, {
        "message": text, "client": client, "health": referral.health_information,
        "hipaa_due": health.due(req) if referral.health_information else None}))


def _keep_on_record(session: Session, req: PrivacyRequest) -> None:
    """§7101: which outcome each client found had ("client:outcome", no names)."""
    summary = ", ".join(f"{c.key}:{r.outcome or 'none'}" for r, c in for_case(session, req))[:500]
    session.execute(update(RequestRecord).where(RequestRecord.reference == req.reference)
                    .values(client_outcomes=summary or None))


def blocking_completion(session: Session, req: PrivacyRequest) -> str | None:
    """The completion check: every client found has an outcome, and a forwarded one its answer."""
    waiting = [(r, c) for r, c in for_case(session, req) if r.state not in SETTLED]
    if not waiting:
        return None
    return ("The clients this person's data is held for need an outcome first (Whose data): "
            + "; ".join(f"{c.name} ({STATES[r.state].lower()})" for r, c in waiting) + ".")


def blocking_denial(session: Session, req: PrivacyRequest, basis: str) -> str | None:
    """A denial on an exemption (HIPAA, CMIA...) waits like completion: never a silent "exempt"."""
    return blocking_completion(session, req) if basis.startswith("exempt") else None


@dataclass
class Panel:
    referrals: list[tuple[ClientReferral, Client]]
    only_clients: bool
    health_information: bool
    can_choose: bool
    overdue: set[int]  # forwarded referrals whose answer is past due


def panel(session: Session, req: PrivacyRequest) -> Panel:
    rows = for_case(session, req)
    today = clock.today()
    return Panel(rows, bool(rows) and all(r.only_client for r, _c in rows),
                 any(r.health_information for r, _c in rows), req.status == IN_PROGRESS,
                 {r.id for r, _c in rows if r.state == "forwarded" and r.due_on and r.due_on < today})


def consumer_view(session: Session, req: PrivacyRequest) -> list[tuple[ClientReferral, Client]]:
    """The clients a consumer's status page names: those the request was forwarded to or explained."""
    return [(r, c) for r, c in for_case(session, req) if r.outcome in ("forward", "explain")]


@atomic
def send_reminders(session: Session, *, today: date | None = None) -> int:
    """The daily job: a forwarded request still unanswered CLIENTS_REMINDER_DAYS after it went (or after
    the last reminder) is sent again to the client's privacy contact, with a fresh link."""
    today = today or clock.today()
    every = timedelta(days=int(current_app.config["CLIENTS_REMINDER_DAYS"]))
    sent = 0
    rows = session.execute(select(ClientReferral, Client, PrivacyRequest)
                           .join(Client, Client.id == ClientReferral.client_id)
                           .join(PrivacyRequest, PrivacyRequest.id == ClientReferral.request_id)
                           .where(ClientReferral.state == "forwarded", PrivacyRequest.status.in_(sorted(OPEN)),
                                  Client.removed_at.is_(None))).all()
    for referral, client, req in rows:
        last = referral.reminded_on or clock.local_date(referral.chosen_at or referral.created_at)
        if today < last + every:
            continue
        body = payload(session, req, referral, client, answer_link=_issue_link(session, req, referral))
        _mail_client(session, req, client, body, reminder=True)
        referral.reminded_on, referral.reminders = today, referral.reminders + 1
        audit.record(session, action="client_reminded", actor="system", request_id=req.id,
                     detail=f"client {client.key}: reminder {referral.reminders}")
        sent += 1
    session.commit()
    if sent:
        log.info("clients: %s reminders sent", sent)
    return sent
