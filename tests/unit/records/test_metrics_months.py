"""§7102 metrics from stored months: a year read from its months equals the direct computation over
the year, at California month boundaries and across DST; late records drop their months; the
worker stores the month that ended. On SQLite and PostgreSQL."""
import random
import statistics
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from portal import lifecycle
from portal.background import scheduled_jobs
from portal.models import AnnualMetrics, MetricsMonth, PrivacyRequest, RequestRecord
from portal.services.cases.references import new as new_reference
from portal.services.delivery import worker
from portal.services.records import annual_metrics

UTC = timezone.utc
PT = lifecycle.PACIFIC
FINAL = ["completed"] * 5 + ["partially_completed", "denied", "denied", "withdrawn", "expired"]
BASES = ["unverifiable", "exempt_medical", "legal_retention_wc", None]


def _case(session, kind, received, *, status="verifying", closed=None, code=None):
    req = PrivacyRequest(reference=new_reference(), request_type=kind, status=status, manner="web",
                         first_name="Pat", last_name="Doe", email="person@example.org", received_at=received,
                         acknowledgement_due=lifecycle.acknowledgement_due(received),
                         response_due=lifecycle.response_due(kind, received), closed_at=closed, outcome_code=code)
    session.add(req)
    return req


def _pt(*args) -> datetime:
    return datetime(*args, tzinfo=PT)


def _stored_months(session) -> list[tuple[int, int]]:
    session.expire_all()
    months = [tuple(r) for r in session.execute(select(MetricsMonth.year, MetricsMonth.month)
                                                .order_by(MetricsMonth.year, MetricsMonth.month))]
    session.rollback()  # on SQLite a transaction holds the write lock: the worker's job needs it
    return months


# Boundary instants, in California time: the last minute of a month, the first instant of the next,
# and the nights DST starts (2026-03-08) and ends (2026-11-01) inside their months.
BOUNDARIES = [_pt(2026, 1, 31, 23, 59), _pt(2026, 2, 1, 0, 0), _pt(2026, 2, 28, 23, 59, 59), _pt(2026, 3, 1, 0, 0),
              datetime(2026, 3, 8, 9, 59, tzinfo=UTC), datetime(2026, 3, 8, 10, 0, tzinfo=UTC),  # 01:59 PST, 03:00 PDT
              _pt(2026, 3, 31, 23, 59), _pt(2026, 4, 1, 0, 0), _pt(2026, 10, 31, 23, 59), _pt(2026, 11, 1, 0, 0),
              datetime(2026, 11, 1, 8, 30, tzinfo=UTC), datetime(2026, 11, 1, 9, 30, tzinfo=UTC),  # 01:30 PDT, 01:30 PST
              _pt(2025, 12, 31, 23, 59, 59), _pt(2026, 1, 1, 0, 0)]


@pytest.fixture
def records(session):
    """Random requests received from late 2025 to the end of 2026, answered up to 60 days later; and
    requests received or answered exactly at the boundary instants."""
    rng = random.Random(16)
    start = _pt(2025, 10, 1)
    span = (_pt(2027, 1, 1) - start).total_seconds()
    for _ in range(400):
        received = start + timedelta(seconds=rng.uniform(0, span))
        status = rng.choice(FINAL + ["in_progress", "verifying"])
        closed = received + timedelta(days=rng.uniform(0, 60)) if status not in ("in_progress", "verifying") else None
        code = rng.choice(BASES) if status in ("denied", "partially_completed") else None
        _case(session, rng.choice(sorted(lifecycle.REQUEST_TYPES)), received, status=status, closed=closed, code=code)
    for i, moment in enumerate(BOUNDARIES):
        _case(session, "access", moment, status="completed", closed=moment + timedelta(days=i + 0.5))
        _case(session, "delete", moment - timedelta(days=i + 2.25), status="denied", closed=moment, code="unverifiable")
    session.commit()


def _by_type(result: annual_metrics.YearMetrics) -> dict:
    return {t.request_type: t for t in result.types}


def test_month_bounds_are_california_midnights_across_dst():
    assert annual_metrics.month_bounds(2026, 3) == (datetime(2026, 3, 1, 8, tzinfo=UTC), datetime(2026, 4, 1, 7, tzinfo=UTC))
    assert annual_metrics.month_bounds(2026, 11) == (datetime(2026, 11, 1, 7, tzinfo=UTC), datetime(2026, 12, 1, 8, tzinfo=UTC))
    assert annual_metrics.month_bounds(2026, 12)[1] == annual_metrics.year_bounds(2026)[1] == datetime(2027, 1, 1, 8, tzinfo=UTC)


def test_the_year_from_its_months_is_the_direct_computation(session, records, time_machine):
    time_machine.move_to("2026-11-15T12:00:00-08:00", tick=False)
    direct = annual_metrics.direct(session, year=2026)
    assert annual_metrics.annual(session, year=2026) == direct  # the first view: January to October computed and stored
    assert _stored_months(session) == [(2026, m) for m in range(1, 11)]
    assert annual_metrics.annual(session, year=2026) == direct  # read back, November live
    assert annual_metrics.for_year(session, year=2025) == annual_metrics.direct(session, year=2025)
    assert _stored_months(session) == [(2025, m) for m in range(1, 13)] + [(2026, m) for m in range(1, 11)]
    # Each stored month is the direct computation over its own range.
    for row in session.execute(select(MetricsMonth).where(MetricsMonth.year == 2026)).scalars():
        expected = annual_metrics.compute(session, *annual_metrics.month_bounds(2026, row.month))
        assert {k: annual_metrics.Tally.from_dict(t) for k, t in row.figures["request_types"].items()} == expected
    # The figures are real: the median and mean of days, per type, worked out here from the records.
    start, end = annual_metrics.year_bounds(2026)
    rows = session.execute(select(RequestRecord)).scalars().all()
    for kind, figures in _by_type(direct).items():
        days = [(r.closed_at - r.received_at).total_seconds() / 86400 for r in rows if r.request_type == kind
                and r.status in ("completed", "denied", "partially_completed") and start <= r.closed_at < end]
        assert figures.received == sum(1 for r in rows if r.request_type == kind and start <= r.received_at < end)
        assert figures.mean_days_to_respond == round(statistics.mean(days), 1)
        steps = sorted(round(d * annual_metrics.MEDIAN_STEPS) / annual_metrics.MEDIAN_STEPS for d in days)
        middle = (steps[(len(steps) - 1) // 2] + steps[len(steps) // 2]) / 2
        assert figures.median_days_to_respond == round(middle, 1)


def test_the_boundary_instants_fall_in_their_california_month(session):
    for moment in BOUNDARIES:
        _case(session, "access", moment)
        _case(session, "delete", moment - timedelta(days=3), status="denied", closed=moment, code="unverifiable")
    session.commit()
    months = {}
    for moment in BOUNDARIES:
        local = moment.astimezone(PT)
        months[(local.year, local.month)] = months.get((local.year, local.month), 0) + 1
    assert months[(2026, 1)] == 2 and months[(2026, 3)] == 4 and months[(2026, 11)] == 3
    for (year, month), n in months.items():
        tallies = annual_metrics.compute(session, *annual_metrics.month_bounds(year, month))
        assert tallies["access"].received == n and tallies["delete"].denied_by_basis == {"unverifiable": n}
        assert (tallies["delete"].days_from, tallies["delete"].days_counts) == (300, [n]) and tallies["delete"].days_sum == 3 * annual_metrics.SUM_STEPS * n
    # The months add up to the span they cover, whatever falls on their edges.
    summed = {kind: annual_metrics.Tally() for kind in lifecycle.REQUEST_TYPES}
    for month in range(1, 13):
        for kind, t in annual_metrics.compute(session, *annual_metrics.month_bounds(2026, month)).items():
            summed[kind].add(t)
    assert summed == annual_metrics.compute(session, *annual_metrics.year_bounds(2026))


@pytest.mark.parametrize("moment, running_december", [
    ("2026-12-31T23:30:00-08:00", True),  # after UTC midnight, still December in California
    ("2027-01-01T00:02:00-08:00", True),  # ended, not settled yet: computed live, not stored
    ("2027-01-01T00:30:00-08:00", False),
])
def test_december_runs_until_california_midnight(session, records, time_machine, moment, running_december):
    time_machine.move_to(moment, tick=False)
    _case(session, "limit", _pt(2026, 12, 31, 23, 15))  # its last minutes: counted in December, in 2026
    session.commit()
    assert annual_metrics.annual(session, year=2026) == annual_metrics.direct(session, year=2026)
    assert _by_type(annual_metrics.annual(session, year=2026))["limit"].received >= 1
    assert _stored_months(session) == [(2026, m) for m in range(1, 12 if running_december else 13)]


def test_a_late_or_changed_record_drops_its_months(session, records, time_machine):
    time_machine.move_to("2026-05-10T12:00:00-07:00", tick=False)
    annual_metrics.annual(session, year=2026)
    assert _stored_months(session)[-4:] == [(2026, 1), (2026, 2), (2026, 3), (2026, 4)]
    # A letter taken in late with its receipt date in March: March goes, the other months stay.
    _case(session, "delete", _pt(2026, 3, 15, 9))
    session.commit()
    assert (2026, 3) not in _stored_months(session) and (2026, 2) in _stored_months(session)
    assert annual_metrics.annual(session, year=2026) == annual_metrics.direct(session, year=2026)
    assert (2026, 3) in _stored_months(session)
    # Received in April, answered now (May): April's figures do not change, its row stays.
    april = _case(session, "access", _pt(2026, 4, 20, 9), status="in_progress")
    session.commit()
    assert (2026, 4) not in _stored_months(session)  # a new record received in April: dropped
    annual_metrics.annual(session, year=2026)
    april.status, april.closed_at = "completed", _pt(2026, 5, 10, 12)
    session.add(april)
    session.commit()
    assert (2026, 4) in _stored_months(session)
    # A change to an answer given in February (its basis): February goes.
    february = session.execute(select(PrivacyRequest).where(
        PrivacyRequest.status == "denied", PrivacyRequest.closed_at >= annual_metrics.month_bounds(2026, 2)[0],
        PrivacyRequest.closed_at < annual_metrics.month_bounds(2026, 2)[1])).scalars().first()
    february.outcome_code = "duplicate"
    session.add(february)
    session.commit()
    assert (2026, 2) not in _stored_months(session) and (2026, 1) in _stored_months(session)
    assert annual_metrics.annual(session, year=2026) == annual_metrics.direct(session, year=2026)


def test_a_late_record_drops_its_month_and_its_published_year(session, records, time_machine):
    time_machine.move_to("2027-02-10T12:00:00-08:00", tick=False)
    annual_metrics.for_year(session, year=2026)
    assert session.get(AnnualMetrics, 2026) is not None and (2026, 6) in _stored_months(session)
    _case(session, "correct", _pt(2026, 6, 30, 23, 59, 59))
    session.commit()
    session.expire_all()
    assert session.get(AnnualMetrics, 2026) is None
    assert (2026, 6) not in _stored_months(session) and (2026, 7) in _stored_months(session)
    assert annual_metrics.for_year(session, year=2026) == annual_metrics.direct(session, year=2026)


def _metrics_job():
    return next(job for job in scheduled_jobs() if worker.job_name(job) == "metrics_months")


@pytest.mark.parametrize("moment, stored", [
    ("2026-03-01T00:30:00-08:00", [(2026, 1), (2026, 2)]),
    ("2027-01-01T00:30:00-08:00", [(2026, m) for m in range(1, 13)]),  # December, and its year's others
    ("2027-01-01T00:02:00-08:00", [(2026, m) for m in range(1, 12)]),  # December not settled yet
    ("2026-12-31T23:30:00-08:00", [(2026, m) for m in range(1, 12)]),
])
def test_the_worker_stores_the_month_that_ended_once(app, session, records, time_machine, monkeypatch, moment,
                                                     stored):
    time_machine.move_to(moment, tick=False)
    computed = []
    compute = annual_metrics.compute
    monkeypatch.setattr(annual_metrics, "compute", lambda s, start, end: computed.append(start) or compute(s, start, end))
    assert worker.run_jobs(app, [_metrics_job()]) == 1
    assert _stored_months(session) == stored and len(computed) == len(stored)
    first = {(r.year, r.month): r.computed_at for r in session.execute(select(MetricsMonth)).scalars()}
    session.rollback()
    assert worker.run_jobs(app, [_metrics_job()]) == 1
    assert len(computed) == len(stored)  # nothing computed again
    session.expire_all()
    assert {(r.year, r.month): r.computed_at for r in session.execute(select(MetricsMonth)).scalars()} == first
    # Page views then only read them (the running month is computed live).
    year = stored[-1][0]
    computed.clear()
    annual_metrics.annual(session, year=year)
    assert len(computed) == (0 if len(stored) == 12 else 1)


def test_pages_store_months_but_a_refused_export_does_not(app, client, staff_login, time_machine):
    time_machine.move_to("2026-05-10T12:00:00-07:00", tick=True)
    staff_login(client, role="admin")
    with app.app_context():
        from portal import db
        session = db.session()
        assert client.get("/staff/records.csv", query_string={"start": "nonsense"}).status_code == 422
        assert _stored_months(session) == []  # a refusal stores nothing
        assert client.get("/staff/metrics").status_code == 200
        assert _stored_months(session) == [(2026, 1), (2026, 2), (2026, 3), (2026, 4)]


# ---- a late record while a period is being stored ----------------------------------------------

def _in_thread(app, work):
    """`work(session)` in a thread of its own, with its own app context and database connection."""
    from portal import db

    def run():
        with app.app_context():
            work(db.session())
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _late_record(received):
    def write(s):
        _case(s, "correct", received)
        s.commit()
    return write


def _stored_with_a_late_record_meanwhile(app, session, monkeypatch, *, pause_in, paused_on, store, late):
    """Pause `store` inside `pause_in` (a metrics function, once its call matches `paused_on`), send
    a late record meanwhile, then let both finish. Returns whether the late write waited."""
    session.rollback()  # the test's own session holds no transaction (on SQLite: no write lock)
    reached, release = threading.Event(), threading.Event()
    real = getattr(annual_metrics, pause_in)

    def paused(*args, **kwargs):
        result = real(*args, **kwargs)
        if paused_on(*args):
            reached.set()
            release.wait(20)
        return result
    monkeypatch.setattr(annual_metrics, pause_in, paused)
    storer = _in_thread(app, store)
    assert reached.wait(20)  # the period computed, not stored yet
    writer = _in_thread(app, late)
    writer.join(1.5)
    waited = writer.is_alive()
    release.set()
    storer.join(20)
    writer.join(40)
    assert not storer.is_alive() and not writer.is_alive()
    monkeypatch.setattr(annual_metrics, pause_in, real)
    session.expire_all()
    return waited


def test_a_late_record_while_its_month_is_stored_is_counted(app, session, records, time_machine, monkeypatch):
    """The late write waits for the month being stored, then drops it: never a stale month kept."""
    time_machine.move_to("2026-11-15T12:00:00-08:00", tick=False)
    march = annual_metrics.month_bounds(2026, 3)
    waited = _stored_with_a_late_record_meanwhile(
        app, session, monkeypatch, pause_in="compute", paused_on=lambda _s, start, end: (start, end) == march,
        store=annual_metrics.store_ended_months, late=_late_record(_pt(2026, 3, 10, 9, 0)))
    assert waited
    assert (2026, 3) not in _stored_months(session) and (2026, 4) in _stored_months(session)
    assert annual_metrics.annual(session, year=2026) == annual_metrics.direct(session, year=2026)


def test_a_late_record_while_its_year_is_published_is_counted(app, session, records, time_machine, monkeypatch):
    """The same for an ended year being stored as published: the late write drops it once stored."""
    time_machine.move_to("2027-02-10T12:00:00-08:00", tick=False)
    waited = _stored_with_a_late_record_meanwhile(
        app, session, monkeypatch, pause_in="gpc_opt_outs", paused_on=lambda *_args: True,
        store=lambda s: annual_metrics.for_year(s, year=2026), late=_late_record(_pt(2026, 6, 30, 23, 59, 59)))
    assert waited
    assert session.get(AnnualMetrics, 2026) is None and (2026, 6) not in _stored_months(session)
    assert annual_metrics.for_year(session, year=2026) == annual_metrics.direct(session, year=2026)
