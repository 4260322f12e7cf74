"""Case work in the staff console: the queue, verification, holds, information requests, outcomes, notes.

Every action takes the case `version` the member of staff saw (optimistic locking): a stale one
raises transitions.StaleCase and nothing is written. Every status change goes through
transitions.transition, which writes the audit event and queues the mail in the same transaction.
"""
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from ... import clock, lifecycle, normalize
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...input_guards import MAX_ID
from ...lifecycle import (AWAITING_EMAIL, COMPLETED, DENIED, FINAL, IN_PROGRESS, ON_HOLD, OPEN, PARTIALLY_COMPLETED, VERIFYING, IllegalTransition)
from ...models import (DUE_ORDER, IS_OPEN, AgentAuthorization, AuditEvent, CaseNote, CaseOutcome, ContestedStatement, Document, IdentityCheck, OpenCaseCount, PrivacyRequest, RequestMessage, StaffUser)
from . import agents, notices, open_counts, references, verification
from .. import audit
from ..documents import disclosure_scan, store as documents, response_files
from ..drp import console as drp_console
from . import submission as request_service
from .transitions import MailSpec, agent_of, transition

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
DEADLINE_BANDS = {
    "overdue": _l("Overdue"),
    "due_soon": _l("Due soon"),
    "later": _l("Due later"),
}


def due_soon_days() -> int:
    """How many days ahead an open case counts as due soon (DUE_SOON_DAYS): the queue's mark and
    filter, and the staff digest."""
    return int(current_app.config["DUE_SOON_DAYS"])


def all_bases() -> dict[str, dict]:
    """Every configured basis (DENIAL_BASES with DENIAL_BASIS_OVERRIDES merged), enabled or not, by code."""
    overrides = current_app.config.get("DENIAL_BASIS_OVERRIDES") or {}
    return {b["code"]: {**b, **overrides.get(b["code"], {})} for b in current_app.config["DENIAL_BASES"]}


def denial_bases(request_type: str | None = None) -> dict[str, dict]:
    """The enabled basis codes, each with its label and citation, by code; for one request type,
    only those that apply to it, with that type's citation."""
    found = {}
    for code, b in all_bases().items():
        if not b.get("enabled", True):
            continue
        if request_type is not None:
            if request_type not in b.get("types", lifecycle.REQUEST_TYPES):
                continue
            b = {**b, "citation": basis_citation(b, request_type)}
        found[code] = b
    return found


def basis_citation(basis: dict, request_type: str) -> str:
    """The citation of a basis for one request type (e.g. "unverifiable": §7022(a) for a deletion)."""
    return (basis.get("citations") or {}).get(request_type, basis["citation"])


def outcome_bases() -> dict[str, dict]:
    """Every basis a closed case may carry, for display: the configured ones and the agents' two."""
    return {**agents.OUTCOME_BASES, **all_bases()}


def required_data_points(req: PrivacyRequest) -> int:
    """§7062: the request's tier (VERIFICATION_TIERS): 3 for specific pieces, delete and correct, 2 otherwise."""
    return verification.tier(req)


def matched_automatically(session: Session, req: PrivacyRequest) -> tuple[str, ...]:
    """The points the identity index matched for this case at its latest matching."""
    attempt = verification.latest_attempt(session, req)
    if attempt is None or not attempt.subject_key or not attempt.matched:
        return ()
    return tuple(attempt.matched.split(","))


def word_count(text: str) -> int:
    return len(re.findall(r"\S+", text or ""))


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


def _require(req: PrivacyRequest, action: str) -> None:
    if action not in available_actions(req):
        raise IllegalTransition(f"{action} is not possible while the request is {req.status}")


# ---- actions ---------------------------------------------------------------------------------

@atomic
def verify_identity(session: Session, *, req: PrivacyRequest, staff: StaffUser, sources: dict[str, str],
                    note: str | None, expected_version: int) -> None:
    """Staff matched the requester against the records by hand: each point with the source that
    confirmed it (a phone call, a document, the claim file). The points the identity index already
    matched count too. The case moves to in progress."""
    _require(req, "verify")
    sources = {p: s for p, s in sources.items() if s}
    if any(p not in DATA_POINTS for p in sources):
        raise IllegalTransition("unknown data point")
    if any(s not in VERIFICATION_SOURCES for s in sources.values()):
        raise IllegalTransition("unknown source")
    for point in verification.excluded_points(req):
        sources.pop(point, None)  # §7060(h): a correction's disputed details never verify it
    automatic = matched_automatically(session, req)
    needed = required_data_points(req)
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
    _require(req, "fraud_hold")
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
    _require(req, "clear_hold")
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
    _require(req, "request_info")
    message = message.strip()
    if not message:
        raise IllegalTransition("the request for information needs a message")
    transition(
        session, req, ON_HOLD, actor=audit.staff_actor(staff), action="information_requested",
        hold_reason="information_requested", expected_version=expected_version,
        mail_spec=MailSpec("information_requested", _l("We need more information for request %(reference)s",
                                                       reference=req.reference), {"message": message}))
    session.add(RequestMessage(request_id=req.id, direction="to_requester", author=audit.staff_actor(staff), body=message))
    session.commit()


def can_answer(req: PrivacyRequest) -> bool:
    return req.status == ON_HOLD and req.hold_reason == "information_requested"


@atomic
def answer_information(session: Session, *, req: PrivacyRequest, body: str, attachment: tuple | None = None) -> None:
    """The requester answers from their status page, with text and optionally one document
    ((stream, filename, declared type); documents.DocumentRejected if refused, nothing saved).
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
def deny(session: Session, *, req: PrivacyRequest, staff: StaffUser, basis: str, explanation: str,
         categories: str, contested_statement: str | None = None, assessment: str | None = None,
         expected_version: int) -> None:
    """Deny with a basis that applies to this request type, its citation, the categories of data
    the denial covers (§7022(f), §1798.146) and an explanation the requester receives. An opt-out or
    limit request can be denied only for a documented belief of fraud, the reason written out
    (§7026(e)): it is never "unverifiable", since it needs no verification (§7060(b))."""
    _require(req, "deny")
    bases = denial_bases(req.request_type)
    explanation = explanation.strip()
    categories = (categories or "").strip()
    if basis not in bases:
        raise IllegalTransition("this basis does not apply to this request type")
    if not explanation:
        raise IllegalTransition("a denial needs an explanation for the requester")
    if not categories:
        raise IllegalTransition("a denial names the categories of personal information it covers")
    assessment = (assessment or "").strip() or None
    if req.request_type == "correct" and assessment is None:
        raise IllegalTransition("a correction's answer records what was considered (§7023(b))")
    statement = _contested(req, contested_statement)
    chosen = bases[basis]
    req.outcome_code, req.outcome_citation, req.response_message = basis, chosen["citation"], explanation
    transition(
        session, req, DENIED, actor=audit.staff_actor(staff), action="denied", detail=f"basis={basis}",
        expected_version=expected_version,
        mail_spec=MailSpec("denied", _l("Our answer to request %(reference)s", reference=req.reference),
                           {"basis_label": chosen["label"], "citation": chosen["citation"],
                            "explanation": explanation, "categories": categories,
                            "contested": statement is not None, "may_contest": req.request_type == "correct",
                            "max_words": current_app.config["CONTESTED_STATEMENT_MAX_WORDS"]}))
    session.add(CaseOutcome(request_id=req.id, outcome=DENIED, basis_code=basis, explanation=explanation,
                            covered_categories=categories, assessment=assessment,
                            correction_result="not_corrected" if req.request_type == "correct" else None,
                            staff_id=staff.id))
    if statement:
        session.add(ContestedStatement(request_id=req.id, statement=statement, staff_id=staff.id, filed_by="staff"))
        session.flush()
        notices.send_contested_statement(session, req=req, actor=audit.staff_actor(staff))
    session.commit()


def _contested(req: PrivacyRequest, statement: str | None) -> str | None:
    statement = (statement or "").strip() or None
    if statement is None:
        return None
    if req.request_type != "correct":
        raise IllegalTransition("a contested statement belongs to a correction request")
    limit = current_app.config["CONTESTED_STATEMENT_MAX_WORDS"]
    if word_count(statement) > limit:
        raise IllegalTransition(f"a contested statement is at most {limit} words")
    return statement


def can_contest(session: Session, req: PrivacyRequest) -> bool:
    """§7023(f): after a correction was denied or made only in part, the requester may file a
    statement that the data is contested, once, whether or not the case is closed."""
    if req.request_type != "correct" or req.status not in (DENIED, PARTIALLY_COMPLETED):
        return False
    outcome = outcome_for(session, req)
    return contest_open(req, outcome, contested_for(session, req) if outcome is not None else None)


def contest_open(req: PrivacyRequest, outcome: CaseOutcome | None, contested: ContestedStatement | None) -> bool:
    """`can_contest` from the case's outcome and statement already read (the status page reads them together)."""
    return (req.request_type == "correct" and req.status in (DENIED, PARTIALLY_COMPLETED) and outcome is not None
            and outcome.correction_result in ("not_corrected", "partially_corrected") and contested is None)


def contested_for(session: Session, req: PrivacyRequest) -> ContestedStatement | None:
    return session.execute(select(ContestedStatement).where(ContestedStatement.request_id == req.id)).scalar()


@atomic
def file_contested_statement(session: Session, *, req: PrivacyRequest, statement: str) -> ContestedStatement:
    """The requester's statement, from the status page: up to CONTESTED_STATEMENT_MAX_WORDS words
    (health information may be part of it), kept with the record and sent on to the recipients
    of corrections in the same transaction."""
    if not can_contest(session, req):
        raise IllegalTransition("a contested statement follows a correction denied or made in part, once")
    statement = _contested(req, statement)
    if statement is None:
        raise IllegalTransition("a contested statement needs some text")
    row = ContestedStatement(request_id=req.id, statement=statement, filed_by="requester")
    session.add(row)
    audit.record(session, action="contested_statement_filed", actor="requester", request_id=req.id)
    session.flush()
    notices.send_contested_statement(session, req=req, actor="requester")
    session.commit()
    log.info("request %s: contested statement filed", req.reference)
    return row


@dataclass
class Completion:
    """What staff send when they complete a case, in whole or in part."""

    message: str
    partial: bool = False
    deleted_summary: str | None = None  # delete: what was deleted
    kept_summary: str | None = None  # partial: what was kept
    kept_basis: str | None = None  # partial: under which exception
    covered_categories: str | None = None  # partial: the categories of data the exception covers
    correction_result: str | None = None  # correct: corrected | partially_corrected
    files: dict[str, bytes] = field(default_factory=dict)  # access, specific pieces: {"json": ..., "csv": ...}
    # §7024(d): what to do when a file holds an SSN, an ID, an account number, a password...:
    # "refuse" (say which field) or "mask" (replace the value with "collected: yes").
    sensitive: str = "refuse"
    # access, categories: the structured answer (§1798.110(a)), one item per line in each.
    categories_response: dict[str, list[str]] | None = None
    assessment: str | None = None  # correct: what was considered, the documentation and the data's source


CATEGORIES_RESPONSE_PARTS = {
    "categories": _l("Categories of personal information we collected about you"),
    "sources": _l("Categories of sources we collected it from"),
    "purposes": _l("Business or commercial purposes for collecting it"),
    "recipients": _l("Categories of third parties we disclosed it to"),
}


def lines(text: str | None) -> list[str]:
    """One item per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def completion_problems(req: PrivacyRequest, c: Completion) -> dict[str, str]:
    """Field name -> what is missing or wrong, for the rules of this request type."""
    problems = {}
    if not c.message.strip():
        problems["message"] = _("Write the response the requester will receive.")
    if c.partial and c.kept_basis not in denial_bases(req.request_type):
        problems["kept_basis"] = _("Choose the exception for what was not done.")
    if c.partial and not (c.kept_summary or "").strip():
        problems["kept_summary"] = _("Say what was kept or not done, and why.")
    if c.partial and not (c.covered_categories or "").strip():
        problems["covered_categories"] = _("Name the categories of personal information the exception covers.")
    if req.request_type == "delete" and not (c.deleted_summary or "").strip():
        problems["deleted_summary"] = _("Say what was deleted (or deidentified).")
    if req.request_type == "correct" and c.correction_result not in ("corrected", "partially_corrected"):
        problems["correction_result"] = _("Choose the correction outcome.")
    if req.request_type == "correct" and c.correction_result == "partially_corrected" and not c.partial:
        problems["correction_result"] = _("A partial correction is a partial completion.")
    if req.request_type == "correct" and not (c.assessment or "").strip():
        problems["assessment"] = _("Record what you considered: the documentation and the source of the data.")
    for kind, data in c.files.items():
        error = response_files.problem(kind, data)
        if error:
            problems[f"response_{kind}"] = error
        elif c.sensitive != "mask":
            findings, _masked = disclosure_scan.scan(kind, data)
            if findings:
                problems[f"response_{kind}"] = _(
                    "This file holds %(what)s in the field \u201c%(field)s\u201d, which an access response must "
                    "never disclose. Remove it, or choose to show it as \u201ccollected: yes\u201d.",
                    what=findings[0].label, field=findings[0].field)
    if c.sensitive not in ("refuse", "mask"):
        problems["sensitive"] = _("Choose what to do with data that must not be disclosed.")
    if c.files and (req.request_type != "access" or req.access_scope != "specific"):
        problems["files"] = _("Response files belong to a verified request for specific pieces of information. "
                              "Answer a categories request with the form.")
    if req.request_type == "access" and req.access_scope != "specific" and not c.partial:
        answer = c.categories_response or {}
        for part in ("categories", "sources", "purposes"):
            if not answer.get(part):
                problems[f"answer_{part}"] = _("Fill in this part of the categories response.")
    return problems


@atomic
def complete(session: Session, *, req: PrivacyRequest, staff: StaffUser, completion: Completion,
             expected_version: int) -> None:
    """Complete in whole or in part, with the response mailed and, for access, the files attached."""
    _require(req, "complete")
    problems = completion_problems(req, completion)
    if problems:
        raise IllegalTransition("; ".join(problems.values()))
    waiting = notices.blocking_completion(session, req)  # §7022(b), §7023(c), §7026(f), §7027(g)
    if waiting:
        raise IllegalTransition(waiting)
    c = completion
    if c.sensitive == "mask":  # §7024(d): the value never leaves; "collected: yes" takes its place
        c = Completion(**{**c.__dict__, "files": {k: disclosure_scan.scan(k, v)[1] for k, v in c.files.items()}})
    answer = {k: list(v) for k, v in (c.categories_response or {}).items() if k in CATEGORIES_RESPONSE_PARTS and v}
    to_status = PARTIALLY_COMPLETED if c.partial else COMPLETED
    basis = denial_bases(req.request_type)[c.kept_basis] if c.partial else None
    req.outcome_code = c.kept_basis if c.partial else None
    req.outcome_citation = basis["citation"] if basis else None
    req.response_message = c.message.strip()
    now = clock.now()
    transition(
        session, req, to_status, actor=audit.staff_actor(staff), action=to_status, expected_version=expected_version,
        detail=f"basis={c.kept_basis}" if c.partial else None, now=now,
        mail_spec=MailSpec("completed", _l("Our response to request %(reference)s", reference=req.reference), {
            "partial": c.partial, "message": req.response_message, "deleted": (c.deleted_summary or "").strip(),
            "kept": (c.kept_summary or "").strip(), "basis": basis, "has_files": bool(c.files),
            "categories": (c.covered_categories or "").strip() if c.partial else "",
            "answer": answer, "answer_parts": {k: str(v) for k, v in CATEGORIES_RESPONSE_PARTS.items()},
            "may_contest": req.request_type == "correct" and c.correction_result == "partially_corrected",
            "max_words": current_app.config["CONTESTED_STATEMENT_MAX_WORDS"],
            "file_days": current_app.config["RESPONSE_FILE_DAYS"]}))
    session.add(CaseOutcome(request_id=req.id, outcome=to_status, basis_code=c.kept_basis if c.partial else None,
                            explanation=req.response_message, deleted_summary=(c.deleted_summary or "").strip() or None,
                            kept_summary=(c.kept_summary or "").strip() or None,
                            covered_categories=(c.covered_categories or "").strip() or None if c.partial else None,
                            categories_response=answer or None,
                            assessment=(c.assessment or "").strip() or None if req.request_type == "correct" else None,
                            correction_result=c.correction_result if req.request_type == "correct" else None,
                            staff_id=staff.id))
    try:
        for kind in sorted(c.files):
            response_files.attach(session, req=req, kind=kind, data=c.files[kind], staff_id=staff.id,
                                  actor=audit.staff_actor(staff), now=now)
    except documents.DocumentRejected as exc:  # the caller rolls back; nothing is sent
        raise IllegalTransition(str(exc.message)) from exc
    session.commit()


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
    if inline and doc.content_type not in documents.INLINE_TYPES:
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


def outcome_for(session: Session, req: PrivacyRequest) -> CaseOutcome | None:
    """The structured outcome of a closed case, or None."""
    return session.execute(select(CaseOutcome).where(CaseOutcome.request_id == req.id)).scalar()


# ---- what the case page shows ----------------------------------------------------------------

@dataclass
class CaseFile:
    req: PrivacyRequest
    events: list[AuditEvent]
    messages: list[RequestMessage]
    notes: list[CaseNote]
    checks: list[IdentityCheck]
    outcome: CaseOutcome | None
    contested: ContestedStatement | None
    files: list
    downloads: list
    evidence: list
    staff: dict[int, StaffUser]
    corrections: list = field(default_factory=list)  # the requester's documents for a correction
    agent: AgentAuthorization | None = None
    authorization: list = field(default_factory=list)
    drp: object | None = None  # drp_console.DrpCase for a Data Rights Protocol case

    @property
    def consumer_state(self) -> str | None:
        return agents.consumer_state(self.agent) if self.agent else None

    @property
    def checklist(self) -> list[str]:
        return self.agent.review_checklist.split(",") if self.agent and self.agent.review_checklist else []

    def who(self, actor_value: str) -> str:
        """An audit actor for people: the staff member's email, or the actor as written."""
        staff_id = audit.staff_id(actor_value)
        return self.staff[staff_id].email if staff_id in self.staff else actor_value

    def staff_email(self, staff_id: int | None) -> str:
        member = self.staff.get(staff_id)
        return member.email if member else f"staff:{staff_id}"


def case_file(session: Session, req: PrivacyRequest) -> CaseFile:
    """Everything staff see about one case."""
    def rows(model, order):
        return list(session.execute(select(model).where(model.request_id == req.id).order_by(order)).scalars())

    events = rows(AuditEvent, AuditEvent.id)
    ids = {audit.staff_id(e.actor) for e in events} - {None}
    notes, checks = rows(CaseNote, CaseNote.id), rows(IdentityCheck, IdentityCheck.id)
    ids |= {n.staff_id for n in notes} | {c.staff_id for c in checks}
    staff = {s.id: s for s in session.execute(select(StaffUser).where(StaffUser.id.in_(ids))).scalars()} if ids else {}
    return CaseFile(
        req=req, events=events, messages=rows(RequestMessage, RequestMessage.id), notes=notes, checks=checks,
        outcome=session.execute(select(CaseOutcome).where(CaseOutcome.request_id == req.id)).scalar(),
        contested=session.execute(select(ContestedStatement).where(ContestedStatement.request_id == req.id)).scalar(),
        files=response_files.files_for(session, req), downloads=response_files.downloads_for(session, req),
        evidence=documents.for_request(session, request_id=req.id, purpose="evidence"), staff=staff,
        agent=agent_of(session, req),
        authorization=documents.for_request(session, request_id=req.id, purpose="authorization"),
        drp=drp_console.case(session, req),
        corrections=documents.for_request(session, request_id=req.id, purpose="correction"))


# ---- the queue -------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueFilters:
    status: str = "open"  # open | closed | all | one status
    request_type: str = ""
    hold_reason: str = ""
    band: str = ""  # overdue | due_soon | later
    manner: str = ""
    q: str = ""
    after: str = ""  # keyset cursor "YYYY-MM-DD.<id>"


@dataclass
class QueueRow:
    req: PrivacyRequest
    due: date
    days_left: int

    @property
    def is_open(self) -> bool:
        return self.req.status in OPEN

    @property
    def overdue(self) -> bool:
        return self.is_open and self.days_left < 0

    @property
    def due_soon(self) -> bool:
        return self.is_open and 0 <= self.days_left <= due_soon_days()


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    counts: dict[str, int]


def _cursor(value: str) -> tuple[date, int] | None:
    day, _sep, ident = value.partition(".")
    try:
        cursor = date.fromisoformat(day), int(ident)
    except ValueError:
        return None
    return cursor if 0 < cursor[1] <= MAX_ID else None  # the database cannot compare a larger id


def _search(q: str):
    """Reference (exact), email (exact) or name (prefix of first, last or "first last")."""
    q = q.strip()
    ref = references.normalize(q)
    if ref and q.upper().replace(" ", "").replace("-", "").startswith("PR"):
        return PrivacyRequest.reference == ref
    if "@" in q:
        return PrivacyRequest.email == normalize.email(q)
    words = q.lower().split()
    if len(words) >= 2:
        return and_(_prefix(PrivacyRequest.first_name, words[0]), _prefix(PrivacyRequest.last_name, " ".join(words[1:])))
    return or_(_prefix(PrivacyRequest.last_name, q.lower()), _prefix(PrivacyRequest.first_name, q.lower()),
               PrivacyRequest.reference == (ref or ""))


def _prefix(column, prefix: str):
    """lower(column) starts with `prefix`: a range the lower() index serves, plus LIKE for exactness."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    lowered = func.lower(column)
    like = lowered.like(escaped + "%", escape="\\")
    if ord(prefix[-1]) >= 0x10FFFF:  # the last code point has no successor: no upper bound
        return and_(lowered >= prefix, like)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(lowered >= prefix, lowered < upper, like)


def queue(session: Session, *, filters: QueueFilters, on: date | None = None, page_size: int | None = None) -> QueuePage:
    """One page of the queue, ordered by the due date in force, then id (keyset pagination)."""
    on = on or clock.today()
    size = page_size or current_app.config["QUEUE_PAGE_SIZE"]
    f = filters
    where = []
    if f.status == "open":
        where.append(IS_OPEN)  # the partial indexes' own condition: the page reads open rows only
    elif f.status == "closed":
        where.append(PrivacyRequest.status.in_(sorted(FINAL)))
    elif f.status in lifecycle.TRANSITIONS:
        where.append(PrivacyRequest.status == f.status)
    pr = PrivacyRequest
    where += _filters(f, on, request_type=pr.request_type, hold_reason=pr.hold_reason, manner=pr.manner, due=DUE_ORDER)
    if f.q.strip():
        where.append(_search(f.q))
    cursor = _cursor(f.after) if f.after else None
    page_where = list(where)
    if cursor:
        page_where.append(or_(DUE_ORDER > cursor[0], and_(DUE_ORDER == cursor[0], PrivacyRequest.id > cursor[1])))
    found = session.execute(select(PrivacyRequest, DUE_ORDER).where(*page_where)
                            .order_by(DUE_ORDER, PrivacyRequest.id).limit(size + 1)).all()
    rows = [QueueRow(req, _as_date(due), (_as_date(due) - on).days) for req, due in found[:size]]
    next_cursor = f"{rows[-1].due.isoformat()}.{rows[-1].req.id}" if len(found) > size else None
    return QueuePage(rows, next_cursor, queue_counts(session, filters=f, on=on))


def queue_counts(session: Session, *, filters: QueueFilters, on: date) -> dict[str, int]:
    """The open cases per status under the queue's filters but status (the counts are how you choose
    it), in lifecycle order. Closed ones are not counted: they grow without end and need no live
    count (the status filter still lists them; §7102 metrics count them). Read from the counts the
    triggers keep (open_counts), or counted live with a search."""
    f = filters
    if f.q.strip():
        pr = PrivacyRequest
        found = dict(session.execute(select(pr.status, func.count()).where(IS_OPEN, _search(f.q), *_filters(
            f, on, request_type=pr.request_type, hold_reason=pr.hold_reason, manner=pr.manner, due=DUE_ORDER)
        ).group_by(pr.status)).all())
    else:
        c = OpenCaseCount
        found = open_counts.per_status(session, *_filters(
            f, on, request_type=c.request_type, hold_reason=c.hold_reason, manner=c.manner, due=c.due_on),
            by_due=f.band in DUE_BANDS)
    return {status: found[status] for status in lifecycle.STATUS_LABELS if status in found}


DUE_BANDS = ("overdue", "due_soon", "later")


def _filters(f: QueueFilters, on: date, *, request_type, hold_reason, manner, due) -> list:
    """The queue's filters but status and search, on the given columns (the cases', or the counts')."""
    where = []
    if f.request_type in lifecycle.REQUEST_TYPES:
        where.append(request_type == f.request_type)
    if f.hold_reason in lifecycle.HOLD_REASONS:
        where.append(hold_reason == f.hold_reason)
    if f.manner in lifecycle.MANNERS:
        where.append(manner == f.manner)
    soon = on + timedelta(days=due_soon_days())
    if f.band == "overdue":
        where.append(due < on)
    elif f.band == "due_soon":
        where.append(and_(due >= on, due <= soon))
    elif f.band == "later":
        where.append(due > soon)
    return where


def _as_date(value) -> date:
    # SQLite returns coalesce() of two DATE columns as text; PostgreSQL as a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class Acknowledgements:
    """§7021(a): open cases whose receipt has not been acknowledged, due within 10 business days."""

    due: list[PrivacyRequest]
    overdue: list[PrivacyRequest]


def acknowledgements(session: Session, *, on: date | None = None, limit: int = 20) -> Acknowledgements:
    """Open cases not yet acknowledged: those past their acknowledgement date, and the others."""
    on = on or clock.today()
    rows = session.execute(select(PrivacyRequest).where(
        IS_OPEN, PrivacyRequest.acknowledged_at.is_(None))
        .order_by(PrivacyRequest.acknowledgement_due, PrivacyRequest.id).limit(limit * 2)).scalars().all()
    return Acknowledgements(due=[r for r in rows if r.acknowledgement_due >= on][:limit],
                            overdue=[r for r in rows if r.acknowledgement_due < on][:limit])
