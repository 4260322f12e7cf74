"""The queue's counts of open cases, kept by triggers (migration 0021) and folded by the worker: equal
to a live count of the cases after any mix of writes, through the services or in plain SQL."""
import random
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from portal import clock, db
from portal.background import scheduled_jobs
from portal.lifecycle import (
    AWAITING_EMAIL,
    COMPLETED,
    HOLD_REASONS,
    IN_PROGRESS,
    ON_HOLD,
    OPEN,
    REQUEST_TYPES,
    TRANSITIONS,
)
from portal.models import DUE_ORDER, IS_OPEN, OpenCaseCount, PrivacyRequest
from portal.services.cases import open_counts, submission, transitions, work_queue
from portal.services.delivery import worker

from ...conftest import PG_URL
from ...support import days_ago, new_case

PR = PrivacyRequest
KEY = (PR.status, PR.request_type, PR.hold_reason, PR.manner, DUE_ORDER)


def live_by_key(session, *, dated: bool = True) -> dict:
    """The open cases per (status, type, hold, manner[, due date]), counted from the cases."""
    key = KEY if dated else KEY[:-1]
    rows = session.execute(select(*key, func.count()).where(IS_OPEN).group_by(*key)).all()
    return {(*(str(v) for v in row[:-1]),): row[-1] for row in rows}


def kept_by_key(session, *, dated: bool = True) -> dict:
    c = OpenCaseCount
    key = open_counts.KEY if dated else open_counts.KEY[:-1]
    rows = session.execute(select(*key, func.sum(c.n)).where(c.due_on.is_not(None) if dated else c.due_on.is_(None))
                           .group_by(*key).having(func.sum(c.n) != 0)).all()
    return {(*(str(v) for v in row[:-1]),): row[-1] for row in rows}


def assert_in_step(session):
    assert kept_by_key(session) == live_by_key(session)
    assert kept_by_key(session, dated=False) == live_by_key(session, dated=False)
    session.rollback()


INSERT = text("INSERT INTO privacy_request (reference, request_type, status, hold_reason, manner, language, "
              "first_name, last_name, email, received_at, acknowledgement_due, response_due, extended_due, version, "
              "created_at, updated_at) VALUES (:ref, :kind, :status, :hold, :manner, 'en', 'A', 'B', 'a@example.org', "
              "'2026-11-02 18:00:00', :due, :due, :extended, 1, '2026-11-02 18:00:00', '2026-11-02 18:00:00')")


def test_plain_sql_inserts_updates_and_deletes_keep_the_counts(app):
    """Every write path reaches the triggers, however it is written, and folding changes nothing."""
    rng = random.Random(16)
    statuses, kinds, holds = sorted(TRANSITIONS), sorted(REQUEST_TYPES), [None, *sorted(HOLD_REASONS)[:2]]
    days = [date(2026, 12, 1) + timedelta(days=d) for d in range(4)]
    with app.app_context():
        session = db.session()
        for i in range(120):
            session.execute(INSERT, {"ref": f"PR-T{i:03d}-0000", "kind": rng.choice(kinds), "status": rng.choice(statuses),
                                     "hold": rng.choice(holds), "manner": rng.choice(["web", "phone"]),
                                     "due": rng.choice(days), "extended": rng.choice([None, None, rng.choice(days)])})
        session.commit()
        assert_in_step(session)
        ids = session.execute(select(PR.id)).scalars().all()
        for round_ in range(6):
            for ident in rng.sample(ids, 30):
                column, value = rng.choice([("status", rng.choice(statuses)), ("request_type", rng.choice(kinds)),
                                            ("hold_reason", rng.choice(holds)), ("manner", rng.choice(["web", "mail"])),
                                            ("extended_due", rng.choice([None, *days])), ("response_due", rng.choice(days)),
                                            ("first_name", "C")])  # not a counted column: no row
                session.execute(text(f"UPDATE privacy_request SET {column} = :v WHERE id = :id"), {"v": value, "id": ident})
            gone = rng.sample(ids, 5)
            session.execute(text(f"DELETE FROM privacy_request WHERE id IN ({', '.join(map(str, gone))})"))
            ids = [i for i in ids if i not in gone]
            session.commit()
            assert_in_step(session)
            if round_ % 2:
                rows_before = open_counts.compact(session)
                assert rows_before > 0
                assert_in_step(session)
        open_counts.compact(session)
        assert session.execute(select(func.count()).select_from(OpenCaseCount)).scalar() == \
            len(live_by_key(session)) + len(live_by_key(session, dated=False))


def test_a_write_that_leaves_the_counted_columns_alone_adds_no_row(app):
    with app.app_context():
        ref = new_case(app, "delete").reference
        session = db.session()
        open_counts.compact(session)
        rows = session.execute(select(func.count()).select_from(OpenCaseCount)).scalar()
        session.execute(text("UPDATE privacy_request SET status = status, details = 'x' WHERE reference = :r"), {"r": ref})
        session.commit()
        assert session.execute(select(func.count()).select_from(OpenCaseCount)).scalar() == rows
        session.rollback()


def test_every_status_is_counted_exactly_when_it_is_open(app):
    """The triggers' list of open statuses is lifecycle.OPEN (a migration changes them together)."""
    with app.app_context():
        session = db.session()
        for i, status in enumerate(sorted(TRANSITIONS)):
            session.execute(INSERT, {"ref": f"PR-S{i:03d}-0000", "kind": "access", "status": status, "hold": None,
                                     "manner": "web", "due": date(2026, 12, 1), "extended": None})
        session.commit()
        assert set(open_counts.per_status(session)) == set(OPEN)
        session.rollback()


def test_the_queue_counts_match_a_live_count_under_every_filter(app):
    """Cases moved through the lifecycle (a hold, an extension, a completion), received over the
    last months; then each filter of the queue: the counts it shows are those of the cases it lists."""
    new_case(app, "access", IN_PROGRESS, received_at=days_ago(60), email="a@example.org")  # overdue
    new_case(app, "delete", ON_HOLD, hold_reason="data_mismatch", received_at=days_ago(40), email="b@example.org")
    new_case(app, "delete", AWAITING_EMAIL, email="c@example.org")
    new_case(app, "opt_out", IN_PROGRESS, email="d@example.org")
    extended = new_case(app, "correct", IN_PROGRESS, received_at=days_ago(50), email="e@example.org").reference
    finished = new_case(app, "delete", IN_PROGRESS, email="f@example.org").reference
    with app.app_context():
        session = db.session()
        req = submission.get_by_reference(session, extended)
        req.extended_due = req.response_due + timedelta(days=30)
        transitions.transition(session, submission.get_by_reference(session, finished), COMPLETED, actor="system")
        session.commit()
        today = clock.today()
        for filters in (work_queue.QueueFilters(), work_queue.QueueFilters(request_type="delete"),
                        work_queue.QueueFilters(hold_reason="data_mismatch"), work_queue.QueueFilters(manner="web"),
                        work_queue.QueueFilters(band="overdue"), work_queue.QueueFilters(band="due_soon"),
                        work_queue.QueueFilters(band="later"), work_queue.QueueFilters(status="closed"),
                        work_queue.QueueFilters(request_type="delete", band="later"), work_queue.QueueFilters(q="Ruiz")):
            shown = work_queue.queue(session, filters=filters, on=today).counts
            listed = work_queue.queue(session, filters=replace(filters, status="all"), on=today, page_size=100).rows
            assert shown == dict(Counter(row.req.status for row in listed if row.is_open)), filters
            session.rollback()
        assert work_queue.queue(session, filters=work_queue.QueueFilters(), on=today).counts == {
            AWAITING_EMAIL: 1, ON_HOLD: 1, IN_PROGRESS: 3}
        assert_in_step(session)


def test_the_worker_folds_the_rows(app):
    with app.app_context():
        for kind in ("access", "delete", "access"):
            new_case(app, kind)
        session = db.session()
        before = session.execute(select(func.count()).select_from(OpenCaseCount)).scalar()
        session.rollback()
        job = next(j for j in scheduled_jobs() if worker.job_name(j) == "open_case_counts")
        assert worker.run_jobs(app, [job]) == 1
        after = session.execute(select(func.count()).select_from(OpenCaseCount)).scalar()
        assert after < before
        assert_in_step(session)


@pytest.mark.skipif(not PG_URL, reason="a concurrent uncommitted writer needs PostgreSQL's row versions")
def test_folding_leaves_the_rows_of_a_transaction_still_open(app, database_url):
    """A case opened in a transaction that commits after the fold has begun is still counted once."""
    with app.app_context():
        new_case(app, "access")
        engine = create_engine(database_url)
        writer = engine.connect()
        writer.begin()
        writer.execute(INSERT, {"ref": "PR-LATE-0000", "kind": "delete", "status": "verifying", "hold": None,
                                "manner": "web", "due": date(2026, 12, 1), "extended": None})
        session = db.session()
        open_counts.compact(session)  # would wait here if the fold locked what the writer added
        writer.commit()
        writer.close()
        engine.dispose()
        assert open_counts.per_status(session).get("verifying", 0) == live_by_key_total(session, "verifying")
        assert_in_step(session)


def live_by_key_total(session, status: str) -> int:
    return sum(n for key, n in live_by_key(session, dated=False).items() if key[0] == status)


def test_the_migration_counts_the_cases_already_open(app, database_url):
    """0021 on a database with cases: the counts start equal to them, and the triggers take over."""
    new_case(app, "access", IN_PROGRESS, email="a@example.org")
    new_case(app, "delete", ON_HOLD, hold_reason="data_mismatch", email="b@example.org")
    finished = new_case(app, "delete", IN_PROGRESS, email="c@example.org").reference
    app.extensions["db_engine"].dispose()
    db.downgrade(database_url, "0020_metrics_months")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(INSERT, {"ref": "PR-OLD0-0000", "kind": "correct", "status": "verifying", "hold": None,
                              "manner": "mail", "due": date(2026, 12, 1), "extended": None})
        conn.execute(text("UPDATE privacy_request SET status = 'completed' WHERE reference = :r"), {"r": finished})
    engine.dispose()
    db.upgrade(database_url)
    with app.app_context():
        session = db.session()
        assert open_counts.per_status(session) == {"in_progress": 1, "on_hold": 1, "verifying": 1}
        assert_in_step(session)
        new_case(app, "opt_out", IN_PROGRESS, email="d@example.org")
        assert open_counts.per_status(session)["in_progress"] == 2
        assert_in_step(session)
