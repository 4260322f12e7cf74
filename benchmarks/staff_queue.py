"""Queue and metrics timings on a large case table. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/staff_queue.py [--cases 200000] [--database-url URL]

Without --database-url it builds a throwaway SQLite file. With a PostgreSQL URL it uses that
(empty, migrated here) database as is.
"""
import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, text

from portal import create_app, db, lifecycle
from portal.models import PrivacyRequest
from portal.services import cases, metrics
from portal.services.references import new as new_reference


def seed(session, n: int) -> None:
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    statuses = ["completed"] * 60 + ["denied"] * 8 + ["partially_completed"] * 4 + ["withdrawn"] * 3 + [
        "verifying"] * 10 + ["on_hold"] * 5 + ["in_progress"] * 10
    rows = []
    for i in range(n):
        kind = rng.choice(list(lifecycle.REQUEST_TYPES))
        received = now - timedelta(days=rng.uniform(0, 730))
        status = rng.choice(statuses)
        rows.append(dict(
            reference=new_reference(), request_type=kind, status=status,
            hold_reason=rng.choice(list(lifecycle.HOLD_REASONS)) if status == "on_hold" else None,
            manner=rng.choice(["web"] * 8 + ["phone", "mail"]), language="en",
            first_name=rng.choice(["Ana", "Luis", "Wei", "Maria", "John", "Aisha"]),
            last_name=f"Name{i:06d}", email=f"person{i}@example.org", received_at=received,
            acknowledgement_due=lifecycle.acknowledgement_due(received),
            response_due=lifecycle.response_due(kind, received),
            closed_at=received + timedelta(days=rng.uniform(1, 45)) if status in lifecycle.FINAL else None,
            outcome_code="unverifiable" if status == "denied" else None, version=1, created_at=now, updated_at=now))
        if len(rows) == 5000:
            session.execute(insert(PrivacyRequest), rows)
            rows = []
    if rows:
        session.execute(insert(PrivacyRequest), rows)
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE privacy_request"))
    else:
        session.execute(text("ANALYZE"))
    session.commit()


def timed(label: str, fn, repeat: int = 20) -> None:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    print(f"{label:<44} median {statistics.median(times):7.2f} ms   max {max(times):7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="queue-bench-")
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    db.upgrade(url)
    app = create_app({"INSTANCE_PATH": tmp, "DATABASE_URL": url, "MAIL_BACKGROUND_DELIVERY": False})
    with app.app_context():
        session = db.session()
        start = time.perf_counter()
        seed(session, args.cases)
        print(f"{args.cases} cases seeded in {time.perf_counter() - start:.1f} s on {session.get_bind().dialect.name}")
        first = cases.queue(session, filters=cases.QueueFilters())
        cursor = first.next_cursor
        session.rollback()
        for label, filters in [
            ("open queue, first page", cases.QueueFilters()),
            ("open queue, next page (keyset)", cases.QueueFilters(after=cursor or "")),
            ("status=on_hold", cases.QueueFilters(status="on_hold")),
            ("type=delete, open", cases.QueueFilters(request_type="delete")),
            ("overdue band", cases.QueueFilters(band="overdue")),
            ("manner=phone, all statuses", cases.QueueFilters(status="all", manner="phone")),
            ("search: email", cases.QueueFilters(status="all", q="person123456@example.org")),
            ("search: name prefix", cases.QueueFilters(status="all", q="name01234")),
            ("search: reference", cases.QueueFilters(status="all", q=first.rows[0].req.reference)),
        ]:
            timed(label, lambda f=filters: (cases.queue(session, filters=f), session.rollback()))
        year = datetime.now(timezone.utc).year - 1
        timed(f"§7102 metrics for {year}", lambda: (metrics.annual(session, year=year), session.rollback()), repeat=5)
        timed("§7101 records, 3 months", lambda: metrics.records_csv(
            session, start=datetime(year, 1, 1).date(), end=datetime(year, 3, 31).date()), repeat=5)


if __name__ == "__main__":
    main()
