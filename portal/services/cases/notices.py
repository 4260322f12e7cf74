"""Notices downstream (§7022(b)(2)-(3), §7023(c), §7026(f)(2)-(3), §7027(g)(2)-(3)): the service
providers, contractors and third parties an admin configured are told to delete, correct, stop
selling or sharing, or limit their use, before the case may be completed.

A recipient is told by signed webhook (services/delivery/webhooks.py), by mail (the outbox), or by hand:
staff then record when and how. Only a third party on a deletion may instead be explained as
impossible or disproportionate to tell (§7022(b)(3)): no other recipient or request type has that
exception, and the consumer then receives the detailed explanation in our response. A notice is
settled when delivered, recorded or explained; completion waits for all of them. A notice carries
only the identifiers the recipient holds (§7002), chosen per recipient.

When a requester contests data we did not correct (§7023(f)), the statement goes to the same
recipients of corrections, as notices of their own ("contested_statement"), whether or not the case
is closed; they never hold up completion.
"""
import logging
import uuid
from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import func, select, update
from sqlmodel import Session

from ... import clock, db
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...lifecycle import IN_PROGRESS, OPEN, REQUEST_TYPES, local_date
from ...models import (
    CaseOutcome,
    ContestedStatement,
    DownstreamNotice,
    IdentityCheck,
    OutboxMessage,
    PrivacyRequest,
    Recipient,
    RequestRecord,
    VerificationAttempt,
    WebhookDelivery,
)
from .. import audit
from ..delivery import mail, webhooks
from .transitions import agent_of

log = logging.getLogger(__name__)

# What each request type asks a recipient to do.
ACTIONS = {
    "delete": "delete",
    "correct": "correct",
    "opt_out": "stop_selling_and_sharing",
    "limit": "limit_use_of_sensitive_information",
}
NOTICE_TYPES = tuple(ACTIONS)
# A processor asked by a fulfilment plan about an access request (never a notice type of its own).
ACCESS_ACTION = "report_personal_information"
KINDS = {"service_provider": _l("Service provider"), "contractor": _l("Contractor"), "third_party": _l("Third party")}
# §7002: the identifiers a recipient may be sent, the ones it holds chosen per recipient.
IDENTIFIERS = {"subject_id": "Our record number (the identity index's subject_id)", "claim_number": "Claim number",
               "name": "Name", "email": "Email address", "phone": "Phone number"}
METHODS = {"webhook": _l("Webhook (signed HTTPS POST)"), "email": _l("Email"), "manual": _l("By hand (staff record it)")}
STATES = {
    "queued": _l("Queued for delivery"),
    "delivered": _l("Delivered"),
    "failed": _l("Delivery failed: record it by hand or explain"),
    "awaiting_staff": _l("To be told by hand"),
    "recorded": _l("Told by hand"),
    "explained": _l("Not told: impossible or disproportionate effort"),
}
SETTLED = frozenset({"delivered", "recorded", "explained"})
WEBHOOK_TOPIC = "downstream_notice"
ACT, CONTESTED = "act", "contested_statement"
PURPOSES = {ACT: _l("Act on the request"), CONTESTED: _l("The consumer's contested statement")}
CONTESTED_ACTION = "note_contested_statement"


class NoticeError(Exception):
    """A recipient or notice change refused; `field` names the form field, the message is for people."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


# ---- recipients (admins) ---------------------------------------------------------------------

@dataclass
class RecipientData:
    """What an admin enters for a recipient; a webhook secret of None keeps the stored one."""

    name: str
    kind: str
    request_types: list[str]
    method: str
    webhook_url: str | None = None
    webhook_secret: str | None = None
    email: str | None = None
    active: bool = True
    identifiers: list[str] | None = None  # None: name and email for a new recipient, the stored ones for a change


def list_recipients(session: Session) -> list[Recipient]:
    return list(session.execute(select(Recipient).order_by(Recipient.active.desc(), Recipient.name)).scalars())


def get_recipient(session: Session, recipient_id: int) -> Recipient | None:
    return session.get(Recipient, recipient_id)


def _check(data: RecipientData, existing: Recipient | None) -> dict:
    """The columns to store, or NoticeError for the first problem."""
    name = (data.name or "").strip()
    if not name:
        raise NoticeError(_l("Give the recipient's name."), "name")
    if data.kind not in KINDS:
        raise NoticeError(_l("Choose what kind of recipient this is."), "kind")
    types = sorted(set(data.request_types or ()))
    if not types or any(t not in NOTICE_TYPES for t in types):
        raise NoticeError(_l("Choose at least one kind of request that concerns this recipient."), "request_types")
    if data.method not in METHODS:
        raise NoticeError(_l("Choose how the recipient is told."), "method")
    if data.identifiers is None:
        held = existing.identifiers.split(",") if existing is not None else ["name", "email"]
    else:
        held = [i for i in IDENTIFIERS if i in data.identifiers]
        if not held or len(held) != len(set(data.identifiers)):
            raise NoticeError(_l("Choose the identifiers this recipient holds."), "identifiers")
    values = dict(name=name[:200], kind=data.kind, request_types=",".join(types), method=data.method,
                  active=bool(data.active), webhook_url=None, email=None, identifiers=",".join(held))
    if data.method == "webhook":
        url = (data.webhook_url or "").strip()
        problem = webhooks.url_problem(url, allow_http=current_app.config["WEBHOOK_ALLOW_HTTP"],
                                       allow_hosts=current_app.config["OUTBOUND_ALLOW_HOSTS"])
        if problem:
            raise NoticeError(_l("Give the webhook address: %(problem)s.", problem=problem), "webhook_url")
        values["webhook_url"] = url
        if data.webhook_secret:
            if len(data.webhook_secret) < 32:
                raise NoticeError(_l("The signing secret needs at least 32 characters."), "webhook_secret")
            values["webhook_secret"] = webhooks.encrypt_secret(data.webhook_secret)
        elif existing is None or not existing.webhook_secret:
            raise NoticeError(_l("Give the signing secret you share with the recipient."), "webhook_secret")
    else:
        values["webhook_secret"] = None
    if data.method == "email":
        try:
            values["email"] = validate_email((data.email or "").strip(), check_deliverability=False).normalized
        except EmailNotValidError:
            raise NoticeError(_l("Give the email address notices go to."), "email") from None
    return values


@atomic
def save_recipient(session: Session, *, data: RecipientData, actor: str, recipient: Recipient | None = None) -> Recipient:
    """Add a recipient, or change one; on record (by id: the audit log keeps no names)."""
    values = _check(data, recipient)
    new = recipient is None
    recipient = recipient or Recipient(**values)
    for key, value in values.items():  # without a new secret, "webhook_secret" is absent: the stored one stays
        setattr(recipient, key, value)
    recipient.updated_at = clock.now()
    session.add(recipient)
    session.flush()
    audit.record(session, action="recipient_added" if new else "recipient_changed", actor=actor,
                 detail=f"recipient {recipient.id} ({recipient.kind}, {recipient.method}, {recipient.request_types})")
    session.commit()
    return recipient


def reencrypt_secrets(session: Session) -> int:
    """Signing secrets (recipients and queued webhooks) under the newest key, after `keys rotate`."""
    count = 0
    for model in (Recipient, WebhookDelivery):
        column = model.webhook_secret if model is Recipient else model.secret
        for row in session.execute(select(model).where(column.is_not(None))).scalars():
            name = "webhook_secret" if model is Recipient else "secret"
            setattr(row, name, webhooks.reencrypt_secret(getattr(row, name)))
            count += 1
    session.commit()
    return count


# ---- notices on a case ----------------------------------------------------------------------

def concerned(session: Session, req: PrivacyRequest) -> list[Recipient]:
    """The active recipients this request's type concerns."""
    if req.request_type not in NOTICE_TYPES:
        return []
    rows = session.execute(select(Recipient).where(Recipient.active.is_(True)).order_by(Recipient.name)).scalars()
    return [r for r in rows if req.request_type in r.request_types.split(",")]


def for_request(session: Session, req: PrivacyRequest, *, purpose: str | None = None) -> list[tuple[DownstreamNotice, Recipient]]:
    """The request's notices with their recipients: those of one purpose, or all."""
    query = (select(DownstreamNotice, Recipient).join(Recipient, Recipient.id == DownstreamNotice.recipient_id)
             .where(DownstreamNotice.request_id == req.id).order_by(DownstreamNotice.id))
    if purpose is not None:
        query = query.where(DownstreamNotice.purpose == purpose)
    return [(n, r) for n, r in session.execute(query).all()]


def _subject(session: Session, req: PrivacyRequest, recipient: Recipient) -> dict:
    """The identifiers a recipient needs to find the person: the consumer's, never an agent's, and
    only those the recipient holds (§7002: no more than the purpose needs). The business's own come
    first: the identity index's subject_id, and the claim number once our records or staff confirmed it;
    what the requester typed is marked as such."""
    agent = agent_of(session, req)
    held = set(recipient.identifiers.split(","))
    attempt = session.execute(select(VerificationAttempt).where(
        VerificationAttempt.request_id == req.id, VerificationAttempt.subject_key.is_not(None),
        VerificationAttempt.outcome.in_(("verified", "downgraded"))).order_by(VerificationAttempt.id.desc())).scalar()
    checked = ",".join(session.execute(select(IdentityCheck.data_points).where(IdentityCheck.request_id == req.id)).scalars())
    claim_confirmed = bool(req.claim_number) and (
        (attempt is not None and "claim_number" in attempt.matched.split(",")) or "claim_number:" in checked)
    ours = {"subject_id": attempt.subject_key if attempt is not None and "subject_id" in held else None,
            "claim_number": req.claim_number if claim_confirmed and "claim_number" in held else None}
    given = {"first_name": req.first_name if "name" in held else None,
             "last_name": req.last_name if "name" in held else None,
             "email": (agent.consumer_email if agent else req.email) if "email" in held else None,
             "phone": ((agent.consumer_phone if agent else None) or req.phone) if "phone" in held else None}
    subject = {k: v for k, v in {**ours, **given}.items() if v}
    subject["identified_by"] = "our_records" if any(ours.values()) else "as_given_by_the_requester"
    return subject


def payload(session: Session, req: PrivacyRequest, notice: DownstreamNotice) -> dict:
    """What a recipient receives, by webhook (as JSON) or by mail (as text). A correction's notice
    goes once staff decided it, and carries only what was corrected, never the request's own text."""
    body = {"notice_id": notice.notice_key, "reference": req.reference, "request_type": req.request_type,
            "action": ACTIONS.get(req.request_type, ACCESS_ACTION), "business": current_app.config["ORG_NAME"],
            "issued_at": notice.created_at.isoformat(), "sequence": notice.id,  # increasing as issued
            "subject": _subject(session, req, session.get(Recipient, notice.recipient_id)),
            "instructions": str(INSTRUCTIONS[req.request_type])}
    if req.request_type == "correct" and notice.purpose == ACT:
        decided = session.execute(select(CaseOutcome).where(CaseOutcome.request_id == req.id)).scalar()
        body["correction"] = {"result": decided.correction_result if decided else None,
                              "corrected": decided.corrected_details if decided else None}
    if notice.purpose == CONTESTED:
        statement = contested_statement_of(session, req)
        body.update(action=CONTESTED_ACTION, instructions=str(CONTESTED_INSTRUCTIONS),
                    contested_statement={"statement": statement.statement, "filed_at": statement.created_at.isoformat()})
    return body


def contested_statement_of(session: Session, req: PrivacyRequest) -> ContestedStatement:
    return session.execute(select(ContestedStatement).where(ContestedStatement.request_id == req.id)).scalar_one()


INSTRUCTIONS = {
    "access": _l("Tell us whether you hold personal information about this consumer for us, and send us what you "
                 "hold through the answer link (Civil Code §1798.110, §1798.130)."),
    "delete": _l("Delete this consumer's personal information you hold for us, and tell your own service providers "
                 "and contractors to do the same (Cal. Code Regs. tit. 11, §7022(b))."),
    "correct": _l("Make exactly the corrections below, which we decided after reviewing the consumer's request, in the "
                  "personal information you hold for us; change nothing else. Tell your own service providers and "
                  "contractors to do the same (§7023(c))."),
    "opt_out": _l("Stop selling and sharing this consumer's personal information, and do not sell or share it further "
                  "(§7026(f))."),
    "limit": _l("Stop using and disclosing this consumer's sensitive personal information beyond the purposes "
                "allowed by §7027(m) (§7027(g))."),
}
CONTESTED_INSTRUCTIONS = _l(
    "We did not correct this consumer's information as asked, and the consumer contests its accuracy. Note that the "
    "information is contested and keep the consumer's statement with it; give the statement with the information "
    "whenever you disclose it (Cal. Code Regs. tit. 11, §7023(f); Civil Code §56.16).")


def can_send(req: PrivacyRequest) -> bool:
    """Notices go while the case is in progress; a correction's only once staff decided it (at completion)."""
    return req.status == IN_PROGRESS and req.request_type in NOTICE_TYPES and req.request_type != "correct"


@atomic
def send(session: Session, *, req: PrivacyRequest, actor: str) -> int:
    """One notice per concerned recipient not told yet: webhooks and mail queued, manual ones listed
    for staff. Returns how many were created; all in one transaction."""
    if not can_send(req):
        raise NoticeError(_l("Notices are sent while a deletion, opt-out or limit request is in progress; a "
                             "correction's go by themselves once you complete it with what was corrected."))
    created = _notify(session, req, ACT)
    if created:
        audit.record(session, action="notices_sent", actor=actor, request_id=req.id, detail=f"{created} notices")
    session.commit()
    log.info("request %s: %s notices downstream", req.reference, created)
    return created


def tell_concerned(session: Session, *, req: PrivacyRequest, actor: str) -> int:
    """Every concerned recipient not yet told gets its notice to act, in the caller's transaction: a
    correction's once staff decided it (the completion's transaction, §7023(c)), an opt-out's or a
    limit's from the worker (auto_completion)."""
    created = _notify(session, req, ACT)
    if created:
        audit.record(session, action="notices_sent", actor=actor, request_id=req.id, detail=f"{created} notices")
    return created


def send_contested_statement(session: Session, *, req: PrivacyRequest, actor: str) -> int:
    """§7023(f): the statement just filed goes to every recipient of corrections, in the caller's
    transaction (the statement's own), whether or not the case is closed. Returns how many notices."""
    created = _notify(session, req, CONTESTED)
    if created:
        audit.record(session, action="contested_statement_sent", actor=actor, request_id=req.id,
                     detail=f"{created} notices")
    return created


def _notify(session: Session, req: PrivacyRequest, purpose: str) -> int:
    """One notice of `purpose` per concerned recipient not told of it yet: webhooks and mail queued,
    manual ones listed for staff."""
    told = {n.recipient_id for n, _r in for_request(session, req, purpose=purpose)}
    created = 0
    for recipient in concerned(session, req):
        if recipient.id in told:
            continue
        _notice(session, req, recipient, purpose)
        created += 1
    if created:
        _count_on_record(session, req)
    return created


def notify_recipient(session: Session, req: PrivacyRequest, recipient: Recipient, *, extra: dict) -> DownstreamNotice:
    """The one notice to act that `recipient` gets for this request, with `extra` in its payload (a
    fulfilment plan's processor item adds where to answer), in the caller's transaction. A recipient
    already told gets nothing more: its existing notice is returned."""
    existing = next((n for n, _r in for_request(session, req, purpose=ACT) if n.recipient_id == recipient.id), None)
    if existing is not None:
        return existing
    notice = _notice(session, req, recipient, ACT, extra=extra)
    _count_on_record(session, req)
    return notice


def _notice(session: Session, req: PrivacyRequest, recipient: Recipient, purpose: str,
            extra: dict | None = None) -> DownstreamNotice:
    notice = DownstreamNotice(notice_key=str(uuid.uuid4()), request_id=req.id, recipient_id=recipient.id,
                              purpose=purpose, method=recipient.method, created_at=clock.now(),
                              state="awaiting_staff" if recipient.method == "manual" else "queued")
    session.add(notice)
    session.flush()
    action = CONTESTED_ACTION if purpose == CONTESTED else ACTIONS.get(req.request_type, ACCESS_ACTION)
    body = {**payload(session, req, notice), **(extra or {})}
    if recipient.method == "webhook":
        notice.webhook_delivery_id = webhooks.queue(
            session, topic=WEBHOOK_TOPIC, url=recipient.webhook_url, secret=recipient.webhook_secret,
            payload=body, idempotency_key=notice.notice_key).id
    elif recipient.method == "email":
        notice.outbox_message_id = mail.queue(
            session, to=recipient.email, template="recipient_notice", request_id=req.id,
            subject=f"{current_app.config['ORG_NAME']}: privacy request {req.reference} ({action})",
            context={"notice": body, "recipient": recipient}).id
    return notice


def _count_on_record(session: Session, req: PrivacyRequest) -> None:
    count = session.execute(select(func.count()).select_from(DownstreamNotice)
                            .where(DownstreamNotice.request_id == req.id)).scalar_one()
    session.execute(update(RequestRecord).where(RequestRecord.reference == req.reference).values(notice_count=count))


def refresh_states(session: Session, *, request_id: int | None = None) -> None:
    """Carry what the webhook and mail deliveries did into their notices (in the caller's transaction)."""
    for notice, state, at in _finished_deliveries(session, request_id=request_id):
        notice.state = state
        if state == "delivered":
            notice.delivered_at = at


def _finished_deliveries(session: Session, *, request_id: int | None = None) -> list[tuple]:
    """Queued notices whose webhook or mail delivery has ended: (notice, "delivered" or "failed", when)."""
    query = select(DownstreamNotice).where(DownstreamNotice.state == "queued")
    if request_id is not None:
        query = query.where(DownstreamNotice.request_id == request_id)
    finished = []
    for notice in session.execute(query).scalars().all():
        if notice.webhook_delivery_id is not None:
            hook = session.get(WebhookDelivery, notice.webhook_delivery_id)
            status, at = (hook.status, hook.delivered_at) if hook else (None, None)
        elif notice.outbox_message_id is not None:
            sent = session.get(OutboxMessage, notice.outbox_message_id)  # status: pending | sent | failed
            status, at = ({"sent": "delivered"}.get(sent.status, sent.status), sent.sent_at) if sent else (None, None)
        else:
            continue
        if status in ("delivered", "failed"):
            finished.append((notice, status, at))
    return finished


@atomic
def _carry_deliveries(session: Session, *, request_id: int) -> None:
    refresh_states(session, request_id=request_id)  # read again, under the write lock
    session.commit()


def _unsettled(session: Session, req: PrivacyRequest, notice_id: int) -> DownstreamNotice:
    notice = session.get(DownstreamNotice, notice_id)
    if notice is None or notice.request_id != req.id:
        raise LookupError(notice_id)
    refresh_states(session, request_id=req.id)
    if notice.state in SETTLED:
        raise NoticeError(_l("This notice is already settled: nothing more is needed for it."))
    if notice.state == "queued":
        raise NoticeError(_l("This notice is still being delivered: reload the case in a minute; if its delivery "
                             "fails, record it by hand or explain."))
    return notice


@atomic
def record_manual(session: Session, *, req: PrivacyRequest, notice_id: int, told_on: date, method: str, actor: str) -> None:
    """Staff told the recipient themselves: on which day and how."""
    notice = _unsettled(session, req, notice_id)
    method = (method or "").strip()
    if not method:
        raise NoticeError(_l("Say how the recipient was told."), "method")
    if told_on > clock.today() or told_on < local_date(req.received_at):
        raise NoticeError(_l("Give the day the recipient was told: not in the future, not before the request."), "told_on")
    notice.state, notice.recorded_on, notice.recorded_method = "recorded", told_on, method[:200]
    notice.settled_by, notice.settled_at = actor, clock.now()
    audit.record(session, action="notice_recorded", actor=actor, request_id=req.id, detail=f"notice {notice.id}")
    session.commit()


def may_explain(req: PrivacyRequest, notice: DownstreamNotice, recipient: Recipient) -> bool:
    """§7022(b)(3): only a third party on a deletion may go untold because telling it proves impossible
    or involves disproportionate effort. Service providers and contractors, and corrections, opt-outs
    and limits (§7023(c), §7026(f), §7027(g)), have no such exception."""
    return notice.purpose == ACT and req.request_type == "delete" and recipient.kind == "third_party"


def explained_to_requester(session: Session, req: PrivacyRequest) -> list[str]:
    """The detailed explanations the consumer receives (§7022(b)(3)) for the third parties not told."""
    return [n.explanation for n, _r in for_request(session, req, purpose=ACT) if n.state == "explained"]


@atomic
def explain(session: Session, *, req: PrivacyRequest, notice_id: int, explanation: str, actor: str) -> None:
    """§7022(b)(3): telling this third party of a deletion proves impossible or disproportionate; why.
    The explanation reaches the consumer in our response."""
    notice = _unsettled(session, req, notice_id)
    if not may_explain(req, notice, session.get(Recipient, notice.recipient_id)):
        raise NoticeError(_l("Only a third party told of a deletion may go untold as impossible or disproportionate "
                             "(§7022(b)(3)): tell this recipient and record it."))
    explanation = (explanation or "").strip()
    if len(explanation) < 20:
        raise NoticeError(_l("Explain in a sentence or two why telling this recipient is impossible or would "
                             "take disproportionate effort."), "explanation")
    notice.state, notice.explanation = "explained", explanation
    notice.settled_by, notice.settled_at = actor, clock.now()
    audit.record(session, action="notice_explained", actor=actor, request_id=req.id, detail=f"notice {notice.id}")
    session.commit()


def blocking_completion(session: Session, req: PrivacyRequest) -> str | None:
    """Why the case cannot be completed yet because of its notices, or None (a correction's notices
    follow its completion)."""
    if req.request_type not in NOTICE_TYPES or req.request_type == "correct":
        return None
    refresh_states(session, request_id=req.id)
    told = {n.recipient_id: n for n, _r in for_request(session, req, purpose=ACT)}
    missing = [r for r in concerned(session, req) if r.id not in told]
    if missing:
        return str(_l("Send the notices to the %(n)s recipients this request concerns first (Notices downstream).",
                      n=len(missing)))
    open_ = [n for n in told.values() if n.state not in SETTLED]
    if open_:
        return str(_l("%(n)s notices downstream are not yet delivered, recorded or explained.", n=len(open_)))
    return None


@dataclass
class Panel:
    """The case page's notices section."""

    notices: list[tuple[DownstreamNotice, Recipient]]
    missing: list[Recipient]
    can_send: bool
    applies: bool


def panel(session: Session, req: PrivacyRequest) -> Panel:
    applies = req.request_type in NOTICE_TYPES
    # Shown on every look at the case: it reads, and writes only when a delivery has ended since.
    with db.reading(session):
        ended = applies and _finished_deliveries(session, request_id=req.id)
    if ended:
        _carry_deliveries(session, request_id=req.id)
    notices = for_request(session, req) if applies else []
    told = {n.recipient_id for n, _r in notices if n.purpose == ACT}
    # A closed case needs no more notices to act (a completed one had them all; a denied one none).
    missing = [r for r in concerned(session, req) if r.id not in told] if applies and req.status in OPEN else []
    return Panel(notices, missing, can_send(req) and bool(missing), applies)


def type_labels() -> dict:
    return {code: REQUEST_TYPES[code].label for code in NOTICE_TYPES}
