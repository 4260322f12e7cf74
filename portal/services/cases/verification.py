"""Verification: the requester (or the agent) proves control of the request's email with a
single-use emailed link; confirming it acknowledges the request and matches the request's data
points against the identity index (services.identity.subjects), verifying automatically at the request's
tier or holding the case for more details or for staff."""
import logging
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlmodel import Session

from ... import clock, i18n
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...lifecycle import AWAITING_EMAIL, DENIED, IN_PROGRESS, ON_HOLD, REQUEST_TYPES, VERIFYING, IllegalTransition
from ...models import AgentAuthorization, PrivacyRequest, VerificationAttempt
from ...urls import external_url
from .. import audit
from ..delivery import mail
from ..identity import subjects, tiers, tokens
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
    # The mail confirms receipt with what §7021(a) asks (reference, dates, how identity is checked).
    req.acknowledged_at = req.acknowledged_at or now


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
    req.email_confirmed_at = now
    req.acknowledged_at = req.acknowledged_at or now
    agent = agent_of(session, req)
    acknowledgement = _acknowledgement(req, agent)
    transition(session, req, VERIFYING, actor="agent" if agent else "requester", action="email_confirmed", now=now)
    if agent:
        mail_requester(session, req, acknowledgement)
        hold_for_authorization_review(session, req, agent, now=now)
    else:
        match_identity(session, req, now=now, acknowledgement=acknowledgement)
    session.commit()
    return req


def _acknowledgement(req: PrivacyRequest, agent: AgentAuthorization | None) -> MailSpec:
    subject = _l("We received your request: %(reference)s", reference=req.reference)
    if agent is None:
        return MailSpec("acknowledgement", subject, {})
    waits_for_consumer = agent.authorization_kind == "signed_permission" and bool(agent.consumer_email)
    return MailSpec("agent_acknowledgement", subject, {"waits_for_consumer": waits_for_consumer})


def hold_for_authorization_review(session: Session, req: PrivacyRequest, agent: AgentAuthorization, *,
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
                        "asked": agent_asked(req.request_type, agent.label),
                        "days": days, "type_label": REQUEST_TYPES[req.request_type].label})
    audit.record(session, action="agent_confirmation_requested", actor="system", request_id=req.id)


def agent_asked(request_type: str, agent: str):
    """What an agent asked for, told to the consumer in one full sentence per type of request."""
    sentences = {
        "access": _l("%(agent)s asked us to tell them what personal information we hold about you, as your "
                     "authorized agent, and sent us a permission they say you signed.", agent=agent),
        "delete": _l("%(agent)s asked us to delete your information, as your authorized agent, and sent us a "
                     "permission they say you signed.", agent=agent),
        "correct": _l("%(agent)s asked us to correct your information, as your authorized agent, and sent us a "
                      "permission they say you signed.", agent=agent),
        "opt_out": _l("%(agent)s asked us to stop selling or sharing your information, as your authorized agent, "
                      "and sent us a permission they say you signed.", agent=agent),
        "limit": _l("%(agent)s asked us to limit the use of your sensitive personal information, as your "
                    "authorized agent, and sent us a permission they say you signed.", agent=agent),
    }
    return sentences[request_type]


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


# ---- matching against the identity index (§7060, §7062, §7024) -------------------------------

# What the requester can add from the status page, in the order asked: the request's own fields.
ADDABLE_POINTS = ("phone", "date_of_birth", "claim_number", "date_of_injury", "employer", "postal_code")
# Holds the requester can answer by adding data points, and those only staff release.
MATCHING_HOLDS = ("data_mismatch", "high_certainty_required")
FAILED_OUTCOMES = ("data_mismatch", "high_certainty_required")
# The kinds of detail a held requester is told would help: the same words for everyone, whatever
# they gave and whether or not the records hold anything about them (no enumeration).
HELPFUL_DETAILS = (
    _l("The name as it appears on the claim or the bills: with a middle name, a second surname or a suffix "
       "such as Jr. if it is written there"),
    _l("The date of birth"),
    _l("A phone number we may have on file"),
    _l("A claim or account number"),
    _l("The date of a work injury and the employer at the time"),
    _l("The ZIP code of the address we may have"),
)
# What the fraud checks count as a failed match: a failure, or an attempt already held for fraud.
COUNTED_FAILURES = FAILED_OUTCOMES + ("fraud_suspected",)


def _request_values(session: Session, req: PrivacyRequest) -> dict:
    values = {"phone": req.phone, "first_name": req.first_name, "last_name": req.last_name,
              "date_of_birth": req.date_of_birth, "claim_number": req.claim_number,
              "date_of_injury": req.date_of_injury, "employer": req.employer, "postal_code": req.postal_code}
    if req.email and req.email_confirmed_at is not None and agent_of(session, req) is None:
        values["email"] = req.email
    return values


def request_points(session: Session, req: PrivacyRequest) -> dict[str, str]:
    """The keyed hashes of the points this request gives. The email counts only once its control is
    proven by the emailed link, and only the requester's own (an agent's address is the agent's)."""
    given, _bad = subjects.hashes(_request_values(session, req))
    for point in tiers.excluded_points(req):
        given.pop(point, None)
    return given


def request_name_forms(session: Session, req: PrivacyRequest) -> frozenset[str]:
    """The keyed hashes of the forms of the request's name (with its date of birth) that still name
    the person: "OBrien" for "O'Brien", one of two surnames or given names, a dropped suffix.
    None when the name is what a correction disputes (§7060(h))."""
    if "name_dob" in tiers.excluded_points(req):
        return frozenset()
    return subjects.name_keys(_request_values(session, req))


def consumer_can_sign(auth: AgentAuthorization) -> bool:
    """Whether the consumer named in an agent's request can sign the declaration themselves: only
    through the confirmation link of a signed permission, mailed to the consumer's own address."""
    return auth.authorization_kind == "signed_permission" and bool(auth.consumer_email)


def declaration_on_file(session: Session, req: PrivacyRequest) -> bool:
    """The request needs no declaration, or it is on file. An agent can never truthfully declare
    that they are the consumer: where the consumer cannot be asked (a power of attorney, §7063(b), or
    a signed permission without the consumer's email), the agent's declaration of their authority,
    made on the agent form, and the staff's acceptance of the document stand in for it (§7062)."""
    if not tiers.declaration_needed(req) or req.declaration_signature:
        return True
    auth = agent_of(session, req)
    return auth is not None and auth.review_decision == "accepted" and not consumer_can_sign(auth)


def requester_may_sign(session: Session, req: PrivacyRequest) -> bool:
    """The status page offers the consumer's declaration only to the consumer: never to an agent."""
    return (tiers.declaration_needed(req) and not req.declaration_signature
            and agent_of(session, req) is None)


def missing_points(req: PrivacyRequest) -> list[str]:
    """The data points the requester has not given yet (what else would help): the same list whether
    or not the business holds anything about them."""
    return [p for p in ADDABLE_POINTS if getattr(req, p) in (None, "")]


def _fraud_signal(session: Session, req: PrivacyRequest, subject_key: str | None, failed_now: bool,
                  now: datetime) -> bool:
    """§7060(f), §7061: many failed matches against one subject or from one email, or many requests
    of this one type from one email, inside the window. Exercising rights is not a fraud signal
    (§1798.125): opt-out and limit requests, which need no verification (§7060(b)), never count, nor
    do requests of other types (one of each right at once is normal)."""
    cfg = current_app.config
    since = now - timedelta(hours=int(cfg["FRAUD_WINDOW_HOURS"]))
    extra = 1 if failed_now else 0
    if subject_key is not None:
        failed = session.execute(select(func.count()).select_from(VerificationAttempt).where(
            VerificationAttempt.subject_key == subject_key, VerificationAttempt.created_at >= since,
            VerificationAttempt.outcome.in_(COUNTED_FAILURES))).scalar_one()
        if failed + extra >= int(cfg["FRAUD_FAILED_PER_SUBJECT"]):
            return True
    if req.email:
        failed = session.execute(select(func.count()).select_from(VerificationAttempt).join(
            PrivacyRequest, PrivacyRequest.id == VerificationAttempt.request_id).where(
            PrivacyRequest.email == req.email, VerificationAttempt.created_at >= since,
            VerificationAttempt.outcome.in_(COUNTED_FAILURES))).scalar_one()
        if failed + extra >= int(cfg["FRAUD_FAILED_PER_EMAIL"]):
            return True
        recent = session.execute(select(func.count()).select_from(PrivacyRequest).where(
            PrivacyRequest.email == req.email, PrivacyRequest.received_at >= since,
            PrivacyRequest.request_type == req.request_type)).scalar_one()
        if REQUEST_TYPES[req.request_type].needs_verification and recent >= int(cfg["FRAUD_REQUESTS_PER_EMAIL"]):
            return True
    return False


def match_identity(session: Session, req: PrivacyRequest, *, actor: str = "system",
                   now: datetime | None = None, acknowledgement: MailSpec | None = None) -> VerificationAttempt:
    """Match the request's points against the identity index and act on the result, in the caller's
    transaction: verified (in progress), downgraded to categories (§7024(a)), or on hold with a
    reason. The audit event names the points that matched and the subject's key, never a value;
    nothing the requester sees says whether the business holds data about them. `acknowledgement`:
    the mail that confirms receipt, queued before any other and told whether identity is confirmed."""
    now = now or clock.now()
    needed = tiers.points_required(req)
    found = subjects.best_match(session, request_points(session, req), request_name_forms(session, req))
    count = len(found.matched)
    declared = declaration_on_file(session, req)
    if found.email_elsewhere:
        outcome = "identity_conflict"
    elif count >= needed and declared:
        outcome = "verified"
    elif req.request_type == "access" and req.access_scope == "specific" and count >= tiers.categories_tier():
        outcome = "downgraded"
    elif count >= tiers.categories_tier():
        outcome = "high_certainty_required"
    else:
        outcome = "data_mismatch"
    if _fraud_signal(session, req, found.subject_key, outcome in FAILED_OUTCOMES, now):
        outcome = "fraud_suspected"
    attempt = VerificationAttempt(request_id=req.id, subject_key=found.subject_key, matched=",".join(found.matched),
                                  unmatched=",".join(found.unmatched), required=needed, outcome=outcome,
                                  created_at=now)
    session.add(attempt)
    if acknowledgement is not None:  # first, and saying what is already known: verified, or not yet
        acknowledgement.context["verified"] = outcome == "verified"
        mail_requester(session, req, acknowledgement)
    points = ", ".join(found.matched) or "none"
    detail = f"automatic: subject {found.subject_key or 'none'}; matched {count} of {needed}: {points}"
    if found.email_elsewhere:
        detail += "; the proven email is held in the records for a different person"
    if outcome == "verified":
        transition(session, req, IN_PROGRESS, actor=actor, action="identity_verified", detail=detail, now=now)
    elif outcome == "downgraded":
        req.access_scope = "categories"
        transition(session, req, IN_PROGRESS, actor=actor, action="downgraded_to_categories", detail=detail, now=now,
                   mail_spec=MailSpec("downgraded", _l("About your request %(reference)s", reference=req.reference),
                                      {"privacy_url": external_url("public.privacy_policy")}))
    elif outcome == "identity_conflict":
        # Staff look at it; the requester reads "being reviewed", as for any review (no tip-off).
        transition(session, req, ON_HOLD, actor=actor, action="identity_conflict_hold",
                   hold_reason="identity_conflict", detail=detail, now=now)
    elif outcome == "fraud_suspected":
        # No tip-off: the requester is told nothing beyond "being reviewed".
        transition(session, req, ON_HOLD, actor=actor, action="fraud_hold", hold_reason="fraud_suspected",
                   detail=detail, now=now)
    else:
        transition(session, req, ON_HOLD, actor=actor, action="verification_hold", hold_reason=outcome,
                   detail=detail, now=now,
                   mail_spec=MailSpec("verification_hold",
                                      _l("We need more details for request %(reference)s", reference=req.reference),
                                      {"helpful": HELPFUL_DETAILS, "declaration": not declared,
                                       "agent": agent_of(session, req) is not None}))
    return attempt


def latest_attempt(session: Session, req: PrivacyRequest) -> VerificationAttempt | None:
    return session.execute(select(VerificationAttempt).where(VerificationAttempt.request_id == req.id)
                           .order_by(VerificationAttempt.id.desc()).limit(1)).scalar()


def can_add_points(req: PrivacyRequest) -> bool:
    """The requester may add data points while the case is held for them."""
    return req.status == ON_HOLD and req.hold_reason in MATCHING_HOLDS


@atomic
def add_points(session: Session, *, req: PrivacyRequest, values: dict, declaration_signature: str | None = None,
               actor: str = "requester") -> VerificationAttempt:
    """The requester adds data points (and, for the high tier, signs the declaration) from the status
    page: the case goes back to verification and is matched again."""
    if not can_add_points(req):
        raise IllegalTransition("this request is not waiting for more details")
    changed = [p for p in ADDABLE_POINTS if values.get(p) not in (None, "")]
    for point in changed:
        setattr(req, point, values[point])
    if values.get("first_name") and values.get("last_name") and \
            (values["first_name"], values["last_name"]) != (req.first_name, req.last_name):
        req.first_name, req.last_name = values["first_name"].strip()[:100], values["last_name"].strip()[:100]
        changed.append("name")
    if declaration_signature and requester_may_sign(session, req):
        req.declaration_signature, req.declaration_signed_at = declaration_signature.strip()[:200], clock.now()
        changed.append("declaration")
    if not changed:
        raise IllegalTransition(_("Give at least one more detail."))
    transition(session, req, VERIFYING, actor=actor, action="data_points_added", detail="added: " + ", ".join(changed))
    attempt = match_identity(session, req, actor="system")
    session.commit()
    return attempt


def attempts(session: Session, req: PrivacyRequest) -> list[VerificationAttempt]:
    """Every matching of this case, newest first (for the case page)."""
    return list(session.execute(select(VerificationAttempt).where(VerificationAttempt.request_id == req.id)
                                .order_by(VerificationAttempt.id.desc())).scalars())


def deny_unverifiable(session: Session, req: PrivacyRequest, *, now: datetime, never_confirmed: bool) -> None:
    """Deny as unverifiable (§7022(a), §7023(a), §7024(a)-(b), §7062(f)-(g)), in the caller's transaction, with the
    basis, its citation and a pointer to the privacy policy mailed. The words do not say whether the
    business holds data about the requester."""
    basis = next(b for b in current_app.config["DENIAL_BASES"] if b["code"] == "unverifiable")
    citation = (basis.get("citations") or {}).get(req.request_type, basis["citation"])
    with i18n.language(req.language):  # stored and mailed in the request's language, whoever closes it
        if never_confirmed:
            explanation = _("The email address for this request was never confirmed, so we could not confirm "
                            "that the request came from you.")
        else:
            explanation = _("With the details we received we could not confirm your identity to the degree "
                            "the law requires for this kind of request.")
        explanation += " " + _("You can make a new request at any time. Our privacy policy explains how we verify "
                               "requests: %(url)s", url=external_url("public.privacy_policy"))
    req.outcome_code, req.outcome_citation, req.response_message = "unverifiable", citation, explanation
    transition(session, req, DENIED, actor="system", action="denied_unverifiable",
               detail="basis=unverifiable; " + ("email never confirmed" if never_confirmed else "not verified by the due date"),
               now=now,
               mail_spec=MailSpec("denied", _l("Our answer to request %(reference)s", reference=req.reference),
                                  {"basis_label": basis["label"], "citation": citation,
                                   "explanation": explanation, "contested": False}))
