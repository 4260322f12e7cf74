"""Retention purge on a fixture of cases at every age around each limit, on SQLite and PostgreSQL:
exactly the right rows and blobs go, §7101 records and §7102 metrics stay the same, the audit chain
holds, a dry run changes nothing, and on SQLite the purged values are gone from the raw files."""
import io
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from portal import db
from portal.lifecycle import COMPLETED, DENIED, IN_PROGRESS, VERIFYING
from portal.models import (
    AuditEvent,
    ConsentRecord,
    Document,
    IdentityCheck,
    Inquiry,
    InquiryMessage,
    OutboxMessage,
    PrivacyRequest,
    RequestRecord,
    ResponseFile,
    RetentionRun,
)
from portal.services import audit
from portal.services.cases import inquiries, submission, transitions
from portal.services.cases.inquiries import NewInquiry
from portal.services.cases.submission import NewRequest
from portal.services.delivery import mail
from portal.services.documents import response_files
from portal.services.documents import store as documents
from portal.services.documents.storage import get_storage
from portal.services.records import annual_metrics, declarations, retention
from portal.services.staff import accounts

from ...files import png

NOW = datetime(2026, 11, 30, 20, 0, tzinfo=timezone.utc)  # noon in California


def _moment(days_ago: float = 0, months_ago: int = 0) -> datetime:
    return retention.months_before(NOW, months_ago) - timedelta(days=days_ago)


class Fixture:
    """Cases, inquiries and consent records made at chosen moments, each with values of its own."""

    def __init__(self, app, time_machine):
        self.app, self.tm = app, time_machine
        self.cases: dict[str, str] = {}  # label -> reference
        self.secrets: dict[str, list[str]] = {}  # label -> values that must vanish with it
        with app.app_context():
            self.staff_id = accounts.create(db.session(), email="clerk@billgenix.example", role="support",
                                                 password="a long enough password 1").id

    def case(self, label: str, kind: str, *, closed: datetime | None, status: str = COMPLETED,
             received: datetime | None = None, evidence: bool = True, response_file: bool = False) -> None:
        received = received or (closed - timedelta(days=10) if closed else NOW - timedelta(days=3))
        token = label.upper().replace("_", "")
        values = {"first_name": f"Zeb{token}", "last_name": f"Purge{token}", "email": f"zeb.{label}@example.org",
                  "phone": f"+1909555{abs(hash(label)) % 10000:04d}", "claim_number": f"CLM-{token}-77",
                  "date_of_birth": date(1931, 2, 1) + timedelta(days=len(self.cases))}
        self.tm.move_to(received, tick=False)
        with self.app.app_context():
            s = db.session()
            new = NewRequest(request_type=kind, **values, details=None,
                             correction_current=f"OLD-{token}" if kind == "correct" else None,
                             correction_details=f"NEW-{token}" if kind == "correct" else None,
                             access_scope="categories" if kind == "access" else None,
                             declaration_signature=f"SIG-{token}" if kind in ("delete", "correct") else None)
            req = submission.submit(s, new=new).request
            if req.status == "awaiting_email":
                transitions.transition(s, req, VERIFYING, actor="requester", action="email_confirmed")
            if req.status != IN_PROGRESS:
                transitions.transition(s, req, IN_PROGRESS, actor="system")
            s.add(IdentityCheck(request_id=req.id, staff_id=self.staff_id, data_points="email,phone"))
            if evidence:
                documents.store(s, stream=io.BytesIO(png(5 + len(self.cases), 3)), filename="id.png",
                                declared_type="image/png", purpose="evidence", request_id=req.id, uploaded_by="requester")
            s.commit()
            if closed is not None:
                self.tm.move_to(closed, tick=False)
                if status == DENIED:
                    req.outcome_code, req.outcome_citation = "exempt_medical", "Cal. Civ. Code §1798.146(a)"
                transitions.transition(s, req, status, actor="system")
                if response_file:
                    response_files.attach(s, req=req, kind="json", data=b'{"a": 1}', staff_id=self.staff_id,
                                          actor="system")
                s.commit()
        mail.deliver_for_app(self.app)  # sent when made, so it ages with the case
        self.cases[label] = req.reference
        self.secrets[label] = [values["first_name"], values["email"], values["phone"], values["claim_number"]]

    def inquiry(self, label: str, closed: datetime) -> str:
        self.tm.move_to(closed - timedelta(days=2), tick=False)
        with self.app.app_context():
            s = db.session()
            inquiry = inquiries.submit(s, new=NewInquiry(kind="question", name=f"Ina {label}",
                                                         email=f"ina.{label}@example.org", organization=None,
                                                         message=f"INQUIRY-{label.upper()} question"),
                                       attachment=(io.BytesIO(png(9, 2)), "scan.png", "image/png"))
            self.tm.move_to(closed, tick=False)
            inquiries.answer(s, inquiry=inquiry, body=f"ANSWER-{label.upper()}", actor="staff:1")
            inquiries.close(s, inquiry=inquiry, actor="staff:1")
        mail.deliver_for_app(self.app)
        return inquiry.reference

    def consent(self, consent_id: str, at: datetime) -> None:
        self.tm.move_to(at, tick=False)
        with self.app.app_context():
            from portal.services.consent import choices
            choices.record_choice(db.session(), consent_id=consent_id, action="reject_all", source="banner",
                                  gpc_signal=False, user_agent=None)


@pytest.fixture
def world(app, time_machine):
    f = Fixture(app, time_machine)
    # Verification-only data: RETENTION_VERIFICATION_DAYS (30) after closing.
    f.case("access_29d", "access", closed=_moment(29))
    f.case("access_31d", "access", closed=_moment(31))
    f.case("denied_delete_31d", "delete", closed=_moment(31), status=DENIED)
    f.case("correct_31d", "correct", closed=_moment(31))
    # A completed deletion: the whole case RETENTION_DELETION_CASE_DAYS (30) after closing.
    f.case("delete_29d", "delete", closed=_moment(29))
    f.case("delete_31d", "delete", closed=_moment(31))
    # Every case: RETENTION_RECORD_MONTHS (24) after closing, and its §7101 record with it.
    f.case("access_24m_less_1d", "access", closed=_moment(-1, months_ago=24))
    f.case("access_24m_and_1d", "access", closed=_moment(1, months_ago=24))
    f.case("open_3y", "access", closed=None, received=_moment(0, months_ago=36))
    # Response files: gone when the download window (14 days) has ended.
    f.case("file_expired", "access", closed=_moment(20), response_file=True, evidence=False)
    f.case("file_current", "access", closed=_moment(10), response_file=True, evidence=False)
    f.inquiries = {"inq_364d": f.inquiry("inq_364d", _moment(364)), "inq_366d": f.inquiry("inq_366d", _moment(366))}
    # Consent: a superseded record past 24 months goes (§7101), the latest stays while in force (731 days).
    f.consent("a" * 32, _moment(2, months_ago=24))
    f.consent("a" * 32, _moment(10))
    f.consent("b" * 32, _moment(2, months_ago=24))
    f.consent("c" * 32, _moment(410))
    time_machine.move_to(NOW, tick=False)
    return f


def _snapshot(session) -> dict:
    session.rollback()
    return {"records": annual_metrics.records_csv(session, start=date(2024, 12, 1), end=date(2026, 12, 31)),
            **{y: annual_metrics.annual(session, year=y).as_dict() for y in (2025, 2026)}}


def _case(session, world, label) -> PrivacyRequest | None:
    session.expire_all()
    return submission.get_by_reference(session, world.cases[label])


def test_the_dry_run_counts_and_changes_nothing(app, world, session):
    before = {m.__name__: session.execute(select(func.count()).select_from(m)).scalar_one()
              for m in (PrivacyRequest, Document, IdentityCheck, Inquiry, ConsentRecord, OutboxMessage, AuditEvent)}
    result = retention.purge(session, dry_run=True)
    assert result.counts["cases"] == 2 and result.counts["request_records"] == 1 and result.total > 0
    after = {m.__name__: session.execute(select(func.count()).select_from(m)).scalar_one()
             for m in (PrivacyRequest, Document, IdentityCheck, Inquiry, ConsentRecord, OutboxMessage, AuditEvent)}
    assert after == before
    assert _case(session, world, "access_31d").phone is not None


def test_the_purge_removes_exactly_what_has_reached_its_end(app, world, session, runner):
    snapshot = _snapshot(session)
    blobs = {d.id: d.storage_name for d in session.execute(select(Document)).scalars()}
    session.rollback()

    result = retention.purge(session)

    assert result.counts == {"verification_data": 4, "identity_checks": 4, "documents": 8, "response_files": 1,
                             "cases": 2, "inquiries": 1, "consent_records": 2, "mail": result.counts["mail"],
                             "webhooks": 0, "request_records": 1}
    assert result.compacted.startswith({"sqlite": "sqlite: WAL checkpointed", "postgresql": "postgresql: vacuumed"}[
        session.get_bind().dialect.name])
    assert result.counts["mail"] >= 9  # sent mail older than 30 days, and every mail of the cases that went
    # Verification data of cases closed 31 days ago is gone; the case (and what it says) stays.
    for label in ("access_31d", "denied_delete_31d", "correct_31d", "access_24m_less_1d"):
        req = _case(session, world, label)
        assert (req.phone, req.claim_number, req.date_of_birth, req.correction_current, req.correction_details,
                req.declaration_signature) == (None,) * 6
        assert req.first_name.startswith("Zeb") and req.status in (COMPLETED, DENIED)
        assert session.execute(select(IdentityCheck).where(IdentityCheck.request_id == req.id)).first() is None
        assert documents.for_request(session, request_id=req.id) == []
    # §7062(c): the signed declarations left their cases but stay with the §7101 records.
    for label in ("denied_delete_31d", "correct_31d", "delete_31d"):
        kept = declarations.for_reference(session, world.cases[label])
        assert kept is not None and kept.signature.startswith("SIG-")
    for label in ("access_29d", "delete_29d", "open_3y"):
        req = _case(session, world, label)
        assert req.phone and req.date_of_birth and session.execute(
            select(IdentityCheck).where(IdentityCheck.request_id == req.id)).first() is not None
        assert len(documents.for_request(session, request_id=req.id, purpose="evidence")) == 1
    # Whole cases: the completed deletion after 30 days, any case after 24 months; never an open one.
    assert _case(session, world, "delete_31d") is None and _case(session, world, "access_24m_and_1d") is None
    records = {r.reference: r for r in session.execute(select(RequestRecord)).scalars()}
    assert world.cases["delete_31d"] in records and world.cases["access_24m_and_1d"] not in records
    assert records[world.cases["delete_31d"]].status == COMPLETED
    # Response files: the expired one and its document go, the current one stays.
    files = session.execute(select(ResponseFile.request_id)).scalars().all()
    assert files == [_case(session, world, "file_current").id]
    # Inquiries: after 365 days, with their messages and attachment.
    assert inquiries.get_by_reference(session, world.inquiries["inq_366d"]) is None
    kept = inquiries.get_by_reference(session, world.inquiries["inq_364d"])
    assert kept is not None and kept.attachment_id is not None
    assert session.execute(select(func.count()).select_from(InquiryMessage)).scalar_one() == 1
    # Consent: the superseded record and the one no longer in force go; the latest in force stays.
    assert sorted((c.consent_id[0], c.created_at.date()) for c in session.execute(select(ConsentRecord)).scalars()) == [
        ("a", (NOW - timedelta(days=10)).date()), ("c", (NOW - timedelta(days=410)).date())]
    # Blobs left storage with their rows.
    left = {d.id for d in session.execute(select(Document)).scalars()}
    storage = get_storage()
    assert all(storage.exists(name) == (doc_id in left) for doc_id, name in blobs.items())
    # What stays is the same: §7101 records and §7102 metrics (within the record period); the chain holds.
    assert _snapshot(session) == snapshot and world.cases["delete_31d"] in snapshot["records"]
    assert audit.first_broken_link(session) is None
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    [event] = session.execute(select(AuditEvent).where(AuditEvent.action == "retention_purge")).scalars()
    assert json.loads(event.detail) == result.counts  # counts, never contents
    # A second purge finds nothing more.
    assert retention.purge(session).total == 0


@pytest.mark.skipif("PORTAL_TEST_DATABASE_URL" in __import__("os").environ, reason="reads the SQLite files")
def test_purged_values_cannot_be_read_from_the_raw_sqlite_files(app, world, session):
    path = Path(make_url(app.config["DATABASE_URL"]).database)
    gone = world.secrets["delete_31d"] + world.secrets["access_24m_and_1d"] + [
        "OLD-CORRECT31D", "NEW-CORRECT31D", "INQUIRY-INQ_366D", "ANSWER-INQ_366D"] + [
        v for v in world.secrets["access_31d"] if "CLM" in v or v.startswith("+1")]
    kept = world.secrets["access_29d"]

    def raw() -> bytes:
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())

    assert all(v.encode() in raw() for v in gone + kept), "the fixture's values were not written"
    result = retention.purge(session)
    assert result.compacted == "sqlite: WAL checkpointed and truncated"
    data = raw()
    assert [v for v in gone if v.encode() in data] == []
    assert all(v.encode() in data for v in kept)


def test_the_worker_purges_once_a_day(app, world, session, time_machine):
    first = retention.run_daily(session, now=NOW)
    assert first is not None and first.total > 0
    assert retention.run_daily(session, now=NOW + timedelta(hours=3)) is None  # same California day
    [run] = session.execute(select(RetentionRun)).scalars()
    assert run.counts == first.counts and run.finished_at is not None
    assert retention.run_daily(session, now=NOW + timedelta(days=1)) is not None


def test_the_cli_prints_counts_per_kind(app, world, runner, session):
    dry = runner.invoke(args=["retention", "purge", "--dry-run"])
    assert dry.exit_code == 0 and "cases              2" in dry.output and "would remove" in dry.output
    assert _case(session, world, "delete_31d") is not None
    done = runner.invoke(args=["retention", "purge"])
    assert done.exit_code == 0 and "cases              2" in done.output and "removed" in done.output
    assert _case(session, world, "delete_31d") is None


def test_record_months_below_the_rule_are_refused(app_config):
    from portal import create_app
    with pytest.raises(ValueError, match="RETENTION_RECORD_MONTHS"):
        create_app({**app_config, "RETENTION_RECORD_MONTHS": 23})


@pytest.mark.parametrize("moment, months, expected", [
    (datetime(2026, 3, 31, 20, 0, tzinfo=timezone.utc), 1, "2026-02-28"),
    (datetime(2026, 11, 30, 20, 0, tzinfo=timezone.utc), 24, "2024-11-30"),
    (datetime(2026, 1, 15, 20, 0, tzinfo=timezone.utc), 13, "2024-12-15"),
])
def test_months_before_counts_calendar_months_in_california(moment, months, expected):
    assert retention.months_before(moment, months).date().isoformat() == expected


def test_a_failed_daily_purge_is_tried_again_on_the_next_pass(app, session, monkeypatch):
    real = retention.purge

    def outage(*args, **kwargs):
        raise RuntimeError("database went away")
    monkeypatch.setattr(retention, "purge", outage)
    with pytest.raises(RuntimeError):
        retention.run_daily(session, now=NOW)
    assert session.execute(select(RetentionRun)).first() is None
    monkeypatch.setattr(retention, "purge", real)
    assert retention.run_daily(session, now=NOW) is not None
