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

A year is the sum of its California months: each month that has ended is computed once from the
records (`compute`, three grouped queries over its range) and stored (MetricsMonth: counts, a
histogram and a sum, no personal data); a year's figures add its stored months to a live
computation of the month that runs. Every part adds up exactly (counts, histogram steps, and the
days summed in whole millionths of a day), so the median and the mean of a year read from its
months are the ones a single computation over the year gives.
"""
import csv
import io
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from operator import add

from flask import current_app
from sqlalchemy import Float, Integer, and_, cast, func, literal_column, select, true
from sqlmodel import Session

from ... import clock, db
from ...lifecycle import COMPLETED, DENIED, PACIFIC, PARTIALLY_COMPLETED, REQUEST_TYPES, local_date
from ...models import (
    IS_ANSWERED,
    IS_GPC,
    AnnualMetrics,
    ConsentRecord,
    MetricsMonth,
    RequestRecord,
    lock_stored_figures,
)

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


@dataclass
class Tally:
    """One request type's figures over a span of time, before medians and means: parts add up.
    The histogram of days to respond is a dense list of counts, one per step of 1/MEDIAN_STEPS
    day from step `days_from` (from its first answer to its last): lists add up element-wise in
    C (map), where a year's dozen months of dicts of thousands of steps each took Python loops."""
    received: int = 0
    complied_in_whole: int = 0
    complied_in_part: int = 0
    denied_by_basis: dict[str, int] = field(default_factory=dict)
    days_from: int = 0  # the step of days_counts[0]
    days_counts: list[int] = field(default_factory=list)  # answers per step; empty when none
    days_sum: int = 0  # days to respond, summed in whole 1/SUM_STEPS days

    def add(self, other: "Tally") -> None:
        self.received += other.received
        self.complied_in_whole += other.complied_in_whole
        self.complied_in_part += other.complied_in_part
        for basis, n in other.denied_by_basis.items():
            self.denied_by_basis[basis] = self.denied_by_basis.get(basis, 0) + n
        self.days_sum += other.days_sum
        if not other.days_counts:
            return
        if not self.days_counts:
            self.days_from, self.days_counts = other.days_from, list(other.days_counts)
            return
        low = min(self.days_from, other.days_from)
        high = max(self.days_from + len(self.days_counts), other.days_from + len(other.days_counts))
        self.days_counts = list(map(add, _padded(self.days_from, self.days_counts, low, high),
                                    _padded(other.days_from, other.days_counts, low, high)))
        self.days_from = low

    def as_dict(self) -> dict:
        """For JSON (not dataclasses.asdict: it deep-copies the counts one by one, thousands of them)."""
        return {**vars(self), "denied_by_basis": dict(self.denied_by_basis), "days_counts": list(self.days_counts)}

    @classmethod
    def from_dict(cls, figures: dict) -> "Tally":
        return cls(**figures)


def _padded(first: int, counts: list[int], low: int, high: int) -> list[int]:
    return [0] * (first - low) + counts + [0] * (high - first - len(counts))


Tallies = dict[str, Tally]  # request type -> its figures


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The UTC instants where the California calendar year starts and ends."""
    return (datetime.combine(date(year, 1, 1), time(0), PACIFIC),
            datetime.combine(date(year + 1, 1, 1), time(0), PACIFIC))


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The UTC instants where a California calendar month (1 to 12) starts and ends."""
    after = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return datetime.combine(date(year, month, 1), time(0), PACIFIC), datetime.combine(after, time(0), PACIFIC)


def _days(session: Session):
    """Days from receipt to the final answer, as a floating-point SQL expression for this database
    (constants as literals: the expression is grouped on, and must read the same in SELECT and GROUP BY)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(PR.closed_at) - func.julianday(PR.received_at)
    # date_part is double precision; extract() would be numeric, several times slower per row.
    return func.date_part("epoch", PR.closed_at - PR.received_at) / literal_column("86400.0")


# The median is read from a histogram of days to respond in steps of 1/MEDIAN_STEPS day (about 14
# minutes): one hash-aggregated pass over an index, no sort of the year's rows, a few thousand
# buckets back. It is exact to 0.005 day, and shown to 0.1; the mean is exact to a millionth of a day.
MEDIAN_STEPS = 100
# The mean's sum counts each answer's days in whole millionths of a day (86 ms): sums of whole
# numbers are exact in any order and grouping (a month's, then its year's), where sums of fractions
# differ in their last bits with the order the database adds them in. A million years of answers
# stay far below 2**53.
SUM_STEPS = 1_000_000
# A month is stored once it has ended and settled: a transaction that stamped a request just
# before midnight may commit just after, unseen by a month computed at midnight (and its write
# judged the month as running, so dropped nothing). Until then the month is computed live.
MONTH_SETTLES = timedelta(minutes=5)


def _median(buckets: list[tuple[float, int]]) -> float | None:
    """The median of a histogram [(value, count)] sorted by value: the middle value, or the mean of
    the two. (The definition; _middle reads the same from the dense counts a Tally keeps.)"""
    n = sum(count for _value, count in buckets)
    if not n:
        return None
    wanted, seen, middle = ((n + 1) // 2, (n + 2) // 2), 0, []
    for value, count in buckets:
        seen += count
        while len(middle) < 2 and seen >= wanted[len(middle)]:
            middle.append(value)
    return sum(middle) / 2


def _middle(first: int, counts: list[int]) -> float | None:
    """_median of a dense histogram (counts per step from step `first`), by bisecting its running
    total: the same middle values, added and halved the same way."""
    running = list(accumulate(counts))
    if not running or not running[-1]:
        return None
    n = running[-1]
    low, high = bisect_left(running, (n + 1) // 2), bisect_left(running, (n + 2) // 2)
    return ((first + low) / MEDIAN_STEPS + (first + high) / MEDIAN_STEPS) / 2


def _round(value) -> float | None:
    return None if value is None else round(float(value), 1)


def compute(session: Session, start: datetime, end: datetime) -> Tallies:
    """The figures of every request type over [start, end) (UTC instants), from the records: what
    was received in the span, and what was answered in it, with the histogram and sum of its days."""
    by_type = {code: Tally() for code in REQUEST_TYPES}
    run = session.connection().execute  # Core rows, fetched at once: the ORM's processing doubled a month's time
    received = run(select(PR.request_type, func.count()).where(
        PR.received_at >= start, PR.received_at < end).group_by(PR.request_type))
    for kind, n in received:
        by_type[kind].received = n

    answered = and_(IS_ANSWERED, PR.closed_at >= start, PR.closed_at < end)  # the partial index's own condition
    days = cast(_days(session), Float)
    outcomes = run(select(PR.request_type, PR.status, PR.outcome_code, func.count(),
                          func.sum(func.round(days * literal_column(str(SUM_STEPS)))))
                   .where(answered).group_by(PR.request_type, PR.status, PR.outcome_code))
    for kind, status, code, n, total in outcomes:
        t = by_type[kind]
        t.days_sum += int(total)
        if status == COMPLETED:
            t.complied_in_whole += n
        elif status == PARTIALLY_COMPLETED:
            t.complied_in_part += n
        else:
            t.denied_by_basis[code or "unspecified"] = t.denied_by_basis.get(code or "unspecified", 0) + n

    bucket = cast(func.round(days * literal_column(str(MEDIAN_STEPS))), Integer)
    steps: dict[str, dict[int, int]] = {}
    for kind, step, n in run(select(PR.request_type, bucket, func.count()).where(answered)
                             .group_by(PR.request_type, bucket)).all():
        steps.setdefault(kind, {})[step] = n
    for kind, counts in steps.items():
        t, low = by_type[kind], min(counts)
        t.days_from, t.days_counts = low, [0] * (max(counts) - low + 1)
        for step, n in counts.items():
            t.days_counts[step - low] = n
    return by_type


def _year_metrics(year: int, tallies: Tallies, gpc: int) -> YearMetrics:
    """A year's metrics from its figures: the median from the histogram, the mean from the sum."""
    types = []
    for kind, t in tallies.items():
        answered = sum(t.days_counts)
        types.append(TypeMetrics(
            kind, t.received, t.complied_in_whole, t.complied_in_part, sum(t.denied_by_basis.values()),
            dict(sorted(t.denied_by_basis.items())), _round(_middle(t.days_from, t.days_counts)),
            _round(t.days_sum / SUM_STEPS / answered) if answered else None))
    return YearMetrics(year, types, gpc_opt_outs=gpc)


def direct(session: Session, *, year: int) -> YearMetrics:
    """The metrics of `year` computed from its records in one pass, no month read or stored."""
    return _year_metrics(year, compute(session, *year_bounds(year)), gpc_opt_outs(session, year=year))


def _ended_months(year: int) -> int:
    """How many months of `year`, from January, have ended (and settled) by now."""
    cutoff = clock.local_datetime(clock.now() - MONTH_SETTLES)
    return 12 if year < cutoff.year else 0 if year > cutoff.year else cutoff.month - 1


def _months(session: Session, *, year: int, ended: int, store: bool) -> tuple[Tallies, int]:
    """Months 1 to `ended` of `year` added up: stored ones read back, missing ones computed (and
    stored when `store`). Returns their sum and how many months were computed."""
    totals = {code: Tally() for code in REQUEST_TYPES}
    stored = dict(session.execute(select(MetricsMonth.month, MetricsMonth.figures).where(
        MetricsMonth.year == year, MetricsMonth.month <= ended)).all())
    computed = 0
    for month in range(1, ended + 1):
        if month in stored:
            figures = {kind: Tally.from_dict(t) for kind, t in stored[month]["request_types"].items()}
        else:
            figures = _store_month(session, year, month) if store else compute(session, *month_bounds(year, month))
            computed += 1
        for kind, t in figures.items():
            totals[kind].add(t)
    return totals, computed


def annual(session: Session, *, year: int, store: bool = True) -> YearMetrics:
    """Per request type: received, complied in whole or in part, denied by basis, median and mean days:
    the year's ended months, stored (computed and stored first when missing, unless not `store`),
    plus a live computation from the start of the running month to the end of the year."""
    ended = _ended_months(year)  # read once: the stored months and the live span meet where it says
    totals, _computed = _months(session, year=year, ended=ended, store=store)
    if ended < 12:  # the running month (and any after it) to the end of the year
        for kind, t in compute(session, month_bounds(year, ended + 1)[0], year_bounds(year)[1]).items():
            totals[kind].add(t)
    return _year_metrics(year, totals, gpc_opt_outs(session, year=year))


def store_ended_months(session: Session) -> int:
    """The worker's job: store the last ended month, and any other of its year not stored yet, so
    that pages find them (at most a lookup when they are). Returns how many months it computed."""
    cutoff = clock.local_datetime(clock.now() - MONTH_SETTLES)
    year, ended = (cutoff.year, cutoff.month - 1) if cutoff.month > 1 else (cutoff.year - 1, 12)
    _totals, computed = _months(session, year=year, ended=ended, store=True)
    session.rollback()  # only read since the last store: end that transaction
    return computed


def for_year(session: Session, *, year: int) -> YearMetrics:
    """The metrics of `year`: while the year runs, its stored months and the running one live; once
    it has ended, computed once and stored (AnnualMetrics), so the published page costs a key lookup
    however many records there are. The stored figures stay as published when a retention purge
    later removes records."""
    if _ended_months(year) < 12:
        return annual(session, year=year)
    stored = _stored_year(session, year)
    if stored is not None:
        return YearMetrics.from_dict(stored)
    _months(session, year=year, ended=12, store=True)  # its months first: the year then adds them up
    return _store_year(session, year)


# Read from the database each time, never from the session's identity map: a late write may have
# dropped the row since this session last saw it.
def _stored_year(session: Session, year: int) -> dict | None:
    return session.execute(select(AnnualMetrics.figures).where(AnnualMetrics.year == year)).scalar()


def _stored_month(session: Session, year: int, month: int) -> dict | None:
    return session.execute(select(MetricsMonth.figures).where(MetricsMonth.year == year,
                                                             MetricsMonth.month == month)).scalar()


# A period's figures are computed and stored in one transaction that holds the period
# (models.lock_stored_figures), so a late record either commits first and is counted, or drops
# the stored figures after they are stored.

@db.atomic
def _store_year(session: Session, year: int) -> YearMetrics:
    """An ended year's metrics, from its stored months (one dropped meanwhile computed again here),
    stored as published."""
    lock_stored_figures(session.connection(), [(year, 0)])
    figures = _stored_year(session, year)
    if figures is None:
        totals, _computed = _months(session, year=year, ended=12, store=False)
        figures = _year_metrics(year, totals, gpc_opt_outs(session, year=year)).as_dict()
        session.add(AnnualMetrics(year=year, figures=figures))
    session.commit()
    return YearMetrics.from_dict(figures)


@db.atomic
def _store_month(session: Session, year: int, month: int) -> Tallies:
    """An ended month's figures: computed and stored, or read when another process stored them first."""
    lock_stored_figures(session.connection(), [(year, month)])
    stored = _stored_month(session, year, month)
    if stored is not None:
        figures = {kind: Tally.from_dict(t) for kind, t in stored["request_types"].items()}
    else:
        figures = compute(session, *month_bounds(year, month))
        session.add(MetricsMonth(year=year, month=month,
                                 figures={"request_types": {kind: t.as_dict() for kind, t in figures.items()}}))
    session.commit()
    return figures


def gpc_opt_outs(session: Session, *, year: int) -> int:
    """Opt-outs received through the Global Privacy Control signal (§7025): browsers (consent ids)
    whose signal was recorded in the year. Each is complied with at once, server-side."""
    start, end = year_bounds(year)
    return session.execute(select(func.count(func.distinct(ConsentRecord.consent_id))).where(
        IS_GPC, ConsentRecord.created_at >= start, ConsentRecord.created_at < end)).scalar() or 0


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
                  "outcome", "denial_basis", "basis_citation", "extended_due_date", "notice_count", "client_outcomes"]


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
                                  PR.outcome_code, PR.outcome_citation, PR.extended_due, PR.notice_count,
                                  PR.client_outcomes)
                           .where(PR.received_at >= lo, PR.received_at < hi if hi else true())
                           .order_by(PR.received_at, PR.id).execution_options(yield_per=RECORDS_BATCH))
    for i, (ref, received, kind, manner, status, closed, code, citation, extended, notices, clients) in enumerate(rows, 1):
        final = closed is not None
        writer.writerow([ref, local_date(received).isoformat(), kind, manner, status,
                         local_date(closed).isoformat() if final else "", status if final else "",
                         code if status in (DENIED, PARTIALLY_COMPLETED) else "", citation or "", extended.isoformat() if extended else "", notices,
                         clients or ""])
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
