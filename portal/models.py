"""SQLModel tables. Timestamps are timezone-aware UTC; public references are never primary keys."""
from datetime import date, datetime, timezone

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
    inspect,
    literal_column,
    select,
    text,
)
from sqlmodel import Field, SQLModel

from . import clock
from .lifecycle import OPEN

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores UTC and always returns an aware datetime, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def _ts(nullable: bool = True, default_factory=None):
    if default_factory is not None:
        return Field(default_factory=default_factory, sa_column=Column(UTCDateTime(), nullable=nullable))
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


def _text(nullable: bool = True):
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


def _request_fk(nullable: bool = False, ondelete: str = "CASCADE"):
    return Field(sa_column=Column(Integer, ForeignKey("privacy_request.id", ondelete=ondelete),
                                  nullable=nullable, index=True))


_request_version = Column("version", Integer, nullable=False)
_inquiry_version = Column("version", Integer, nullable=False)


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
    version: int = Field(default=None, sa_column=_request_version)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    updated_at: datetime = _ts(nullable=False, default_factory=clock.now)

    @property
    def due(self) -> date:
        """The response due date in force: the extended one when there is one."""
        return self.extended_due or self.response_due


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained record of everything that happened to a case."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int | None = _request_fk(nullable=True, ondelete="SET NULL")
    inquiry_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("inquiry.id", ondelete="SET NULL"), nullable=True, index=True))
    actor: str = Field(max_length=64)
    action: str = Field(max_length=48)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str | None = Field(default=None, max_length=24)
    detail: str | None = _text()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    # The references of the case or inquiry: they outlive the rows (and ids) a retention purge removes.
    request_ref: str | None = Field(default=None, max_length=12, index=True)
    inquiry_ref: str | None = Field(default=None, max_length=12)
    # 2: the hash covers the references. 1: recorded before they existed; the hash covers the ids,
    # frozen in `hashed_ids` ("[request_id, inquiry_id]") so a purge that nulls the links breaks nothing.
    chain_version: int = Field(default=2)
    hashed_ids: str | None = Field(default=None, max_length=40)


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


class OutboxMessage(SQLModel, table=True):
    """A mail queued in the same transaction as the action that caused it."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=200, unique=True)
    request_id: int | None = Field(default=None, index=True)
    template: str = Field(max_length=64)
    to_addr: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    text_body: str = _text(nullable=False)
    html_body: str = _text(nullable=False)
    status: str = Field(default="pending", max_length=12)  # pending | sent | failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False, default_factory=clock.now)
    claimed_until: datetime | None = _ts()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    sent_at: datetime | None = _ts()
    # Passing failures are retried for MAIL_RETRY_FOR_SECONDS from this moment (None: created_at);
    # `mail retry --failed` sets it, so a re-queued message gets a whole retry period again.
    retry_from: datetime | None = _ts()


class StaffUser(SQLModel, table=True):
    """A member of the business's privacy staff who signs in to the console."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(default="", max_length=100)
    role: str = Field(max_length=16)  # admin | support | viewer
    password_hash: str | None = Field(default=None, max_length=255)  # None until an invitation is accepted
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_enabled: bool = Field(default=False)
    active: bool = Field(default=True)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = _ts()
    last_login_at: datetime | None = _ts()
    # Bumped on password change, TOTP reset, role change or deactivation: older sessions stop working.
    session_epoch: int = Field(default=0)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    updated_at: datetime = _ts(nullable=False, default_factory=clock.now)
    # The last TOTP time step accepted: a code is never accepted twice (RFC 6238 §5.2).
    totp_last_step: int | None = Field(default=None)

    # Flask-Login's user protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"


class Inquiry(SQLModel, table=True):
    """A privacy question, BAA/HIPAA request, security concern or child's-data report."""

    __tablename__ = "inquiry"
    __table_args__ = (Index("ix_inquiry_queue", "status", "urgent", "response_due"),)
    __mapper_args__ = {"version_id_col": _inquiry_version}

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=12, unique=True)
    kind: str = Field(max_length=16)  # question | baa | security | child | other
    status: str = Field(max_length=16)  # open | answered | closed
    urgent: bool = Field(default=False)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254, index=True)
    organization: str | None = Field(default=None, max_length=200)
    message: str = _text(nullable=False)
    language: str = Field(default="en", max_length=8)
    received_at: datetime = _ts(nullable=False)
    response_due: date
    answered_at: datetime | None = _ts()
    closed_at: datetime | None = _ts()
    linked_request_id: int | None = _request_fk(nullable=True, ondelete="SET NULL")
    attachment_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("document.id", ondelete="SET NULL"), nullable=True))
    version: int = Field(default=None, sa_column=_inquiry_version)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    updated_at: datetime = _ts(nullable=False, default_factory=clock.now)


class InquiryMessage(SQLModel, table=True):
    """A reply from the privacy team to an inquiry (or a follow-up from its sender)."""

    __tablename__ = "inquiry_message"

    id: int | None = Field(default=None, primary_key=True)
    inquiry_id: int = Field(sa_column=Column(Integer, ForeignKey("inquiry.id", ondelete="CASCADE"),
                                             nullable=False, index=True))
    direction: str = Field(max_length=16)  # to_sender | from_sender
    author: str = Field(max_length=64)
    body: str = _text(nullable=False)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class StaffInvitation(SQLModel, table=True):
    """Server-side half of an emailed invitation to set a password: single-use by its nonce hash."""

    __tablename__ = "staff_invitation"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(sa_column=Column(Integer, ForeignKey("staff_user.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    nonce_hash: str = Field(max_length=64, unique=True)
    invited_by: str = Field(max_length=64)
    expires_at: datetime = _ts(nullable=False)
    used_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class DigestRun(SQLModel, table=True):
    """One daily digest mailed to one staff member on one California calendar day (at most)."""

    __tablename__ = "digest_run"
    __table_args__ = (UniqueConstraint("staff_id", "day", name="uq_digest_run_staff_id_day"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(sa_column=Column(Integer, ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False))
    day: date
    case_count: int = Field(default=0)
    sent_at: datetime = _ts(nullable=False, default_factory=clock.now)

class Document(SQLModel, table=True):
    """An uploaded file, encrypted at rest in the document storage under a random name."""

    __tablename__ = "document"
    __table_args__ = (
        Index("ix_document_request_purpose", "request_id", "purpose"),
        Index("ix_document_key_id", "key_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # SET NULL, not CASCADE: the row (and so the stored blob's name) must outlive a deleted case
    # until the retention job has removed the blob itself.
    request_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("privacy_request.id", ondelete="SET NULL"), nullable=True))
    purpose: str = Field(max_length=24)  # authorization | evidence | inquiry_attachment | response_file
    storage_name: str = Field(max_length=64, unique=True)
    original_name: str = Field(max_length=160)  # sanitized; only for display and download names
    content_type: str = Field(max_length=64)  # decided from the content, never from the upload's claim
    size: int
    sha256: str = Field(max_length=64)  # of the plaintext, checked on every read
    key_id: str = Field(max_length=16)  # fingerprint of the key that encrypted the stored blob
    uploaded_by: str = Field(max_length=64)
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
    agent_sos_number: str | None = Field(default=None, max_length=20)  # California Secretary of State entity number
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
    # The review checklist staff ticked when accepting (codes from services.agents.REVIEW_CHECKLIST).
    review_checklist: str | None = Field(default=None, max_length=200)

    @property
    def label(self) -> str:
        """How the agent is named to the consumer: the person, and the business when there is one."""
        if self.agent_business_name:
            return f"{self.agent_name} ({self.agent_business_name})"
        return self.agent_name


class ConsentRecord(SQLModel, table=True):
    """One cookie choice by one visitor, append-only: the latest row is the current state."""

    __tablename__ = "consent_record"
    __table_args__ = (
        # The current state: the newest row of one consent id (the API's one indexed query).
        Index("ix_consent_record_current", "consent_id", "id"),
        # Statistics: the newest row per visitor and policy version.
        Index("ix_consent_record_version", "policy_version", "consent_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    receipt_id: str = Field(max_length=36, unique=True)
    consent_id: str = Field(max_length=64)  # the random id in the visitor's first-party cookie
    # {"functional": true, ...} for the categories decided; a GPC-only record holds only advertising.
    choices: dict = Field(sa_column=Column(JSON, nullable=False))
    policy_version: str = Field(max_length=32)
    source: str = Field(max_length=8)  # banner | center | api | gpc
    gpc: bool = Field(default=False)  # the Global Privacy Control signal was present
    user_agent_family: str | None = Field(default=None, max_length=16)  # never the full string, never an IP
    # §7026(k), §7028: when this visitor last opted out of sale/sharing (reject, GPC, declining it),
    # carried forward record to record until a confirmed opt-in clears it.
    sale_opt_out_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


@event.listens_for(ConsentRecord, "before_update")
@event.listens_for(ConsentRecord, "before_delete")
def _consent_records_are_append_only(_mapper, _connection, target):
    raise ValueError(f"consent record {target.id} is append-only: add a new record instead")


# ---- Staff console: case work, response files, queue indexes ---------------------------------

def _staff_fk(nullable: bool = False):
    return Field(default=None, sa_column=Column(Integer, ForeignKey("staff_user.id"), nullable=nullable))



# §7102: the browsers whose Global Privacy Control signal was recorded in a year, from a partial
# index over those rows alone (a literal condition, as IS_OPEN, so both planners match it).
IS_GPC = ConsentRecord.__table__.c.source == literal_column("'gpc'")
Index("ix_consent_record_gpc", ConsentRecord.__table__.c.created_at, ConsentRecord.__table__.c.consent_id,
      postgresql_where=IS_GPC, sqlite_where=IS_GPC)

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
    data_points: str = Field(max_length=200)  # comma-separated codes from services.cases.DATA_POINTS
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
    queue's counts, read from a few rows however many cases there are (services.open_counts).

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


# ---- Retention, §7101 records, notices downstream ---------------------------------------------

class RequestRecord(SQLModel, table=True):
    """§7101: what is kept of every request for RETENTION_RECORD_MONTHS, with no name, email or other
    personal identifier. Kept in step with its PrivacyRequest (services.records) and outlives it."""

    __tablename__ = "request_record"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=12, unique=True)
    request_type: str = Field(max_length=16)
    manner: str = Field(max_length=16)
    status: str = Field(max_length=24)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True))
    outcome_code: str | None = Field(default=None, max_length=48)  # the denial (or partial) basis
    outcome_citation: str | None = Field(default=None, max_length=200)
    extended_due: date | None = None
    notice_count: int = Field(default=0)  # notices sent downstream (§7022(b), §7023(c), §7026(f), §7027(g))


# §7102 metrics read a year of records from these alone (index-only scans): what was received, by
# type; and what was answered, with its outcome and both dates for the days to respond.
_rr = RequestRecord.__table__.c
ANSWERED = ("completed", "denied", "partially_completed")  # the final answers the metrics count
IS_ANSWERED = _rr.status.in_([literal_column(f"'{status}'") for status in ANSWERED])
Index("ix_request_record_received_type", _rr.received_at, _rr.request_type)
Index("ix_request_record_answered", _rr.closed_at, _rr.request_type, _rr.status, _rr.outcome_code, _rr.received_at,
      postgresql_where=IS_ANSWERED, sqlite_where=IS_ANSWERED)


class AnnualMetrics(SQLModel, table=True):
    """§7102 metrics of a California year that has ended, as computed once it had (services.metrics).
    Nothing answered later can fall in that year; a request recorded late with a receipt date in it
    (staff intake of a letter), or a record changed in one of its months, removes the row, and the
    figures are computed again (from its months, MetricsMonth)."""

    __tablename__ = "annual_metrics"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    figures: dict = Field(sa_column=Column(JSON, nullable=False))
    computed_at: datetime = _ts(nullable=False, default_factory=clock.now)


class MetricsMonth(SQLModel, table=True):
    """The partial §7102 figures of a California calendar month that has ended, per request type
    (services.metrics): counts only (received, answered by outcome and basis, a histogram of days to
    respond and their sum), no reference, date or other data about any one request or person. A
    year's metrics add up its months. A request recorded or changed later with a receipt or answer
    in the month removes the row, and the month is computed again."""

    __tablename__ = "metrics_month"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    month: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  # 1 to 12
    figures: dict = Field(sa_column=Column(JSON, nullable=False))
    computed_at: datetime = _ts(nullable=False, default_factory=clock.now)


class Recipient(SQLModel, table=True):
    """A service provider, contractor or third party told of deletions, corrections and opt-outs."""

    __tablename__ = "recipient"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=24)  # service_provider | contractor | third_party
    request_types: str = Field(max_length=64)  # comma-separated: delete, correct, opt_out, limit
    method: str = Field(max_length=16)  # webhook | email | manual
    webhook_url: str | None = Field(default=None, max_length=500)
    webhook_secret: str | None = Field(default=None, max_length=500)  # Fernet token (ENCRYPTION_KEYS)
    email: str | None = Field(default=None, max_length=254)
    active: bool = Field(default=True)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    updated_at: datetime = _ts(nullable=False, default_factory=clock.now)


class WebhookDelivery(SQLModel, table=True):
    """A signed JSON POST queued in the same transaction as its cause, delivered and retried like mail."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=64, unique=True)  # sent with every attempt; receivers dedupe on it
    topic: str = Field(max_length=32)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=500)  # Fernet token of the signing secret
    body: str = _text(nullable=False)
    status: str = Field(default="pending", max_length=12)  # pending | delivered | failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False, default_factory=clock.now)
    claimed_until: datetime | None = _ts()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    delivered_at: datetime | None = _ts()


class DownstreamNotice(SQLModel, table=True):
    """One recipient told (or to be told) to act on one request: by webhook, by mail, or by hand."""

    __tablename__ = "downstream_notice"
    __table_args__ = (UniqueConstraint("request_id", "recipient_id", "purpose",
                                       name="uq_downstream_notice_request_id_recipient_id_purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    notice_key: str = Field(max_length=36, unique=True)  # the idempotency key the recipient sees
    request_id: int = _request_fk()
    recipient_id: int = Field(sa_column=Column(Integer, ForeignKey("recipient.id"), nullable=False))
    # act: delete, correct, stop selling or limit; contested_statement: note the consumer's statement (§7023(f))
    purpose: str = Field(default="act", sa_column=Column(String(24), nullable=False, server_default="act"))
    method: str = Field(max_length=16)  # webhook | email | manual, as configured when it was made
    state: str = Field(max_length=16)  # queued | delivered | failed | awaiting_staff | recorded | explained
    webhook_delivery_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("webhook_delivery.id", ondelete="SET NULL"), nullable=True))
    outbox_message_id: int | None = Field(default=None, sa_column=Column(
        Integer, ForeignKey("outbox_message.id", ondelete="SET NULL"), nullable=True))
    delivered_at: datetime | None = _ts()
    recorded_on: date | None = None  # by hand: the day the recipient was told
    recorded_method: str | None = Field(default=None, max_length=200)
    explanation: str | None = _text()  # impossible or disproportionate effort: why
    settled_by: str | None = Field(default=None, max_length=64)
    settled_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class RetentionRun(SQLModel, table=True):
    """One retention purge by the worker per California day (the unique day keeps it to one)."""

    __tablename__ = "retention_run"

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(unique=True)
    counts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    started_at: datetime = _ts(nullable=False, default_factory=clock.now)
    finished_at: datetime | None = _ts()


_RECORD_FIELDS = ("request_type", "manner", "status", "received_at", "closed_at", "outcome_code", "outcome_citation",
                  "extended_due")


# What a record's part in the §7102 metrics depends on: its receipt month (type, receipt) and its
# answer month (these and the final status, its basis and date).
_RECEIVED_FIELDS = ("request_type", "received_at")
_METRICS_FIELDS = ("request_type", "status", "received_at", "closed_at", "outcome_code")


@event.listens_for(PrivacyRequest, "after_insert")
def _record_new_request(_mapper, connection, target):
    _keep_request_record(connection, target, changed=set(_METRICS_FIELDS), inserted=True)


@event.listens_for(PrivacyRequest, "after_update")
def _record_changed_request(_mapper, connection, target):
    state = inspect(target)
    _keep_request_record(connection, target, inserted=False,
                         changed={name for name in _METRICS_FIELDS if state.attrs[name].history.has_changes()})


def _keep_request_record(connection, target, *, changed: set[str], inserted: bool) -> None:
    """Every write of a request writes its §7101 record too, in the same transaction, whatever the path."""
    values = {name: getattr(target, name) for name in _RECORD_FIELDS}
    records = RequestRecord.__table__
    before = None
    if changed and not inserted:  # what the record said before this write: its months change too
        before = connection.execute(select(records.c.status, records.c.received_at, records.c.closed_at)
                                    .where(records.c.reference == target.reference)).first()
    done = connection.execute(records.update().where(records.c.reference == target.reference).values(**values))
    if done.rowcount == 0:
        connection.execute(records.insert().values(reference=target.reference, notice_count=0, **values))
    if changed:
        _drop_stored_metrics(connection, before, target, receipt_changed=bool(changed & set(_RECEIVED_FIELDS)))


def _drop_stored_metrics(connection, before, after, *, receipt_changed: bool) -> None:
    """A late entry or change in a month that has ended changes its stored figures, and its year's:
    drop them (services.metrics computes them again). Receipt months when the type or receipt
    changed; answer months, before and after, whenever an answered record changed."""
    moments = []
    for row in (before, after):
        if row is None:
            continue
        if receipt_changed:
            moments.append(row.received_at)
        if row.status in ANSWERED and row.closed_at is not None:
            moments.append(row.closed_at)
    today = clock.today()
    ended = {(day.year, day.month) for day in map(clock.local_date, moments)
             if (day.year, day.month) < (today.year, today.month)}
    if not ended:
        return
    years = {year for year, _month in ended if year < today.year}
    lock_stored_figures(connection, ended | {(year, 0) for year in years})
    months = MetricsMonth.__table__
    for year, month in ended:
        connection.execute(months.delete().where(months.c.year == year, months.c.month == month))
    if years:
        connection.execute(AnnualMetrics.__table__.delete().where(AnnualMetrics.year.in_(years)))


# PostgreSQL advisory locks (two-key form) on stored §7102 periods: (FIGURES_LOCK, year * 100 + month),
# month 0 for the year.
FIGURES_LOCK = 7102


def lock_stored_figures(connection, periods) -> None:
    """Hold each (year, month) period (month 0: the whole year) until the transaction ends, so that
    storing a period's figures and dropping them for a late write never interleave: a store
    computed before a late record commits would otherwise outlive the drop that ran before it.
    Taken in one order everywhere (no deadlock). On SQLite the write lock already serializes them:
    both run in transactions begun IMMEDIATE."""
    if connection.dialect.name != "postgresql":
        return
    for year, month in sorted(periods):
        connection.execute(text("SELECT pg_advisory_xact_lock(:kind, :period)"),
                           {"kind": FIGURES_LOCK, "period": year * 100 + month})


# ---- Data Rights Protocol: agents that send requests machine to machine, and status callbacks ----

class DrpAgent(SQLModel, table=True):
    """An authorized-agent service the portal trusts under the Data Rights Protocol: its Ed25519
    verify key (added by an operator) and the hash of the bearer token it received at pairing."""

    __tablename__ = "drp_agent"

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    verify_key: str = Field(max_length=64)  # standard base64 of the 32-byte Ed25519 public key
    # SHA-256 of the current bearer token (never the token); a new pairing replaces it.
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    token_issued_at: datetime | None = _ts()
    removed_at: datetime | None = _ts()  # removed agents keep their cases; their tokens stop working
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class DrpRequest(SQLModel, table=True):
    """The Data Rights Protocol side of a case: the agent, its identifiers, the claims it sent."""

    __tablename__ = "drp_request"
    __table_args__ = (
        UniqueConstraint("agent_pk", "message_digest", name="uq_drp_request_agent_pk_message_digest"),
        # An agent's own id for a request is unique within that agent (DRP §3.03); absent ids (NULL) repeat freely.
        UniqueConstraint("agent_pk", "agent_request_id", name="uq_drp_request_agent_pk_agent_request_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(sa_column=Column(Integer, ForeignKey("privacy_request.id", ondelete="CASCADE"),
                                             nullable=False, unique=True))
    request_uuid: str = Field(max_length=36, unique=True)  # the protocol's request_id
    agent_pk: int = Field(sa_column=Column(Integer, ForeignKey("drp_agent.id"), nullable=False))
    agent_request_id: str | None = Field(default=None, max_length=200)
    # SHA-256 of the signed message: the same message sent twice is the same request.
    message_digest: str = Field(max_length=64)
    exercise: str = Field(max_length=24)
    regime: str | None = Field(default=None, max_length=16)
    drp_version: str = Field(max_length=16)
    status_callback: str | None = Field(default=None, max_length=2000)
    # The identity claims and which the agent says it verified; values are dropped when the case closes.
    claims: dict = Field(sa_column=Column(JSON, nullable=False))
    revoke_reason: str | None = _text()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class DrpCallback(SQLModel, table=True):
    """An HTTP POST queued in the same transaction as the change it reports, delivered later by
    the same loop as mail; retried with backoff; `delivery_id` is its idempotency key."""

    __tablename__ = "drp_callback"
    __table_args__ = (
        Index("ix_drp_callback_due", "status", "next_attempt_at"),
        Index("ix_drp_callback_subject", "subject", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=36, unique=True)
    kind: str = Field(max_length=32)  # drp_status
    # Deliveries of one subject go out in order, and a newer one supersedes those not yet sent.
    subject: str = Field(max_length=64)
    request_id: int | None = _request_fk(nullable=True)
    url: str = Field(max_length=2000)
    body: str = _text(nullable=False)
    status: str = Field(default="pending", max_length=12)  # pending | sent | failed | superseded
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(nullable=False, default_factory=clock.now)
    claimed_until: datetime | None = _ts()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    sent_at: datetime | None = _ts()


class IdentitySubject(SQLModel, table=True):
    """One person in the business's records (the identity index), imported from its billing and claims
    systems. Only keyed hashes (HMAC-SHA256 of the normalized value) are stored, never a value in clear;
    `subject_key` is the business's own opaque key, kept so a re-import replaces the row and
    `subjects forget` can remove it. Rows live until re-imported or forgotten."""

    __tablename__ = "identity_subject"

    id: int | None = Field(default=None, primary_key=True)
    subject_key: str = Field(max_length=100, unique=True)
    email_hash: str | None = Field(default=None, max_length=64, index=True)
    phone_hash: str | None = Field(default=None, max_length=64, index=True)
    name_dob_hash: str | None = Field(default=None, max_length=64, index=True)
    claim_number_hash: str | None = Field(default=None, max_length=64, index=True)
    date_of_injury_hash: str | None = Field(default=None, max_length=64)
    employer_hash: str | None = Field(default=None, max_length=64)
    postal_code_hash: str | None = Field(default=None, max_length=64)
    imported_at: datetime = _ts(nullable=False, default_factory=clock.now)


class SubjectImport(SQLModel, table=True):
    """One run of `subjects import` (counts only; no row content)."""

    __tablename__ = "subject_import"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _ts(nullable=False)
    finished_at: datetime = _ts(nullable=False)
    rows_imported: int = 0
    rows_rejected: int = 0


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


class WorkerHeartbeat(SQLModel, table=True):
    """The last sign of life of a process that delivers the outbox (a worker, or a web process's
    delivery thread): one row per process, rewritten as it beats; readiness reads the newest."""

    __tablename__ = "worker_heartbeat"

    id: int | None = Field(default=None, primary_key=True)
    process: str = Field(max_length=200, unique=True)  # host:pid
    name: str = Field(max_length=32)  # worker | web
    started_at: datetime = _ts(nullable=False, default_factory=clock.now)
    beat_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


# Mail delivered in the last hour (the metrics' deliveries): a range over this index, not every sent row.
Index("ix_outbox_message_sent_at", OutboxMessage.sent_at)
