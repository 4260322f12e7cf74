"""How a case ends: completion in whole or in part, denial with a basis, contested statements.

The bases (codes, labels, citations per request type) come from configuration (DENIAL_BASES with
DENIAL_BASIS_OVERRIDES). Every ending goes through transitions.transition in the service's own
transaction, with the requester's mail and the structured outcome (CaseOutcome) kept for §7101.
"""
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import exists, func, select
from sqlmodel import Session

from ... import clock, lifecycle
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...lifecycle import COMPLETED, DENIED, FINAL, IN_PROGRESS, PARTIALLY_COMPLETED, IllegalTransition
from ...models import CaseOutcome, ContestedStatement, IdentityCheck, PrivacyRequest, StaffUser, VerificationAttempt
from .. import audit
from ..documents import disclosure_scan, kinds, response_files
from . import agents, notices
from .casework import require_action
from .transitions import MailSpec, check_version, transition

log = logging.getLogger(__name__)


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



def identity_verified(session: Session, req: PrivacyRequest) -> bool:
    """The requester's identity was verified, by the identity index or by staff: the case reached
    in progress, or a match or a check by hand is on record."""
    if req.status == IN_PROGRESS or (req.status in FINAL and req.status != DENIED and req.email_confirmed_at):
        return True
    return bool(session.execute(select(
        exists().where(IdentityCheck.request_id == req.id)
        | exists().where(VerificationAttempt.request_id == req.id,
                         VerificationAttempt.outcome.in_(("verified", "downgraded"))))).scalar())


def repeated_request(session: Session, req: PrivacyRequest) -> bool:
    """Another request of the same person (same email and last name) within the 12 months before this
    one: "duplicate or manifestly excessive" can be true only then (§1798.145(h)(3))."""
    if not req.email:
        return False
    since = req.received_at.replace(year=req.received_at.year - 1) if not (
        req.received_at.month == 2 and req.received_at.day == 29) else req.received_at.replace(
        year=req.received_at.year - 1, day=28)
    return bool(session.execute(select(exists().where(
        PrivacyRequest.id != req.id, PrivacyRequest.email == req.email,
        func.lower(PrivacyRequest.last_name) == (req.last_name or "").lower(),
        PrivacyRequest.received_at >= since, PrivacyRequest.received_at <= req.received_at))).scalar())


def applicable_bases(session: Session, req: PrivacyRequest) -> dict[str, dict]:
    """The bases that can be true for this case: those of its request type, without "identity could
    not be verified" once it was verified, and without "duplicate" for a first request."""
    bases = denial_bases(req.request_type)
    if "unverifiable" in bases and identity_verified(session, req):
        bases.pop("unverifiable")
    if "duplicate" in bases and not repeated_request(session, req):
        bases.pop("duplicate")
    return bases


def basis_citation(basis: dict, request_type: str) -> str:
    """The citation of a basis for one request type (e.g. "unverifiable": §7022(a) for a deletion)."""
    return (basis.get("citations") or {}).get(request_type, basis["citation"])



def outcome_bases() -> dict[str, dict]:
    """Every basis a closed case may carry, for display: the configured ones and the agents' two."""
    return {**agents.OUTCOME_BASES, **all_bases()}



def word_count(text: str) -> int:
    return len(re.findall(r"\S+", text or ""))


def contested_word_limit(req: PrivacyRequest) -> int:
    """§7023(f)(3): CONTESTED_STATEMENT_MAX_WORDS words for each piece of information contested (each
    field the correction disputed; one piece when it named none)."""
    pieces = [f for f in (req.correction_points or "").split(",") if f]
    return int(current_app.config["CONTESTED_STATEMENT_MAX_WORDS"]) * max(1, len(pieces))



@atomic
def deny(session: Session, *, req: PrivacyRequest, staff: StaffUser, basis: str, explanation: str,
         categories: str, contested_statement: str | None = None, assessment: str | None = None,
         source: str | None = None, expected_version: int) -> None:
    """Deny with a basis that applies to this request type, its citation, the categories of data
    the denial covers (§7022(f), §1798.146) and an explanation the requester receives. An opt-out or
    limit request can be denied only for a documented belief of fraud, the reason written out
    (§7026(e)): it is never "unverifiable", since it needs no verification (§7060(b))."""
    require_action(req, "deny")
    check_version(req, expected_version)
    actor = audit.staff_actor(staff)  # read before the case changes: a refresh would flush it early
    bases = applicable_bases(session, req)
    explanation = explanation.strip()
    categories = (categories or "").strip()
    if basis not in bases:
        raise IllegalTransition(_("This basis cannot be true for this case: choose one of the bases the form offers."))
    if not explanation:
        raise IllegalTransition("a denial needs an explanation for the requester")
    if not categories:
        raise IllegalTransition("a denial names the categories of personal information it covers")
    assessment = (assessment or "").strip() or None
    if req.request_type == "correct" and assessment is None:
        raise IllegalTransition("a correction's answer records what was considered (§7023(b))")
    for check in current_app.extensions.get(_DENIAL_CHECKS, ()):
        waiting = check(session, req, basis)
        if waiting:
            raise IllegalTransition(waiting)
    statement = _contested(req, contested_statement)
    chosen = bases[basis]
    req.outcome_code, req.outcome_citation, req.response_message = basis, chosen["citation"], explanation
    transition(
        session, req, DENIED, actor=actor, action="denied", detail=f"basis={basis}",
        expected_version=expected_version,
        mail_spec=denial_mail(req, basis=chosen, explanation=explanation, categories=categories,
                              contested=statement is not None, source=source))
    session.add(CaseOutcome(request_id=req.id, outcome=DENIED, basis_code=basis, explanation=explanation,
                            covered_categories=categories, assessment=assessment,
                            correction_result="not_corrected" if req.request_type == "correct" else None,
                            staff_id=staff.id))
    if statement:
        session.add(ContestedStatement(request_id=req.id, statement=statement, staff_id=staff.id, filed_by="staff"))
        session.flush()
        notices.send_contested_statement(session, req=req, actor=actor)
    session.commit()



def denial_mail(req: PrivacyRequest, *, basis: dict, explanation: str, categories: str, contested: bool,
                source: str | None = None) -> MailSpec:
    """The denial the requester receives (the console's review step shows it before it goes)."""
    return MailSpec("denied", _l("Our answer to request %(reference)s", reference=req.reference),
                    {"basis_label": basis["label"], "citation": basis["citation"], "explanation": explanation.strip(),
                     "categories": (categories or "").strip(), "contested": contested,
                     "may_contest": req.request_type == "correct", "max_words": contested_word_limit(req),
                     "source": (source or "").strip() if req.request_type == "correct" else ""})


def _contested(req: PrivacyRequest, statement: str | None) -> str | None:
    statement = (statement or "").strip() or None
    if statement is None:
        return None
    if req.request_type != "correct":
        raise IllegalTransition("a contested statement belongs to a correction request")
    limit = contested_word_limit(req)
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
    corrected_details: str | None = None  # correct: what was corrected, as the recipients of corrections are told
    source: str | None = None  # correct: §7023(i), who the data came from when the business is not its source



CATEGORIES_RESPONSE_PARTS = {
    "categories": _l("Categories of personal information we collected about you"),
    "sources": _l("Categories of sources we collected it from"),
    "purposes": _l("Business or commercial purposes for collecting it"),
    "recipients": _l("Categories of third parties we disclosed it to"),
    # §1798.115(a)-(c): by category, to which categories of third parties (or recipients) it went.
    "sold_or_shared": _l("Categories we sold or shared, with the categories of third parties for each"),
    "disclosed": _l("Categories we disclosed for a business purpose, with the categories of recipients for each"),
}



def lines(text: str | None) -> list[str]:
    """One item per non-empty line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]



def completion_problems(req: PrivacyRequest, c: Completion) -> dict[str, str]:
    """Field name -> what is missing or wrong, for the rules of this request type."""
    problems = {}
    if not c.message.strip():
        problems["message"] = _("Write the response the requester will receive.")
    if c.partial and c.kept_basis not in denial_bases(req.request_type):  # applicable_bases: the form's choices
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
    if req.request_type == "correct" and not (c.corrected_details or "").strip():
        problems["corrected_details"] = _("Say what was corrected: the recipients of corrections are told exactly this.")
    if req.request_type == "correct" and not (c.assessment or "").strip():
        problems["assessment"] = _("Record what you considered: the documentation and the source of the data.")
    for kind, data in c.files.items():
        error = response_files.problem(kind, data)
        if error:
            problems[f"response_{kind}"] = error
        elif c.sensitive != "mask" and kind in response_files.SCANNED:
            findings, _masked = disclosure_scan.scan(kind, data)
            if findings:
                problems[f"response_{kind}"] = _(
                    "This file holds %(what)s in the field \u201c%(field)s\u201d, which an access response must "
                    "never disclose. Remove it, or choose to show it as \u201ccollected: yes\u201d.",
                    what=findings[0].label, field=findings[0].field)
    for name, text in _free_texts(c):  # §7024(d) holds for staff's own words too
        findings = disclosure_scan.text_findings(text, name)
        if findings:
            problems[name] = _("This text holds %(what)s, which a response must never disclose: write that it "
                               "was collected, not the value.", what=findings[0].label)
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



def _free_texts(c: Completion) -> list[tuple[str, str]]:
    """The completion's free text, by form field, the categories answer a line per part."""
    texts = [("message", c.message), ("deleted_summary", c.deleted_summary), ("kept_summary", c.kept_summary),
             ("covered_categories", c.covered_categories), ("assessment", c.assessment)]
    texts += [(f"answer_{part}", "\n".join(items)) for part, items in (c.categories_response or {}).items()]
    return [(name, text) for name, text in texts if text]


CompletionCheck = Callable[[Session, PrivacyRequest], "str | None"]
_COMPLETION_CHECKS = "completion_checks"


def register_completion_check(app, check: CompletionCheck) -> None:
    """Have `complete` consult `check(session, req)`: a refusal text, or None (create_app registers
    them: fulfilment's plan refuses completion while its items are open; cases imports no edge)."""
    checks = app.extensions.setdefault(_COMPLETION_CHECKS, [])
    if check not in checks:
        checks.append(check)


_DENIAL_CHECKS = "denial_checks"
DenialCheck = Callable[[Session, PrivacyRequest, str], "str | None"]


def register_denial_check(app, check: DenialCheck) -> None:
    """Have `deny` consult `check(session, req, basis)`: a refusal text, or None (the clients package
    refuses a denial on an exemption while a client found has no outcome: never a silent "exempt")."""
    checks = app.extensions.setdefault(_DENIAL_CHECKS, [])
    if check not in checks:
        checks.append(check)


def blocking_completion(session: Session, req: PrivacyRequest) -> str | None:
    """Why the case cannot be completed yet: its notices downstream (§7022(b), §7023(c), §7026(f),
    §7027(g)), then every registered check; None when nothing holds it."""
    waiting = notices.blocking_completion(session, req)
    if waiting:
        return waiting
    for check in current_app.extensions.get(_COMPLETION_CHECKS, ()):
        waiting = check(session, req)
        if waiting:
            return waiting
    return None


@atomic
def complete(session: Session, *, req: PrivacyRequest, staff: StaffUser, completion: Completion,
             expected_version: int) -> None:
    """Complete in whole or in part, with the response mailed and, for access, the files attached."""
    require_action(req, "complete")
    check_version(req, expected_version)
    actor = audit.staff_actor(staff)  # read before the case changes: a refresh would flush it early
    problems = completion_problems(req, completion)
    if completion.partial and completion.kept_basis not in applicable_bases(session, req):
        problems["kept_basis"] = _("This exception cannot be true for this case: choose one the form offers.")
    if problems:
        raise IllegalTransition("; ".join(problems.values()))
    waiting = blocking_completion(session, req)
    if waiting:
        raise IllegalTransition(waiting)
    untold = notices.explained_to_requester(session, req)  # §7022(b)(3): read before the case changes
    c = completion
    if c.sensitive == "mask":  # §7024(d): the value never leaves; "collected: yes" takes its place
        c = Completion(**{**c.__dict__, "files": {k: disclosure_scan.scan(k, v)[1] if k in response_files.SCANNED else v
                                                 for k, v in c.files.items()}})
    answer = _answer(c)
    to_status = PARTIALLY_COMPLETED if c.partial else COMPLETED
    basis = denial_bases(req.request_type)[c.kept_basis] if c.partial else None
    req.outcome_code = c.kept_basis if c.partial else None
    req.outcome_citation = basis["citation"] if basis else None
    req.response_message = c.message.strip()
    now = clock.now()
    session.add(CaseOutcome(request_id=req.id, outcome=to_status, basis_code=c.kept_basis if c.partial else None,
                            explanation=req.response_message, deleted_summary=(c.deleted_summary or "").strip() or None,
                            kept_summary=(c.kept_summary or "").strip() or None,
                            covered_categories=(c.covered_categories or "").strip() or None if c.partial else None,
                            categories_response=answer or None,
                            assessment=(c.assessment or "").strip() or None if req.request_type == "correct" else None,
                            correction_result=c.correction_result if req.request_type == "correct" else None,
                            corrected_details=(c.corrected_details or "").strip() or None
                            if req.request_type == "correct" else None, staff_id=staff.id))
    # Added before the transition, flushed by its first query (after its version check): the status
    # listeners (a processor asked to correct) and the notices read the decision.
    transition(
        session, req, to_status, actor=actor, action=to_status, expected_version=expected_version,
        detail=f"basis={c.kept_basis}" if c.partial else None, now=now,
        mail_spec=completion_mail(req, c, untold=untold))
    if req.request_type == "correct":  # §7023(c): the recipients hear what was corrected, now it is decided
        notices.tell_concerned(session, req=req, actor=actor)
    try:
        for kind in sorted(c.files):
            response_files.attach(session, req=req, kind=kind, data=c.files[kind], staff_id=staff.id,
                                  actor=actor, now=now)
    except kinds.DocumentRejected as exc:  # the caller rolls back; nothing is sent
        raise IllegalTransition(str(exc.message)) from exc
    session.commit()



def _answer(c: Completion) -> dict[str, list[str]]:
    return {k: list(v) for k, v in (c.categories_response or {}).items() if k in CATEGORIES_RESPONSE_PARTS and v}


def completion_mail(req: PrivacyRequest, c: Completion, *, untold: list[str]) -> MailSpec:
    """The response the requester receives on completion (the console's review step shows it first)."""
    basis = denial_bases(req.request_type).get(c.kept_basis or "") if c.partial else None
    return MailSpec("completed", _l("Our response to request %(reference)s", reference=req.reference), {
        "partial": c.partial, "message": c.message.strip(), "deleted": (c.deleted_summary or "").strip(),
        "kept": (c.kept_summary or "").strip(), "basis": basis, "has_files": bool(c.files), "file_kinds": sorted(c.files),
        "categories": (c.covered_categories or "").strip() if c.partial else "",
        "answer": _answer(c), "answer_parts": CATEGORIES_RESPONSE_PARTS,  # lazy: in the mail's language
        "may_contest": req.request_type == "correct" and c.correction_result == "partially_corrected",
        "max_words": contested_word_limit(req),
        "file_days": current_app.config["RESPONSE_FILE_DAYS"], "untold": untold,
        "source": (c.source or "").strip() if req.request_type == "correct" else "",
        "categories_answer": req.request_type == "access" and req.access_scope != "specific" and not c.partial})


def outcome_for(session: Session, req: PrivacyRequest) -> CaseOutcome | None:
    """The structured outcome of a closed case, or None."""
    return session.execute(select(CaseOutcome).where(CaseOutcome.request_id == req.id)).scalar()
