"""What /readyz and a /metrics scrape cost on a large outbox and case table. Prints figures beside
the target; asserts nothing.

    .venv/bin/python benchmarks/readiness.py [--cases 100000] [--mails 300000] [--database-url URL]

Without --database-url it builds a throwaway SQLite file. With a PostgreSQL URL it uses that
(empty, migrated here) database as is.
"""
import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, text

from portal import clock, create_app, db, lifecycle
from portal.models import OutboxMessage, PrivacyRequest
from portal.services import health
from portal.services.cases.references import new as new_reference
from portal.services.delivery import heartbeat

TARGET_MS = 20  # each: the readiness figures, a /readyz answer, a /metrics scrape


def seed(session, cases: int, mails: int) -> None:
    rng = random.Random(16)
    now = clock.now()
    statuses = ["completed"] * 80 + ["denied"] * 5 + ["verifying"] * 7 + ["on_hold"] * 3 + ["in_progress"] * 5
    rows = []
    for i in range(cases):
        kind = rng.choice(list(lifecycle.REQUEST_TYPES))
        received = now - timedelta(days=rng.uniform(0, 730))
        status = rng.choice(statuses)
        if status not in lifecycle.FINAL and received < now - timedelta(days=60):
            status = "completed"  # open cases are recent ones (a few are late: the overdue count)
        rows.append(dict(
            reference=new_reference(), request_type=kind, status=status,
            hold_reason="data_mismatch" if status == "on_hold" else None, manner="web", language="en",
            first_name="Ana", last_name=f"Name{i:07d}", email=f"person{i}@example.org", received_at=received,
            acknowledgement_due=lifecycle.acknowledgement_due(received),
            response_due=lifecycle.response_due(kind, received),
            closed_at=received + timedelta(days=rng.uniform(1, 45)) if status in lifecycle.FINAL else None,
            version=1, created_at=now, updated_at=now))
        if len(rows) == 5000:
            session.execute(insert(PrivacyRequest), rows)
            rows = []
    if rows:
        session.execute(insert(PrivacyRequest), rows)
    rows = []
    for i in range(mails):
        sent = now - timedelta(days=rng.uniform(0, 30))
        status = "pending" if i % 20000 == 0 else "failed" if i % 150000 == 1 else "sent"
        rows.append(dict(message_id=f"<bench-{i}@portal.example>", template="acknowledgement",
                         to_addr=f"person{i}@example.org", subject="Your request", text_body="", html_body="",
                         status=status, attempts=1, next_attempt_at=sent, created_at=sent - timedelta(seconds=5),
                         sent_at=sent if status == "sent" else None))
        if len(rows) == 5000:
            session.execute(insert(OutboxMessage), rows)
            rows = []
    if rows:
        session.execute(insert(OutboxMessage), rows)
    session.commit()
    session.execute(text("ANALYZE"))
    session.commit()


def timed(label: str, fn, repeat: int = 30) -> None:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    print(f"{label:<34} median {median:7.2f} ms   max {max(times):7.2f} ms   target <= {TARGET_MS} ms"
          f"   {'ok' if median <= TARGET_MS else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--mails", type=int, default=300_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="portal-readiness-"))
    url = args.database_url or f"sqlite:///{folder / 'portal.db'}"
    db.upgrade(url)
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(folder / "instance"), "DATABASE_URL": url,
                      "MAIL_BACKGROUND_DELIVERY": False})
    with app.app_context():
        started = time.perf_counter()
        seed(db.session(), args.cases, args.mails)
        print(f"seeded {args.cases} cases and {args.mails} mails on {app.extensions['db_engine'].dialect.name} "
              f"in {time.perf_counter() - started:.0f} s")
        heartbeat.beat(app.extensions["db_engine"], "worker")
        timed("readiness figures (snapshot)",
              lambda: health.snapshot(db.session(), alive_within=timedelta(seconds=120)))
    client = app.test_client()
    print("readyz:", client.get("/readyz").get_json()["status"])
    timed("GET /readyz", lambda: client.get("/readyz"))
    timed("GET /metrics", lambda: client.get("/metrics"))


if __name__ == "__main__":
    main()
