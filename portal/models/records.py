"""What the portal keeps about its own work: RequestRecord, the §7101 record of every request, kept in
step with its PrivacyRequest by listeners on that table (registered when this module is imported);
the stored §7102 figures (AnnualMetrics, MetricsMonth), which those listeners drop when a late write
changes a month that has ended, with ANSWERED, IS_ANSWERED and lock_stored_figures; and RetentionRun,
one retention purge a day."""
from datetime import date, datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, event, inspect, literal_column, select, text
from sqlmodel import Field, SQLModel

from .. import clock
from .cases import PrivacyRequest
from .columns import UTCDateTime, _ts


class RequestRecord(SQLModel, table=True):
    """§7101: what is kept of every request for RETENTION_RECORD_MONTHS, with no name, email or other
    personal identifier. Kept in step with its PrivacyRequest (this module's listeners) and outlives it."""

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
    # Clients the data was held for and the outcome chosen for each ("client_key:forward|explain|handle", comma-separated)
    client_outcomes: str | None = Field(default=None, max_length=500)


class SignedDeclaration(SQLModel, table=True):
    """§7062(c): a declaration signed under penalty of perjury, kept as part of its request's §7101
    record for as long as that record, after the case's verification data (§7060(d)) and even the case
    itself (a completed deletion) are gone. It holds the typed signature, a name: its own table, so the
    record itself still names nobody."""

    __tablename__ = "signed_declaration"

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(sa_column=Column(Integer, ForeignKey("request_record.id", ondelete="CASCADE"),
                                            nullable=False, unique=True))
    signature: str = Field(max_length=200)
    signed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


# §7102 metrics read a year of records from these alone (index-only scans): what was received, by
# type; and what was answered, with its outcome and both dates for the days to respond.
_rr = RequestRecord.__table__.c
ANSWERED = ("completed", "denied", "partially_completed")  # the final answers the metrics count
IS_ANSWERED = _rr.status.in_([literal_column(f"'{status}'") for status in ANSWERED])
Index("ix_request_record_received_type", _rr.received_at, _rr.request_type)
Index("ix_request_record_answered", _rr.closed_at, _rr.request_type, _rr.status, _rr.outcome_code, _rr.received_at,
      postgresql_where=IS_ANSWERED, sqlite_where=IS_ANSWERED)


class AnnualMetrics(SQLModel, table=True):
    """§7102 metrics of a California year that has ended, as computed once it had (services.records.annual_metrics).
    Nothing answered later can fall in that year; a request recorded late with a receipt date in it
    (staff intake of a letter), or a record changed in one of its months, removes the row, and the
    figures are computed again (from its months, MetricsMonth)."""

    __tablename__ = "annual_metrics"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    figures: dict = Field(sa_column=Column(JSON, nullable=False))
    computed_at: datetime = _ts(nullable=False, default_factory=clock.now)


class MetricsMonth(SQLModel, table=True):
    """The partial §7102 figures of a California calendar month that has ended, per request type
    (services.records.annual_metrics): counts only (received, answered by outcome and basis, a histogram of days to
    respond and their sum), no reference, date or other data about any one request or person. A
    year's metrics add up its months. A request recorded or changed later with a receipt or answer
    in the month removes the row, and the month is computed again."""

    __tablename__ = "metrics_month"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    month: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})  # 1 to 12
    figures: dict = Field(sa_column=Column(JSON, nullable=False))
    computed_at: datetime = _ts(nullable=False, default_factory=clock.now)


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
    drop them (services.records.annual_metrics computes them again). Receipt months when the type or receipt
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
