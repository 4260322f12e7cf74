"""How long the daily retention purge takes, and what the dry run costs, on a database of closed cases
at every age (a third past the verification limit, a third of them deletions, a sixth past 24 months).

    .venv/bin/python benchmarks/retention_purge.py [--cases 20000] [--database-url postgresql+psycopg://...]

Prints the seeding time, the dry run's and the purge's wall time and peak Python memory, the counts,
and the database file size before and after (SQLite).
"""
import argparse
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def seed(session, cases: int) -> None:
    from portal import clock, lifecycle
    from portal.models import IdentityCheck, OutboxMessage, PrivacyRequest, StaffUser
    from portal.services.cases.references import new as new_reference
    now = clock.now()
    staff = StaffUser(email="bench@billgenix.example", role="support", password_hash="x")
    session.add(staff)
    session.flush()
    for start in range(0, cases, 1000):
        batch = []
        for i in range(start, min(cases, start + 1000)):
            closed = now - timedelta(days=(i % 6) * 150 + 5)  # 5, 155, 305, 455, 605, 755 days ago
            received = closed - timedelta(days=20)
            kind = ("access", "delete", "correct")[i % 3]
            batch.append(PrivacyRequest(
                reference=new_reference(), request_type=kind, status="completed", manner="web",
                first_name=f"First{i}", last_name=f"Last{i}", email=f"person{i}@example.org", phone="+19095550100",
                claim_number=f"CLM-{i}", date_of_birth=received.date() - timedelta(days=365 * 40),
                received_at=received, closed_at=closed, acknowledgement_due=lifecycle.acknowledgement_due(received),
                response_due=lifecycle.response_due(kind, received), created_at=received, updated_at=closed))
        session.add_all(batch)
        session.flush()
        session.add_all([IdentityCheck(request_id=r.id, staff_id=staff.id, data_points="email,phone") for r in batch])
        session.add_all([OutboxMessage(message_id=f"<{r.reference}@bench>", request_id=r.id, template="completed",
                                       to_addr=r.email, subject="s", text_body="Hello " + r.first_name,
                                       html_body="<p>Hello</p>", status="sent", created_at=r.closed_at,
                                       next_attempt_at=r.closed_at, sent_at=r.closed_at) for r in batch])
        session.commit()


def timed(fn):
    tracemalloc.start()
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    from portal import create_app, db
    from portal.services.records import retention
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        db.upgrade(url)
        app = create_app({"INSTANCE_PATH": f"{tmp}/instance", "DATABASE_URL": url, "MAIL_BACKGROUND_DELIVERY": False})
        with app.app_context():
            session = db.session()
            started = time.perf_counter()
            seed(session, args.cases)
            print(f"seeded {args.cases} closed cases in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")
            sqlite_file = Path(f"{tmp}/bench.db") if not args.database_url else None
            if sqlite_file:
                print(f"database file before: {sqlite_file.stat().st_size / 1e6:.1f} MB")
            dry, seconds, peak = timed(lambda: retention.purge(session, dry_run=True))
            print(f"dry run: {seconds:.2f} s, peak {peak / 1e6:.1f} MB Python memory, would remove {dry.total}")
            done, seconds, peak = timed(lambda: retention.purge(session))
            print(f"purge:   {seconds:.2f} s, peak {peak / 1e6:.1f} MB Python memory, removed {done.total}; {done.compacted}")
            print("counts:  " + ", ".join(f"{k}={v}" for k, v in done.counts.items() if v))
            if sqlite_file:
                print(f"database file after: {sqlite_file.stat().st_size / 1e6:.1f} MB (freed pages are zeroed, "
                      f"kept for reuse)")
            again, seconds, _peak = timed(lambda: retention.purge(session))
            print(f"second purge (nothing left to do): {seconds:.2f} s, removed {again.total}")
        app.extensions["db_engine"].dispose()


if __name__ == "__main__":
    main()
