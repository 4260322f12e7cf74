"""Retention: personal data has an end. The rules (days and months from config, see docs/operations.md):

- verification-only data (date of birth, phone, claim number, the matched data points, evidence and
  authorization and correction documents, correction texts, an agent's consumer phone, a client's
  answer note to a forwarded request, a client's own request's verification statement and identifiers) goes
  RETENTION_VERIFICATION_DAYS after the case closed (§7060(d)); the typed declaration signature leaves
  the case then too, but is kept beside the §7101 record for that record's months (§7062(c), `declarations`);
- response files go when their download window ends;
- a completed deletion request's own case goes RETENTION_DELETION_CASE_DAYS after it closed: only
  its §7101 record is left;
- every other case goes RETENTION_RECORD_MONTHS after it closed, its §7101 record then too;
- answered or closed inquiries, with their messages and attachment, RETENTION_INQUIRY_DAYS after;
- superseded consent records (GPC opt-outs among them) after RETENTION_CONSENT_DAYS, never under
  RETENTION_RECORD_MONTHS (§7101); a visitor's latest one stays while in force (its cookie lives
  CONSENT_COOKIE_DAYS) and at least as long;
- sent or failed mail and webhooks (their bodies name people) after RETENTION_OUTBOX_DAYS;
- an upload kept across a form's validation error and never claimed, PENDING_UPLOAD_HOURS after it
  was sent (at the next daily run).

`purge` applies them in one transaction, audits the counts (never contents), removes the documents'
blobs from storage, then makes the deleted bytes unreadable in the database files: SQLite zeroes
deleted content (secure_delete, set on every connection) and its WAL is checkpointed and truncated;
PostgreSQL vacuums the tables touched. A dry run counts and changes nothing.
"""
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, exists, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ... import clock
from ...lifecycle import COMPLETED, FINAL, PACIFIC, PARTIALLY_COMPLETED
from ...models import (
    AgentAuthorization,
    ClientReferral,
    ClientRequest,
    ConsentRecord,
    Document,
    DownstreamNotice,
    IdentityCheck,
    Inquiry,
    OutboxMessage,
    PrivacyRequest,
    RequestRecord,
    ResponseFile,
    RetentionRun,
    WebhookDelivery,
)
from .. import audit
from ..cases import notices
from ..documents import pending
from ..documents.storage import get_storage
from . import declarations

log = logging.getLogger(__name__)

PR = PrivacyRequest
# Counted kinds, in the order they are printed.
KINDS = ("verification_data", "identity_checks", "documents", "response_files", "cases", "inquiries",
         "consent_records", "mail", "webhooks", "request_records")
# correction_points (the names of the fields a correction disputes, no values) stays: it sets how many
# words a contested statement may have (§7023(f)(3)), which may be filed after the case closed.
VERIFICATION_FIELDS = ("phone", "claim_number", "date_of_birth", "date_of_injury", "employer", "postal_code",
                       "postal_address", "correction_current", "correction_details", "declaration_signature")
VERIFICATION_DOCUMENTS = ("evidence", "authorization", "correction")
# The tables a purge deletes from or rewrites: vacuumed afterwards on PostgreSQL.
TOUCHED_TABLES = ("privacy_request", "identity_check", "document", "response_file", "response_download",
                  "agent_authorization", "inquiry", "inquiry_message", "consent_record", "outbox_message",
                  "webhook_delivery", "request_record", "request_message", "case_note", "case_outcome",
                  "contested_statement", "verification_token", "downstream_notice", "audit_event",
                  "client_referral", "client_request")


@dataclass
class PurgeResult:
    counts: dict[str, int]
    dry_run: bool
    compacted: str = ""  # what was done to the database files afterwards

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class _Plan:
    cases: list[int] = field(default_factory=list)
    stripped: list[int] = field(default_factory=list)
    checks: list[int] = field(default_factory=list)
    documents: dict[int, str] = field(default_factory=dict)  # id -> storage name
    response_files: list[int] = field(default_factory=list)
    inquiries: list[int] = field(default_factory=list)
    consent: list[int] = field(default_factory=list)
    mail: list[int] = field(default_factory=list)
    webhooks: list[int] = field(default_factory=list)
    records: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"verification_data": len(self.stripped), "identity_checks": len(self.checks),
                "documents": len(self.documents), "response_files": len(self.response_files),
                "cases": len(self.cases), "inquiries": len(self.inquiries), "consent_records": len(self.consent),
                "mail": len(self.mail), "webhooks": len(self.webhooks), "request_records": len(self.records)}


def months_before(moment: datetime, months: int) -> datetime:
    """The same California wall-clock moment `months` calendar months earlier (clamped to the month's end)."""
    local = moment.astimezone(PACIFIC)
    year, month = divmod(local.year * 12 + local.month - 1 - months, 12)
    month += 1
    last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return local.replace(year=year, month=month, day=min(local.day, last_day))


def _ids(session: Session, query) -> list[int]:
    return list(session.execute(query).scalars())


def _plan(session: Session, now: datetime) -> _Plan:
    cfg = current_app.config
    days = lambda key: now - timedelta(days=int(cfg[key]))  # noqa: E731
    record_cut = months_before(now, int(cfg["RETENTION_RECORD_MONTHS"]))
    plan = _Plan()
    closed = and_(PR.status.in_(sorted(FINAL)), PR.closed_at.is_not(None))

    # Whole cases: every case RECORD_MONTHS after closing; a completed deletion much sooner.
    deletion_done = and_(PR.request_type == "delete", PR.status.in_((COMPLETED, PARTIALLY_COMPLETED)),
                         PR.closed_at < days("RETENTION_DELETION_CASE_DAYS"))
    ending = and_(closed, or_(PR.closed_at < record_cut, deletion_done))
    gone_ids = select(PR.id).where(ending)  # as a subquery: the lists below may be long
    plan.cases = _ids(session, select(PR.id).where(ending).order_by(PR.id))
    gone = set(plan.cases)

    # Verification-only data of the other closed cases.
    verification_cut = days("RETENTION_VERIFICATION_DAYS")
    old_closed = select(PR.id).where(closed, PR.closed_at < verification_cut)
    with_fields = _ids(session, old_closed.where(or_(*[getattr(PR, f).is_not(None) for f in VERIFICATION_FIELDS])))
    checks = [(i, r) for i, r in session.execute(select(IdentityCheck.id, IdentityCheck.request_id).where(
        IdentityCheck.request_id.in_(old_closed))) if r not in gone]
    plan.checks = [i for i, _r in checks]
    agent_phones = _ids(session, select(AgentAuthorization.request_id).where(
        AgentAuthorization.request_id.in_(old_closed), AgentAuthorization.consumer_phone.is_not(None)))
    docs = session.execute(select(Document.id, Document.storage_name, Document.request_id).where(
        Document.request_id.in_(old_closed), Document.purpose.in_(VERIFICATION_DOCUMENTS))).all()
    plan.documents.update({d: name for d, name, r in docs if r not in gone})
    client_notes = _ids(session, select(ClientReferral.request_id).where(
        ClientReferral.request_id.in_(old_closed), ClientReferral.answer_note.is_not(None)))
    client_texts = _ids(session, select(ClientRequest.request_id).where(
        ClientRequest.request_id.in_(old_closed),
        or_(ClientRequest.statement.is_not(None), ClientRequest.identifiers.is_not(None))))
    plan.stripped = sorted((set(with_fields) | set(agent_phones) | {r for _i, r in checks} | {r for _d, _n, r in docs}
                            | set(client_notes) | set(client_texts)) - gone)

    # Response files past their download window.
    for file_id, doc_id, name in session.execute(select(ResponseFile.id, Document.id, Document.storage_name)
                                                 .join(Document, Document.id == ResponseFile.document_id)
                                                 .where(ResponseFile.expires_at <= now)):
        plan.response_files.append(file_id)
        plan.documents[doc_id] = name
    # Every document of a case that goes.
    if gone:
        plan.documents.update(dict(session.execute(select(Document.id, Document.storage_name).where(
            Document.request_id.in_(gone_ids))).all()))
        plan.response_files = sorted(set(plan.response_files) | set(_ids(session, select(ResponseFile.id).where(
            ResponseFile.request_id.in_(gone_ids)))))

    # Uploads kept for a form's retry that no submission claimed.
    plan.documents.update(pending.expired_ids(session, now))

    # Inquiries answered or closed long enough ago, with their attachments.
    answered = func.coalesce(Inquiry.closed_at, Inquiry.answered_at)
    for inquiry_id, attachment_id in session.execute(select(Inquiry.id, Inquiry.attachment_id).where(
            Inquiry.status != "open", answered < days("RETENTION_INQUIRY_DAYS"))):
        plan.inquiries.append(inquiry_id)
        if attachment_id is not None:
            plan.documents[attachment_id] = session.get(Document, attachment_id).storage_name

    # Consent: superseded records after RETENTION_CONSENT_DAYS (never under the §7101 months), the
    # latest while in force.
    latest = select(func.max(ConsentRecord.id)).group_by(ConsentRecord.consent_id)
    in_force = max(int(cfg["RETENTION_CONSENT_DAYS"]), int(cfg["CONSENT_COOKIE_DAYS"]))
    consent_cut = min(days("RETENTION_CONSENT_DAYS"), record_cut)
    plan.consent = _ids(session, select(ConsentRecord.id).where(
        ConsentRecord.created_at < consent_cut,
        or_(ConsentRecord.id.not_in(latest), ConsentRecord.created_at < now - timedelta(days=in_force))))

    # Mail and webhooks: delivered or given up, after RETENTION_OUTBOX_DAYS; all of a case that goes.
    outbox_cut = days("RETENTION_OUTBOX_DAYS")
    plan.mail = _ids(session, select(OutboxMessage.id).where(or_(
        and_(OutboxMessage.status.in_(("sent", "failed")), OutboxMessage.created_at < outbox_cut),
        OutboxMessage.request_id.in_(gone_ids) if gone else false())))
    case_hooks = select(DownstreamNotice.webhook_delivery_id).where(DownstreamNotice.request_id.in_(gone_ids))
    plan.webhooks = _ids(session, select(WebhookDelivery.id).where(or_(
        and_(WebhookDelivery.status.in_(("delivered", "failed")), WebhookDelivery.created_at < outbox_cut),
        and_(WebhookDelivery.id.in_(case_hooks), WebhookDelivery.status != "pending") if gone else false())))

    # §7101 records: RECORD_MONTHS after the response (or receipt), once their case is gone.
    case_left = exists().where(PR.reference == RequestRecord.reference, PR.id.not_in(gone_ids) if gone else true())
    plan.records = _ids(session, select(RequestRecord.id).where(
        func.coalesce(RequestRecord.closed_at, RequestRecord.received_at) < record_cut, ~case_left))
    return plan


CHUNK = 5000  # ids per statement: under SQLite's and PostgreSQL's bound-parameter limits


def _each(session: Session, ids, statement) -> None:
    """Run `statement(chunk)` for the ids a few thousand at a time (a first purge may meet many),
    counting the rows each actually changed (see _deleted_counts)."""
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        stmt = statement(ids[start:start + CHUNK])
        done = session.execute(stmt).rowcount
        key = (stmt.table.name, stmt.is_delete)
        tally = session.info.setdefault(_TALLY, {})
        tally[key] = tally.get(key, 0) + max(done, 0)


# What a purge reports is what its statements changed (their rowcount), not what it planned: a row
# another purge removed meanwhile is not counted twice. (table, is a delete) -> the kind counted.
_TALLY = "retention_tally"
_COUNTED = {("privacy_request", False): "verification_data", ("identity_check", True): "identity_checks",
            ("document", True): "documents", ("response_file", True): "response_files",
            ("privacy_request", True): "cases", ("inquiry", True): "inquiries",
            ("consent_record", True): "consent_records", ("outbox_message", True): "mail",
            ("webhook_delivery", True): "webhooks", ("request_record", True): "request_records"}


def _deleted_counts(session: Session) -> dict[str, int]:
    tally = session.info.pop(_TALLY, {})
    counts = dict.fromkeys(KINDS, 0)
    for key, kind in _COUNTED.items():
        counts[kind] += tally.get(key, 0)
    return counts


def _apply(session: Session, plan: _Plan) -> None:
    notices.refresh_states(session)  # notices keep their delivery state once the mail and webhook rows go
    declarations.keep(session, set(plan.stripped) | set(plan.cases))  # §7062(c): before they leave the case
    _each(session, plan.stripped, lambda ids: update(PR).where(PR.id.in_(ids)).values(
        **{f: None for f in VERIFICATION_FIELDS}, version=PR.version + 1))
    _each(session, plan.stripped, lambda ids: update(AgentAuthorization).where(
        AgentAuthorization.request_id.in_(ids)).values(consumer_phone=None))
    _each(session, plan.stripped, lambda ids: update(ClientReferral).where(
        ClientReferral.request_id.in_(ids)).values(answer_note=None))
    _each(session, plan.stripped, lambda ids: update(ClientRequest).where(
        ClientRequest.request_id.in_(ids)).values(statement=None, identifiers=None))
    _each(session, plan.checks, lambda ids: delete(IdentityCheck).where(IdentityCheck.id.in_(ids)))
    _each(session, plan.response_files, lambda ids: delete(ResponseFile).where(ResponseFile.id.in_(ids)))
    _each(session, plan.inquiries, lambda ids: delete(Inquiry).where(Inquiry.id.in_(ids)))
    _each(session, plan.documents, lambda ids: delete(Document).where(Document.id.in_(ids)))
    _each(session, plan.mail, lambda ids: delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
    _each(session, plan.webhooks, lambda ids: delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
    # The database cascades to messages, notes, outcomes, tokens, agents, notices.
    _each(session, plan.cases, lambda ids: delete(PR).where(PR.id.in_(ids)))
    # A Core delete: the ORM guard against changing consent records stays for everyone else.
    _each(session, plan.consent, lambda ids: delete(ConsentRecord).where(ConsentRecord.id.in_(ids)))
    _each(session, plan.records, lambda ids: delete(RequestRecord).where(RequestRecord.id.in_(ids)))


def purge(session: Session, *, dry_run: bool = False, actor: str = "system", now: datetime | None = None) -> PurgeResult:
    """Apply every retention rule; the counts per kind of what went (or, dry, would go)."""
    now = now or clock.now()
    plan = _plan(session, now)
    counts = plan.counts()
    if dry_run:
        session.rollback()
        return PurgeResult(counts, dry_run=True)
    session.info.pop(_TALLY, None)
    _apply(session, plan)
    counts = _deleted_counts(session)
    audit.record(session, action="retention_purge", actor=actor, detail=json.dumps(counts, sort_keys=True))
    session.commit()
    session.expire_all()
    storage = get_storage()
    for name in plan.documents.values():
        storage.delete(name)
    result = PurgeResult(counts, dry_run=False)
    if result.total:
        result.compacted = compact(session.get_bind())
    log.info("retention purge: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return result


def compact(engine) -> str:
    """Make deleted bytes unreadable in the database files, outside any transaction."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            busy, _log, _done = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.close()
        return "sqlite: WAL checkpointed and truncated" if busy == 0 else "sqlite: WAL checkpoint busy; retried next purge"
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in TOUCHED_TABLES:  # fixed names, never input
                conn.exec_driver_sql(f"VACUUM {table}")
        return f"postgresql: vacuumed {len(TOUCHED_TABLES)} tables"
    return ""


def run_daily(session: Session, *, now: datetime | None = None) -> PurgeResult | None:
    """The worker's job: one purge per California day, whichever worker gets there first."""
    now = now or clock.now()
    today = now.astimezone(PACIFIC).date()
    if session.execute(select(RetentionRun.id).where(RetentionRun.day == today)).scalar() is not None:
        session.rollback()
        return None
    run = RetentionRun(day=today, started_at=now)
    session.add(run)
    try:
        session.commit()
    except IntegrityError:  # another worker took today's run
        session.rollback()
        return None
    try:
        result = purge(session, now=now)
    except Exception:  # the next pass tries again: free today's slot
        session.rollback()
        session.execute(delete(RetentionRun).where(RetentionRun.id == run.id))
        session.commit()
        raise
    run.counts, run.finished_at = result.counts, clock.now()
    session.add(run)
    session.commit()
    return result
