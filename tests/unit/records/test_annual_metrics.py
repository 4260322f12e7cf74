"""§7102 metrics and §7101 records against a hand-computed fixture, on SQLite and PostgreSQL."""
import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, text

from portal import lifecycle
from portal.models import IS_GPC, AnnualMetrics, ConsentRecord, PrivacyRequest, RequestRecord
from portal.services.cases.references import new as new_reference
from portal.services.records import annual_metrics

UTC = timezone.utc
PT = lifecycle.PACIFIC


def _case(session, kind, received, *, status="verifying", closed_after_days=None, code=None, manner="web",
          email="person@example.org", extended=None):
    req = PrivacyRequest(reference=new_reference(), request_type=kind, status=status, manner=manner,
                         first_name="Pat", last_name="Doe", email=email, received_at=received,
                         acknowledgement_due=lifecycle.acknowledgement_due(received),
                         response_due=lifecycle.response_due(kind, received), extended_due=extended,
                         closed_at=received + timedelta(days=closed_after_days) if closed_after_days is not None else None,
                         outcome_code=code, outcome_citation="cite " + code if code else None)
    session.add(req)
    return req


@pytest.fixture
def year_2025(session):
    """The fixture, with the answers worked out by hand in the test below."""
    jan = datetime(2025, 1, 10, 17, 0, tzinfo=UTC)
    # access: received in 2025 x4; answered in 2025 after 10, 20 (whole), 30 (part), 40 (denied) days.
    _case(session, "access", jan, status="completed", closed_after_days=10)
    _case(session, "access", jan, status="completed", closed_after_days=20)
    _case(session, "access", jan, status="partially_completed", closed_after_days=30, code="exempt_medical")
    _case(session, "access", jan, status="denied", closed_after_days=40, code="unverifiable")
    # Year boundaries in California time: 2025-01-01 00:00 PST is 08:00 UTC.
    _case(session, "access", datetime(2025, 1, 1, 8, 0, tzinfo=UTC))  # first instant of 2025: counted
    _case(session, "access", datetime(2025, 1, 1, 7, 59, 59, tzinfo=UTC))  # still 2024 in California
    _case(session, "access", datetime(2026, 1, 1, 8, 0, tzinfo=UTC))  # 2026
    # delete: 5 (whole), 15 (denied, retention), 46 (denied, medical); one withdrawn (not an answer).
    _case(session, "delete", jan, status="completed", closed_after_days=5)
    _case(session, "delete", jan, status="denied", closed_after_days=15, code="legal_retention_wc")
    _case(session, "delete", jan, status="denied", closed_after_days=46, code="exempt_medical")
    _case(session, "delete", jan, status="withdrawn", closed_after_days=2)
    # A denial received in 2025 but answered in 2026 counts as received, not as denied, in 2025.
    _case(session, "delete", datetime(2025, 12, 20, 20, 0, tzinfo=UTC), status="denied", closed_after_days=30,
          code="duplicate")
    # opt_out: 3.5 days; received late 2024, answered in 2025 (counts as answered in 2025 only).
    _case(session, "opt_out", jan, status="completed", closed_after_days=3.5, manner="phone")
    _case(session, "opt_out", datetime(2024, 12, 28, 18, 0, tzinfo=UTC), status="completed", closed_after_days=6.5)
    session.commit()


def test_annual_metrics_match_the_hand_computed_figures(session, year_2025):
    result = {t.request_type: t for t in annual_metrics.annual(session, year=2025).types}
    access = result["access"]
    assert (access.received, access.complied_in_whole, access.complied_in_part, access.denied) == (5, 2, 1, 1)
    assert access.denied_by_basis == {"unverifiable": 1}
    assert access.median_days_to_respond == 25.0  # (20 + 30) / 2
    assert access.mean_days_to_respond == 25.0  # (10 + 20 + 30 + 40) / 4

    delete = result["delete"]
    assert (delete.received, delete.complied_in_whole, delete.complied_in_part, delete.denied) == (5, 1, 0, 2)
    assert delete.denied_by_basis == {"legal_retention_wc": 1, "exempt_medical": 1}
    assert delete.median_days_to_respond == 15.0  # 5, 15, 46
    assert delete.mean_days_to_respond == 22.0  # 66 / 3

    opt_out = result["opt_out"]
    assert (opt_out.received, opt_out.complied_in_whole, opt_out.denied) == (1, 2, 0)
    assert opt_out.median_days_to_respond == 5.0  # (3.5 + 6.5) / 2
    assert opt_out.mean_days_to_respond == 5.0

    for kind in ("correct", "limit"):
        t = result[kind]
        assert (t.received, t.complied_in_whole, t.complied_in_part, t.denied) == (0, 0, 0, 0)
        assert t.median_days_to_respond is None and t.mean_days_to_respond is None


def test_odd_count_median_and_another_year(session, year_2025):
    result = {t.request_type: t for t in annual_metrics.annual(session, year=2026).types}
    assert result["access"].received == 1
    assert result["delete"].denied_by_basis == {"duplicate": 1}
    assert result["delete"].median_days_to_respond == 30.0
    assert {t.request_type: t.received for t in annual_metrics.annual(session, year=2024).types}["access"] == 1


def test_metrics_csv_and_json(session, year_2025):
    result = annual_metrics.annual(session, year=2025)
    rows = list(csv.DictReader(io.StringIO(annual_metrics.metrics_csv(result))))
    assert [r["request_type"] for r in rows] == ["access", "delete", "correct", "opt_out", "limit", "opt_out_gpc"]
    delete = rows[1]
    assert delete["received"] == "5" and delete["denied"] == "2"
    assert delete["denied_legal_retention_wc"] == "1" and delete["denied_exempt_medical"] == "1"
    assert delete["denied_unverifiable"] == "0" and delete["median_days_to_respond"] == "15.0"
    assert rows[2]["median_days_to_respond"] == ""
    data = json.loads(json.dumps(result.as_dict()))
    assert data["year"] == 2025 and data["request_types"][0]["denied_by_basis"] == {"unverifiable": 1}
    assert data["gpc_opt_outs"] == 0 and rows[5]["received"] == "0"


def test_gpc_opt_outs_are_counted_once_per_browser_in_the_year(session, time_machine):
    from portal.services.consent import choices
    time_machine.move_to("2025-05-01T12:00:00-07:00", tick=False)
    first, second = choices.new_consent_id(), choices.new_consent_id()
    choices.resolve(session, consent_id=first, gpc_signal=True, user_agent=None)
    choices.resolve(session, consent_id=second, gpc_signal=True, user_agent=None)
    time_machine.move_to("2026-01-02T12:00:00-08:00", tick=False)
    choices.resolve(session, consent_id=choices.new_consent_id(), gpc_signal=True, user_agent=None)
    assert annual_metrics.gpc_opt_outs(session, year=2025) == 2 and annual_metrics.annual(session, year=2026).gpc_opt_outs == 1


def test_records_csv_for_a_date_range(session, year_2025):
    text = annual_metrics.records_csv(session, start=date(2025, 1, 1), end=date(2025, 1, 10))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == annual_metrics.RECORD_COLUMNS
    # 2025-01-01 08:00 UTC (00:00 PST) and the requests of 2025-01-10 (09:00 PST); not 2024-12-31 23:59 PST.
    assert [r["received_date"] for r in rows] == ["2025-01-01"] + ["2025-01-10"] * 9
    denied = [r for r in rows if r["status"] == "denied"]
    assert sorted(r["denial_basis"] for r in denied) == ["exempt_medical", "legal_retention_wc", "unverifiable"]
    partial = next(r for r in rows if r["status"] == "partially_completed")
    assert partial["denial_basis"] == "exempt_medical" and partial["response_date"] == "2025-02-09"
    opened = next(r for r in rows if r["status"] == "verifying")
    assert opened["response_date"] == "" and opened["outcome"] == ""
    assert {r["manner"] for r in rows} == {"web", "phone"}
    assert "person@example.org" not in text and "Pat" not in text  # records only, no personal data


def test_metrics_cli(runner, session, year_2025):
    out = runner.invoke(args=["metrics", "--year", "2025", "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert {t["request_type"]: t["received"] for t in data["request_types"]}["access"] == 5
    out = runner.invoke(args=["metrics", "--year", "2025"])
    assert out.exit_code == 0 and out.output.startswith("year,request_type,received,")
    assert runner.invoke(args=["metrics"]).exit_code != 0


@pytest.mark.parametrize("buckets, expected", [
    ([], None),
    ([(4.0, 1)], 4.0),
    ([(1.0, 1), (2.0, 1), (9.0, 1)], 2.0),  # the middle one
    ([(1.0, 2), (3.0, 2)], 2.0),  # the two middle ones fall in different buckets
    ([(1.0, 1), (2.5, 3), (7.0, 2)], 2.5),  # both middle ones in one bucket
])
def test_the_median_of_a_histogram(buckets, expected):
    assert annual_metrics._median(buckets) == expected


def _stored_years(session) -> list[int]:
    session.expire_all()
    return list(session.execute(select(AnnualMetrics.year).order_by(AnnualMetrics.year)).scalars())


def test_an_ended_year_is_computed_once_then_read_back(session, year_2025, time_machine):
    time_machine.move_to("2026-02-01T12:00:00-08:00", tick=False)
    first = annual_metrics.for_year(session, year=2025)
    assert _stored_years(session) == [2025] and first == annual_metrics.annual(session, year=2025)
    # Records purged later (retention): the published figures stay as they were.
    session.execute(delete(RequestRecord).where(RequestRecord.request_type == "access"))
    session.commit()
    assert annual_metrics.for_year(session, year=2025) == first
    assert {t.request_type: t.received for t in annual_metrics.direct(session, year=2025).types}["access"] == 0
    # A request recorded late with a receipt date in 2025 (a letter taken in by staff) drops them,
    # and its month (December): the year is computed again from its months, the other eleven as
    # they were stored (the access requests of January still counted).
    _case(session, "delete", datetime(2025, 12, 30, 18, 0, tzinfo=UTC))
    session.commit()
    assert _stored_years(session) == []
    again = {t.request_type: t for t in annual_metrics.for_year(session, year=2025).types}
    assert (again["access"].received, again["delete"].received) == (5, 6)
    # The running year is always computed live.
    annual_metrics.for_year(session, year=2026)
    assert _stored_years(session) == [2025]


def test_the_median_of_a_dense_histogram_is_the_same():
    """_middle (running totals, bisected) reads the same median as _median from the same counts."""
    import random
    rng = random.Random(5)
    for _ in range(300):
        first = rng.randint(0, 5000)
        counts = [rng.choice([0, 0, 1, 2, 7]) for _ in range(rng.randint(0, 40))]
        buckets = [((first + i) / annual_metrics.MEDIAN_STEPS, n) for i, n in enumerate(counts) if n]
        assert annual_metrics._middle(first, counts) == annual_metrics._median(buckets)


def test_the_gpc_count_reads_its_partial_index(session):
    """The §7102 count of GPC opt-outs reads the GPC rows alone, not the whole consent table."""
    start, end = annual_metrics.year_bounds(2026)
    query = select(func.count(func.distinct(ConsentRecord.consent_id))).where(
        IS_GPC, ConsentRecord.created_at >= start, ConsentRecord.created_at < end)
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: show that the index can serve
        plan = "\n".join(session.execute(text("EXPLAIN " + sql)).scalars())
    else:
        plan = "\n".join(str(row[-1]) for row in session.execute(text("EXPLAIN QUERY PLAN " + sql)))
    session.rollback()
    assert "ix_consent_record_gpc" in plan
