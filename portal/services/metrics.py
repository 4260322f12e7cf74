"""§7102 annual metrics and §7101 request records, computed in SQL (SQLite and PostgreSQL alike)
from the §7101 records (RequestRecord), which outlive the cases a retention purge removes.

Definitions (stated on the metrics page and in the JSON):
- a year is the California calendar year (America/Los_Angeles);
- received: requests received in the year (web, phone, mail), whatever happened to them later;
- complied with in whole / in part, denied (by basis): requests that reached that final status in
  the year;
- days to respond: from receipt to that final answer, in days (fractional), over the requests
  answered in the year; the median from a histogram in steps of 0.01 day (exact to 0.005 day,
  shown to 0.1), the same on both databases, without sorting the year's rows.
"""
import csv
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import Float, and_, cast, func, literal_column, select, true
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from .. import clock, db
from ..lifecycle import COMPLETED, DENIED, PACIFIC, PARTIALLY_COMPLETED, REQUEST_TYPES, local_date
from ..models import IS_ANSWERED, AnnualMetrics, ConsentRecord, RequestRecord

PR = RequestRecord


@dataclass
class TypeMetrics:
    request_type: str
    received: int = 0
    complied_in_whole: int = 0
    complied_in_part: int = 0
    denied: int = 0
    denied_by_basis: dict[str, int] = field(default_factory=dict)
    median_days_to_respond: float | None = None
    mean_days_to_respond: float | None = None


@dataclass
class YearMetrics:
    year: int
    types: list[TypeMetrics]
    gpc_opt_outs: int = 0  # browsers whose Global Privacy Control signal was honored in the year

    def as_dict(self) -> dict:
        return {"year": self.year, "timezone": str(PACIFIC),
                "definitions": {"received": "received in the year",
                                "complied_in_whole, complied_in_part, denied": "answered in the year",
                                "days_to_respond": "receipt to final answer, calendar days, answered in the year",
                                "gpc_opt_outs": "browsers whose Global Privacy Control opt-out was first "
                                                "honored in the year (each applied at once)"},
                "request_types": [asdict(t) for t in self.types], "gpc_opt_outs": self.gpc_opt_outs}

    @classmethod
    def from_dict(cls, figures: dict) -> "YearMetrics":
        return cls(figures["year"], [TypeMetrics(**t) for t in figures["request_types"]],
                   gpc_opt_outs=figures["gpc_opt_outs"])


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The UTC instants where the California calendar year starts and ends."""
    return (datetime.combine(date(year, 1, 1), time(0), PACIFIC),
            datetime.combine(date(year + 1, 1, 1), time(0), PACIFIC))


def _days(session: Session):
    """Days from receipt to the final answer, as a floating-point SQL expression for this database
    (constants as literals: the expression is grouped on, and must read the same in SELECT and GROUP BY)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(PR.closed_at) - func.julianday(PR.received_at)
    # date_part is double precision; extract() would be numeric, several times slower per row.
    return func.date_part("epoch", PR.closed_at - PR.received_at) / literal_column("86400.0")


# The median is read from a histogram of days to respond in steps of 1/MEDIAN_STEPS day (about 14
# minutes): one hash-aggregated pass over an index, no sort of the year's rows, a few thousand
# buckets back. It is exact to 0.005 day, and shown to 0.1; the mean is exact.
MEDIAN_STEPS = 100


def _median(buckets: list[tuple[float, int]]) -> float | None:
    """The median of a histogram [(value, count)] sorted by value: the middle value, or the mean of the two."""
    n = sum(count for _value, count in buckets)
    if not n:
        return None
    wanted, seen, middle = ((n + 1) // 2, (n + 2) // 2), 0, []
    for value, count in buckets:
        seen += count
        while len(middle) < 2 and seen >= wanted[len(middle)]:
            middle.append(value)
    return sum(middle) / 2


def _round(value) -> float | None:
    return None if value is None else round(float(value), 1)


def annual(session: Session, *, year: int) -> YearMetrics:
    """Per request type: received, complied in whole or in part, denied by basis, median and mean days."""
    start, end = year_bounds(year)
    by_type = {code: TypeMetrics(code) for code in REQUEST_TYPES}
    received = session.execute(select(PR.request_type, func.count()).where(
        PR.received_at >= start, PR.received_at < end).group_by(PR.request_type))
    for kind, n in received:
        by_type[kind].received = n

    answered = and_(IS_ANSWERED, PR.closed_at >= start, PR.closed_at < end)  # the partial index's own condition
    outcomes = session.execute(select(PR.request_type, PR.status, PR.outcome_code, func.count())
                               .where(answered).group_by(PR.request_type, PR.status, PR.outcome_code))
    for kind, status, code, n in outcomes:
        m = by_type[kind]
        if status == COMPLETED:
            m.complied_in_whole += n
        elif status == PARTIALLY_COMPLETED:
            m.complied_in_part += n
        else:
            m.denied += n
            m.denied_by_basis[code or "unspecified"] = m.denied_by_basis.get(code or "unspecified", 0) + n

    days = cast(_days(session), Float)
    bucket = func.round(days * literal_column(str(MEDIAN_STEPS)))
    histogram: dict[str, list[tuple[float, int]]] = {}
    sums: dict[str, float] = {}
    for kind, step, n, total in session.execute(
            select(PR.request_type, bucket, func.count(), func.sum(days)).where(answered)
            .group_by(PR.request_type, bucket)):
        histogram.setdefault(kind, []).append((float(step) / MEDIAN_STEPS, n))
        sums[kind] = sums.get(kind, 0.0) + float(total)
    for kind, buckets in histogram.items():
        buckets.sort()
        m = by_type[kind]
        m.median_days_to_respond = _round(_median(buckets))
        m.mean_days_to_respond = _round(sums[kind] / sum(n for _v, n in buckets))
    return YearMetrics(year, list(by_type.values()), gpc_opt_outs=gpc_opt_outs(session, year=year))


def for_year(session: Session, *, year: int) -> YearMetrics:
    """The metrics of `year`: computed live while the year runs; once it has ended, computed once
    and stored (AnnualMetrics), so the published page costs a key lookup however many records
    there are. The stored figures stay as published when a retention purge later removes records."""
    if year >= clock.today().year:
        return annual(session, year=year)
    stored = session.get(AnnualMetrics, year)
    if stored is not None:
        return YearMetrics.from_dict(stored.figures)
    result = annual(session, year=year)
    _store(session, result)
    return result


@db.atomic
def _store(session: Session, result: YearMetrics) -> None:
    if session.get(AnnualMetrics, result.year) is None:
        session.add(AnnualMetrics(year=result.year, figures=result.as_dict()))
    try:
        session.commit()
    except IntegrityError:  # another process stored the same year first: its figures are the same
        session.rollback()


def gpc_opt_outs(session: Session, *, year: int) -> int:
    """Opt-outs received through the Global Privacy Control signal (§7025): browsers (consent ids)
    whose signal was recorded in the year. Each is complied with at once, server-side."""
    start, end = year_bounds(year)
    return session.execute(select(func.count(func.distinct(ConsentRecord.consent_id))).where(
        ConsentRecord.source == "gpc", ConsentRecord.created_at >= start, ConsentRecord.created_at < end)).scalar() or 0


def metrics_csv(metrics: YearMetrics) -> str:
    """One row per request type; one denied_<basis> column per configured basis."""
    codes = [b["code"] for b in current_app.config["DENIAL_BASES"]]
    extra = sorted({c for t in metrics.types for c in t.denied_by_basis} - set(codes))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["year", "request_type", "received", "complied_in_whole", "complied_in_part", "denied",
                     *[f"denied_{c}" for c in codes + extra], "median_days_to_respond", "mean_days_to_respond"])
    for t in metrics.types:
        writer.writerow([metrics.year, t.request_type, t.received, t.complied_in_whole, t.complied_in_part, t.denied,
                         *[t.denied_by_basis.get(c, 0) for c in codes + extra],
                         "" if t.median_days_to_respond is None else t.median_days_to_respond,
                         "" if t.mean_days_to_respond is None else t.mean_days_to_respond])
    # Opt-outs through the GPC signal: received and complied with at once, in the same year.
    writer.writerow([metrics.year, "opt_out_gpc", metrics.gpc_opt_outs, metrics.gpc_opt_outs, 0, 0,
                     *[0 for _c in codes + extra], 0, 0])
    return out.getvalue()


RECORD_COLUMNS = ["reference", "received_date", "request_type", "manner", "status", "response_date",
                  "outcome", "denial_basis", "basis_citation", "extended_due_date", "notice_count"]


RECORDS_BATCH = 2000  # rows fetched at a time (a server-side cursor on PostgreSQL), and per chunk sent


def records_lines(session: Session, *, start: date, end: date) -> Iterator[str]:
    """§7101 records of the requests received from `start` to `end` (California dates, inclusive),
    as CSV text in chunks of RECORDS_BATCH rows: fetched in batches, so memory stays flat whatever
    the range. Only what the record-keeping rule names: no names, emails or other personal data."""
    lo = datetime.combine(start, time(0), PACIFIC)
    # The day after `end`; 9999-12-31 has none, so the range then stays open at the top.
    hi = datetime.combine(end + timedelta(days=1), time(0), PACIFIC) if end < date.max else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_COLUMNS)
    rows = session.execute(select(PR.reference, PR.received_at, PR.request_type, PR.manner, PR.status, PR.closed_at,
                                  PR.outcome_code, PR.outcome_citation, PR.extended_due, PR.notice_count)
                           .where(PR.received_at >= lo, PR.received_at < hi if hi else true())
                           .order_by(PR.received_at, PR.id).execution_options(yield_per=RECORDS_BATCH))
    for i, (ref, received, kind, manner, status, closed, code, citation, extended, notices) in enumerate(rows, 1):
        final = closed is not None
        writer.writerow([ref, local_date(received).isoformat(), kind, manner, status,
                         local_date(closed).isoformat() if final else "", status if final else "",
                         code if status in (DENIED, PARTIALLY_COMPLETED) else "", citation or "", extended.isoformat() if extended else "", notices])
        if i % RECORDS_BATCH == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def records_stream(*, start: date, end: date) -> Iterator[str]:
    """records_lines through a read-only session of its own, for a streamed response: it outlives the
    request's session, and on SQLite its deferred transaction never holds the write lock."""
    with db.read_session() as reader:
        yield from records_lines(reader, start=start, end=end)


def records_csv(session: Session, *, start: date, end: date) -> str:
    """The §7101 records of a date range as one CSV text (records_lines, joined)."""
    text = "".join(records_lines(session, start=start, end=end))
    session.rollback()
    return text
