"""Privacy requests and their case work: PrivacyRequest and what hangs off it (messages to and from
the requester, emailed tokens, authorized agents, identity checks and verification attempts, staff
notes, the outcome, contested statements, response files and their downloads); the queue's indexes
with DUE_ORDER and IS_OPEN, and OpenCaseCount, the open-case counts the database triggers keep."""
from datetime import date, datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, event, func, literal_column
from sqlmodel import Field, SQLModel

from .. import clock, normalize
from ..lifecycle import OPEN
from .columns import _request_fk, _staff_fk, _text, _ts

_request_version = Column("version", Integer, nullable=False)


class PrivacyRequest(SQLModel, table=True):
    """One consumer request under the CCPA: the case staff work and the requester tracks."""

    __tablename__ = "privacy_request"
    __table_args__ = (
        Index("ix_privacy_request_open_duplicates", "email", "request_type", "status"),
        Index("ix_privacy_request_queue", "status", "response_due"),
    )
    # Optimistic locking: every UPDATE carries "WHERE version = <loaded>", so a write based on a
    # stale read fails (StaleDataError) instead of silently overwriting someone else's change.
    __mapper_args__ = {"version_id_col": _request_version}

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=12, unique=True)
    request_type: str = Field(max_length=16)
    status: str = Field(max_length=24)
    hold_reason: str | None = Field(default=None, max_length=32)
    manner: str = Field(default="web", max_length=16)
    language: str = Field(default="en", max_length=8)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    email: str = Field(max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    claim_number: str | None = Field(default=None, max_length=40)
    date_of_birth: date | None = None
    # Further data points for matching against the identity index (verification only: purged
    # with the rest of the verification data when the case closes, §7060(d)).
    date_of_injury: date | None = None
    employer: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=10)
    # Staff intake: a postal address where the requester gave no email, how identity and intent were
    # confirmed, and how receipt was acknowledged (phone and mail requests never get an email link).
    postal_address: str | None = _text()
    intake_confirmed_by: str | None = Field(default=None, max_length=16)
    acknowledged_by: str | None = Field(default=None, max_length=16)
    # For a correction: the data points being corrected, which cannot verify it (§7060(h)).
    correction_points: str | None = Field(default=None, max_length=200)
    details: str | None = _text()
    correction_current: str | None = _text()
    correction_details: str | None = _text()
    access_scope: str | None = Field(default=None, max_length=16)
    lookback_start: date | None = None
    declaration_signature: str | None = Field(default=None, max_length=200)
    declaration_signed_at: datetime | None = _ts()
    received_at: datetime = _ts(nullable=False)
    email_confirmed_at: datetime | None = _ts()
    acknowledged_at: datetime | None = _ts()
    acknowledgement_due: date
    response_due: date
    extended_due: date | None = None
    extension_reason: str | None = _text()
    effective_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    outcome_code: str | None = Field(default=None, max_length=48)
    outcome_citation: str | None = Field(default=None, max_length=200)
    response_message: str | None = _text()
    # The console's own marks, written without touching `version` (services/cases/case_summary.py):
    # who took the case, and when staff last read it (what the requester sent after is "replied").
    assignee_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("staff_user.id"), nullable=True, index=True))
    staff_read_at: datetime | None = _ts()
    # The name as searched: accents off, case folded ("José Ramírez" -> "jose ramirez"), kept by the ORM.
    name_folded: str = Field(default="", max_length=201, index=True, sa_column_kwargs={"server_default": ""})
    version: int = Field(default=None, sa_column=_request_version)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    updated_at: datetime = _ts(nullable=False, default_factory=clock.now)

    @property
    def due(self) -> date:
        """The response due date in force: the extended one when there is one."""
        return self.extended_due or self.response_due


@event.listens_for(PrivacyRequest, "before_insert")
@event.listens_for(PrivacyRequest, "before_update")
def _fold_name(_mapper, _connection, target: PrivacyRequest) -> None:
    target.name_folded = normalize.fold(f"{target.first_name or ''} {target.last_name or ''}")[:201]


class RequestMessage(SQLModel, table=True):
    """A message between staff and the requester, shown on the requester's status page."""

    __tablename__ = "request_message"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = _request_fk()
    direction: str = Field(max_length=16)  # to_requester | from_requester
    author: str = Field(max_length=64)
    body: str = _text(nullable=False)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class VerificationToken(SQLModel, table=True):
    """Server-side half of an emailed token: the hash of its nonce, so it is single-use."""

    __tablename__ = "verification_token"

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=16)
    nonce_hash: str = Field(max_length=64, unique=True)
    # A token belongs to a privacy request or to an inquiry (status links work for both).
    request_id: int | None = _request_fk(nullable=True)
    inquiry_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("inquiry.id", ondelete="CASCADE"), nullable=True, index=True))
    expires_at: datetime = _ts(nullable=False)
    used_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class AgentAuthorization(SQLModel, table=True):
    """Who acts for the consumer on a request (§7063, §7026(j)), on what authority, and what the
    consumer and staff said about it. The request's own email is the agent's: the agent tracks it."""

    __tablename__ = "agent_authorization"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("privacy_request.id", ondelete="CASCADE"),
                                             nullable=False, unique=True))
    agent_kind: str = Field(max_length=16)  # person | business
    agent_name: str = Field(max_length=200)
    agent_email: str = Field(max_length=254, index=True)
    agent_business_name: str | None = Field(default=None, max_length=200)
    agent_sos_number: str | None = Field(default=None, max_length=20)  # a registration number, any state (optional)
    consumer_email: str | None = Field(default=None, max_length=254)
    consumer_phone: str | None = Field(default=None, max_length=40)
    authorization_kind: str = Field(max_length=24)  # signed_permission | power_of_attorney
    document_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("document.id", ondelete="SET NULL"), nullable=True))
    consumer_decision: str | None = Field(default=None, max_length=16)  # confirmed | rejected
    consumer_decided_at: datetime | None = _ts()
    review_decision: str | None = Field(default=None, max_length=16)  # accepted | rejected
    review_reason: str | None = _text()
    reviewed_by: str | None = Field(default=None, max_length=64)
    reviewed_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    # The review checklist staff ticked when accepting (codes from services.cases.agents.REVIEW_CHECKLIST).
    review_checklist: str | None = Field(default=None, max_length=200)

    @property
    def label(self) -> str:
        """How the agent is named to the consumer: the person, and the business when there is one."""
        if self.agent_business_name:
            return f"{self.agent_name} ({self.agent_business_name})"
        return self.agent_name


class VerificationAttempt(SQLModel, table=True):
    """One matching of a request's data points against the identity index: which points matched
    (names of points, never values), against which subject, and the outcome. Kept with the case as
    the record of how it was verified; the fraud checks count the failed ones."""

    __tablename__ = "verification_attempt"
    __table_args__ = (Index("ix_verification_attempt_subject", "subject_key", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = _request_fk()
    subject_key: str | None = Field(default=None, max_length=100)
    matched: str = Field(default="", max_length=200)  # comma-separated point names
    unmatched: str = Field(default="", max_length=200)  # given but not matching
    required: int = 0
    outcome: str = Field(max_length=32)  # verified | downgraded | data_mismatch | high_certainty_required | fraud_suspected
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


# ---- Staff console: case work, response files, queue indexes ---------------------------------

class CaseNote(SQLModel, table=True):
    """An internal note on a case: staff only, never shown to the requester."""

    __tablename__ = "case_note"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = _request_fk()
    staff_id: int = _staff_fk()
    body: str = _text(nullable=False)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class IdentityCheck(SQLModel, table=True):
    """Staff's verification of a requester: which data points matched the records, and who checked."""

    __tablename__ = "identity_check"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = _request_fk()
    staff_id: int = _staff_fk()
    data_points: str = Field(max_length=200)  # comma-separated codes from services.cases.casework.DATA_POINTS
    note: str | None = _text()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class CaseOutcome(SQLModel, table=True):
    """The structured final answer on a case (§7101, §7022, §7023), beside the message the requester reads."""

    __tablename__ = "case_outcome"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("privacy_request.id", ondelete="CASCADE"),
                                             nullable=False, unique=True))
    outcome: str = Field(max_length=24)  # completed | partially_completed | denied
    correction_result: str | None = Field(default=None, max_length=24)  # corrected | partially_corrected | not_corrected
    basis_code: str | None = Field(default=None, max_length=48)
    explanation: str | None = _text()
    deleted_summary: str | None = _text()
    kept_summary: str | None = _text()
    # §7022(f), §1798.146: the categories of personal information a denial or partial answer covers.
    covered_categories: str | None = _text()
    # An access request for categories: {"categories": [...], "sources": [...], "purposes": [...], "recipients": [...]}.
    categories_response: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # §7023(b): a correction's assessment: what was considered (the documentation, the data's source).
    assessment: str | None = _text()
    # A correction made in whole or in part: what was corrected, as the recipients of corrections are told.
    corrected_details: str | None = _text()
    staff_id: int = _staff_fk()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class ContestedStatement(SQLModel, table=True):
    """§7023: the requester's statement that data we did not correct is contested (kept with the record)."""

    __tablename__ = "contested_statement"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("privacy_request.id", ondelete="CASCADE"),
                                             nullable=False, unique=True))
    statement: str = _text(nullable=False)
    staff_id: int | None = _staff_fk(nullable=True)  # who recorded it; none when the requester filed it
    filed_by: str = Field(default="staff", max_length=16)  # requester (status page) | staff (by phone or mail)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class ResponseFile(SQLModel, table=True):
    """An access response (JSON or CSV) offered to the requester for download until `expires_at`.
    The file itself is a Document (purpose response_file): checked, encrypted at rest, audited."""

    __tablename__ = "response_file"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = _request_fk()
    document_id: int = Field(sa_column=Column(Integer, ForeignKey("document.id"), nullable=False, unique=True))
    kind: str = Field(max_length=8)  # json | csv
    staff_id: int = _staff_fk()
    expires_at: datetime = _ts(nullable=False)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class ResponseDownload(SQLModel, table=True):
    """One download of a response file by the requester: every download is recorded."""

    __tablename__ = "response_download"

    id: int | None = Field(default=None, primary_key=True)
    file_id: int = Field(sa_column=Column(Integer, ForeignKey("response_file.id", ondelete="CASCADE"),
                                          nullable=False, index=True))
    request_id: int = _request_fk()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


# The queue orders by the due date in force (extended or original) and pages by (due, id); each
# filter gets an index that leads with its column and ends in that order. Names are searched by prefix.
_pr = PrivacyRequest.__table__.c
DUE_ORDER = func.coalesce(_pr.extended_due, _pr.response_due)
Index("ix_privacy_request_due_order", DUE_ORDER, _pr.id)
Index("ix_privacy_request_status_due", _pr.status, DUE_ORDER, _pr.id)
Index("ix_privacy_request_type_due", _pr.request_type, DUE_ORDER, _pr.id)
Index("ix_privacy_request_hold_due", _pr.hold_reason, DUE_ORDER, _pr.id)
Index("ix_privacy_request_manner_due", _pr.manner, DUE_ORDER, _pr.id)
Index("ix_privacy_request_last_name_lower", func.lower(_pr.last_name))
Index("ix_privacy_request_first_name_lower", func.lower(_pr.first_name))
# The counts per status under a filter: covering indexes, so counting never reads the rows.
Index("ix_privacy_request_type_status", _pr.request_type, _pr.status)
Index("ix_privacy_request_hold_status", _pr.hold_reason, _pr.status)
Index("ix_privacy_request_manner_status", _pr.manner, _pr.status)
Index("ix_privacy_request_received_at", _pr.received_at)  # §7101 records, §7102 metrics
Index("ix_privacy_request_closed_at", _pr.closed_at)  # §7102 metrics
# The open cases: a few percent of the table once it has grown (cases close within weeks, and stay
# for years). Partial indexes over them alone serve the default queue (its page and its counts)
# without walking past the closed rows, and stay as small as the open work. The condition is
# written out as literals, identical in the indexes and in the queries (IS_OPEN), so PostgreSQL and
# SQLite both prove that a query's rows are in the index. Each ends in `status` so the counts per
# status are read from the index alone.
IS_OPEN = _pr.status.in_([literal_column(f"'{status}'") for status in sorted(OPEN)])
_open = {"postgresql_where": IS_OPEN, "sqlite_where": IS_OPEN}
Index("ix_privacy_request_open_status", _pr.status, **_open)  # the counts per status, unfiltered
# The two dates behind DUE_ORDER too: PostgreSQL answers from an index alone only when it holds the
# columns an expression reads (the overdue band's counts).
Index("ix_privacy_request_open_due", DUE_ORDER, _pr.id, _pr.status, _pr.extended_due, _pr.response_due, **_open)
Index("ix_privacy_request_open_type_due", _pr.request_type, DUE_ORDER, _pr.id, _pr.status, **_open)
Index("ix_privacy_request_open_hold_due", _pr.hold_reason, DUE_ORDER, _pr.id, _pr.status, **_open)
Index("ix_privacy_request_open_manner_due", _pr.manner, DUE_ORDER, _pr.id, _pr.status, **_open)


class OpenCaseCount(SQLModel, table=True):
    """How many open cases there are per status, type, hold reason, manner and due date in force: the
    queue's counts, read from a few rows however many cases there are (services.cases.open_counts).

    Database triggers on privacy_request (migration 0021, both dialects) write it: every insert,
    delete or change of one of these columns in an open case adds a row of +1 for the new key and
    -1 for the old one, so no transaction waits on another's counter. Each key is counted twice:
    with its due date, and with due_on NULL for the views that filter on no due date (a few dozen
    rows to add up). The worker folds the rows into one per key (`open_counts.compact`). Holds no
    personal data; it lives as long as the cases do."""

    __tablename__ = "open_case_count"

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(max_length=24)
    request_type: str = Field(max_length=16)
    hold_reason: str | None = Field(default=None, max_length=32)
    manner: str = Field(max_length=16)
    due_on: date | None = Field(default=None, index=True)  # coalesce(extended_due, response_due), or NULL
    n: int
