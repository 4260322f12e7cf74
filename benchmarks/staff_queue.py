"""Queries that stay flat (issue 16): the staff queue, its counts, §7102 metrics, §7101 exports and
`audit verify` at N requests, each figure printed beside its target. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/staff_queue.py --requests 1000000 --database-url postgresql+psycopg://...
    .venv/bin/python benchmarks/staff_queue.py --requests 10000            # a throwaway SQLite file

With a PostgreSQL URL, that database is emptied (its public schema dropped and made again) and
migrated here. Rows are generated in Python and bulk-loaded (COPY on PostgreSQL, executemany on
SQLite), not through the app: requests received evenly over three years, those older than about
two months closed (as cases close within weeks), a realistic few percent open; two hash-chained
audit events per request (a valid chain, so `audit verify` walks all of it); the §7101 record of
each request.

Targets (issue 16, at 1,000,000 requests): queue pages within 1.5x the 10k figure (run both and
compare), counts per status <= 5 ms, metrics for a year <= 200 ms (the running year as staff see
it: its ended months stored, the running month live; its first view, when no month is stored yet;
the ended year as published), exports streamed in constant memory, `audit verify` <= 200 MB of
memory at any size. Memory is each operation's own process'
peak RSS (a fresh child per operation), so the interpreter and the app are included (the baseline
is printed too).
"""
import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import delete, func, select, text

from portal import clock, create_app, db
from portal.lifecycle import OPEN
from portal.models import IS_OPEN, AnnualMetrics, MetricsMonth, PrivacyRequest
from portal.services import audit
from portal.services.cases import open_counts, work_queue
from portal.services.records import annual_metrics

DAYS = 3 * 365  # received evenly over three years, up to today
OPEN_STATUSES = sorted(OPEN)
CLOSED = ["completed"] * 70 + ["denied"] * 12 + ["partially_completed"] * 6 + ["withdrawn"] * 6 + ["expired"] * 6
TYPES = ["access", "delete", "correct", "opt_out", "limit"]
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REQUEST_COLUMNS = ["id", "reference", "request_type", "status", "hold_reason", "manner", "language", "first_name",
                   "last_name", "email", "received_at", "acknowledgement_due", "response_due", "extended_due",
                   "closed_at", "outcome_code", "version", "created_at", "updated_at"]
RECORD_COLUMNS = ["reference", "request_type", "manner", "status", "received_at", "closed_at", "outcome_code",
                  "extended_due", "notice_count"]
OUTBOX_COLUMNS = ["message_id", "request_id", "template", "to_addr", "subject", "text_body", "html_body", "status",
                  "attempts", "next_attempt_at", "created_at", "sent_at"]
OUTBOX_DAYS = 30  # RETENTION_OUTBOX_DAYS: sent mail older than this is purged
EVENT_COLUMNS = ["request_id", "actor", "action", "from_status", "to_status", "detail", "created_at", "prev_hash",
                 "hash", "request_ref", "chain_version"]


def reference(i: int) -> str:
    """PR-XXXX-XXXX, unique per row number (the real ones are random; here only unique matters)."""
    digits = []
    for _ in range(8):
        i, r = divmod(i, 32)
        digits.append(ALPHABET[r])
    return "PR-" + "".join(digits[:4]) + "-" + "".join(digits[4:])


def generate(n: int, now: datetime):
    """(request rows, record rows, audit event rows, outbox rows), in id order. The outbox holds what
    retention leaves: the last OUTBOX_DAYS of mail (three per request), sent, bodies emptied."""
    rng = random.Random(7)
    requests, records, events, outbox = [], [], [], []
    prev = audit.GENESIS
    for i in range(1, n + 1):
        received = now - timedelta(days=DAYS * (n - i) / n, minutes=rng.randint(0, 600))
        age = (now - received).days
        kind = rng.choice(TYPES)
        still_open = rng.random() < (0.6 if age < 45 else 0.3 if age < 60 else 0.0005)
        status = rng.choice(OPEN_STATUSES) if still_open else rng.choice(CLOSED)
        closed = None if still_open else min(now, received + timedelta(days=rng.uniform(0.2, 44)))
        due = received.date() + timedelta(days=45 if kind in ("access", "delete", "correct") else 21)
        extended = due + timedelta(days=30) if still_open and rng.random() < 0.03 else None
        ref = reference(i)
        code = "unverifiable" if status == "denied" else None
        requests.append((i, ref, kind, status, "information_requested" if status == "on_hold" else None,
                         rng.choice(["web"] * 8 + ["phone", "mail"]), "en", "Ana", f"Name{i:07d}",
                         f"person{i}@example.org", received, received.date() + timedelta(days=14), due, extended,
                         closed, code, 1, received, closed or received))
        records.append((ref, kind, requests[-1][5], status, received, closed, code, extended, 0))
        if age < OUTBOX_DAYS:
            for template in ("acknowledgement", "verify_email", "completed"):
                outbox.append((f"<{ref}.{template}@portal.example>", i, template, f"person{i}@example.org",
                               f"Your privacy request {ref}", "", "", "sent", 1, received, received, received))
        for action, at, frm, to in (("submitted", received, None, "awaiting_email"),
                                    *([(status, closed, "in_progress", status)] if closed else [])):
            event = SimpleNamespace(chain_version=2, request_ref=ref, inquiry_ref=None, actor="system", action=action,
                                    from_status=frm, to_status=to, detail=None, created_at=at)
            digest = audit._digest(prev, event)
            events.append((i, "system", action, frm, to, None, at, prev, digest, ref, 2))
            prev = digest
    return requests, records, events, outbox


def load(engine, n: int, now: datetime) -> None:
    start = time.perf_counter()
    requests, records, events, outbox = generate(n, now)
    print(f"generated {n} requests, {len(events)} audit events, {len(outbox)} mails in "
          f"{time.perf_counter() - start:.1f} s")
    tables = [("privacy_request", REQUEST_COLUMNS, requests), ("request_record", RECORD_COLUMNS, records),
              ("audit_event", EVENT_COLUMNS, events), ("outbox_message", OUTBOX_COLUMNS, outbox)]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, columns, rows in tables:
            start = time.perf_counter()
            if engine.dialect.name == "postgresql":
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                sqlite_rows = ([v.isoformat(sep=" ") if isinstance(v, datetime) else
                                v.isoformat() if isinstance(v, date) else v for v in row] for row in rows)
                cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", sqlite_rows)
            raw.commit()
            print(f"  loaded {len(rows):>9} rows into {table} in {time.perf_counter() - start:.1f} s")
        if engine.dialect.name == "postgresql":
            cur.execute("SELECT setval(pg_get_serial_sequence('privacy_request', 'id'), %s)", (n,))
            raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")


def sizes(engine, n: int) -> None:
    """Table sizes (PostgreSQL): what the partitioning question is about, per month of load too."""
    if engine.dialect.name != "postgresql":
        return
    months = DAYS / 30.4
    with engine.connect() as conn:
        for table in ("privacy_request", "request_record", "audit_event", "outbox_message"):
            rows, size = conn.execute(text(
                f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}")).one()  # fixed names
            per_month = "" if table == "outbox_message" else \
                f"; {rows / months:,.0f} rows, {size / months / 2**20:.1f} MB a month"
            print(f"  {table:<16} {rows:>10} rows {size / 2**20:9.1f} MB with indexes{per_month}")
    print(f"  ({n / months:,.0f} requests a month; the outbox holds {OUTBOX_DAYS} days of sent mail, bodies emptied)")


# A queue page costs a few ms, and on a shared host single runs vary by 2-3x: the median of a few
# hundred is steady enough to compare the 10k and 1M figures.
QUEUE_REPEAT = 300


def timed(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def line(label: str, median: float, worst: float, target: str) -> None:
    print(f"{label:<60} median {median:8.2f} ms  max {worst:8.2f} ms   target: {target}")


def first_views(session, year: int, table=MetricsMonth, repeat: int = 5) -> tuple[float, float]:
    """The page's annual_metrics.for_year with the year's rows of `table` dropped before each run (not
    timed): for the running year, its months (the first view before the worker stored any); for an
    ended year, the published year (its months stay stored). Each run stores them again."""
    times = []
    for _ in range(repeat):
        session.execute(delete(table).where(table.year == year))
        session.commit()
        start = time.perf_counter()
        annual_metrics.for_year(session, year=year)
        session.rollback()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def peak_rss_mb() -> float:
    """This process' peak resident memory since it started (VmHWM: unlike ru_maxrss, not inherited
    from the parent that forked it)."""
    for status_line in Path("/proc/self/status").read_text().splitlines():
        if status_line.startswith("VmHWM:"):
            return int(status_line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args) -> None:
    """One memory-measured operation in this fresh process; prints a JSON line."""
    # A fixed secret key: a --no-load run opens a database made by an earlier run, in a new instance
    # folder, and the portal refuses to start with a newly generated key over existing requests.
    app = create_app({"INSTANCE_PATH": args.instance, "DATABASE_URL": args.database_url,
                      "SECRET_KEY": "benchmark-only secret key", "MAIL_BACKGROUND_DELIVERY": False})
    with app.app_context():
        with db.read_session() as warm:  # the app, the driver and a connection: the baseline
            warm.execute(text("SELECT 1"))
        base = peak_rss_mb()
        start = time.perf_counter()
        if args.child == "verify":
            with db.read_session() as reader:
                broken, count = audit.walk(reader)
            result = {"events": count, "broken": broken}
        else:
            today = clock.today()
            first = today - timedelta(days=91 if args.child == "export_3m" else 3 * 365)
            size = rows = 0
            for chunk in annual_metrics.records_stream(start=first, end=today):
                size += len(chunk)
                rows += chunk.count("\n")
            result = {"bytes": size, "rows": rows - 1}
        elapsed = time.perf_counter() - start
        peak = peak_rss_mb()
    print(json.dumps({**result, "seconds": elapsed, "baseline_mb": base, "peak_mb": peak}))


def measured(args, operation: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", operation, "--instance", args.instance,
                          "--database-url", args.database_url], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def explain(session, sql_filters: work_queue.QueueFilters) -> None:
    """EXPLAIN ANALYZE of the queue page query on PostgreSQL (captured from the statement work_queue.queue runs)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    statements = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))
    from sqlalchemy import event
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        work_queue.queue(session, filters=sql_filters)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    session.rollback()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in statements:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = [r[0] for r in cur.fetchall()]
            print("    " + "\n    ".join(plan))
        raw.rollback()
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the queue queries")
    parser.add_argument("--no-memory", action="store_true", help="skip the exports and audit verify")
    parser.add_argument("--no-load", action="store_true",
                        help="measure the database loaded by an earlier run (migrated to head first), loading nothing")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    args.instance = tempfile.mkdtemp(prefix="queue-bench-")
    args.database_url = args.database_url or f"sqlite:///{Path(args.instance) / 'bench.db'}"
    engine = db.make_engine(args.database_url)
    if engine.dialect.name == "postgresql" and not args.no_load:
        with engine.begin() as conn:  # a clean slate: the benchmark owns this database
            # The schema, not its tables only: the migrations also create functions and triggers.
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    db.upgrade(args.database_url)
    if not args.no_load:
        load(engine, args.requests, clock.now())
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    sizes(engine, args.requests)
    # A fixed secret key: a --no-load run opens a database made by an earlier run, in a new instance
    # folder, and the portal refuses to start with a newly generated key over existing requests.
    app = create_app({"INSTANCE_PATH": args.instance, "DATABASE_URL": args.database_url,
                      "SECRET_KEY": "benchmark-only secret key", "MAIL_BACKGROUND_DELIVERY": False})
    n = args.requests
    with app.app_context():
        session = db.session()
        open_counts.compact(session)  # as the worker does every minute: the load's trigger rows, folded
        open_rows = session.execute(select(func.count()).where(IS_OPEN)).scalar()
        print(f"\n{n} requests on {session.get_bind().dialect.name}, {open_rows} open; "
              f"each figure is the median of repeated runs\n")
        session.rollback()
        overdue = work_queue.QueueFilters(band="overdue")
        for label, filters in [("queue first page (open), with its counts", work_queue.QueueFilters()),
                               ("filtered: delete + open", work_queue.QueueFilters(request_type="delete")),
                               ("filtered: overdue (open)", overdue)]:
            med, worst = timed(lambda f=filters: (work_queue.queue(session, filters=f), session.rollback()), QUEUE_REPEAT)
            line(label, med, worst, "<= 1.5x the 10k figure")
        today = clock.today()
        for label, filters in [("counts per status (open queue)", work_queue.QueueFilters()),
                               ("counts per status (delete + open)", work_queue.QueueFilters(request_type="delete")),
                               ("counts per status (overdue)", overdue)]:
            med, worst = timed(lambda f=filters: (work_queue.queue_counts(session, filters=f, on=today), session.rollback()), QUEUE_REPEAT)
            line(label, med, worst, "<= 5 ms")
        live = session.execute(select(PrivacyRequest.status, func.count()).where(IS_OPEN).group_by(PrivacyRequest.status))
        assert open_counts.per_status(session) == dict(live.all()), "the kept counts differ from the cases"
        session.rollback()
        this_year = clock.today().year
        ended = annual_metrics._ended_months(this_year)
        med, worst = first_views(session, this_year)
        line(f"§7102 {this_year}, first view: {ended} months computed+stored, 1 live", med, worst,
             "for reference: only before the worker first stores the months (then each as it ends)")
        annual_metrics.store_ended_months(session)  # the worker's job (they are stored already: a lookup)
        med, worst = timed(lambda: (annual_metrics.for_year(session, year=this_year), session.rollback()), 30)
        line(f"§7102 {this_year}, as staff see it: {ended} months stored, 1 live", med, worst, "<= 200 ms")
        med, worst = timed(lambda: (annual_metrics.direct(session, year=this_year), session.rollback()), 5)
        line(f"§7102 {this_year}, one direct pass (no month read/stored)", med, worst, "for reference")
        year = this_year - 1
        annual_metrics.store_ended_months(session) if ended == 0 else annual_metrics.annual(session, year=year)  # its months
        med, worst = first_views(session, year, table=AnnualMetrics)
        line(f"§7102 {year}, first view: from its 12 stored months", med, worst, "<= 200 ms")
        med, worst = timed(lambda: (annual_metrics.for_year(session, year=year), session.rollback()), 30)
        line(f"§7102 {year}, as published (stored by that first view)", med, worst, "<= 200 ms")
        if args.explain:
            print("\n  EXPLAIN ANALYZE, open queue (page, then counts):")
            explain(session, work_queue.QueueFilters())
            print("\n  EXPLAIN ANALYZE, delete + open:")
            explain(session, work_queue.QueueFilters(request_type="delete"))
            print("\n  EXPLAIN ANALYZE, overdue (open):")
            explain(session, overdue)
    print()
    for operation, label in () if args.no_memory else (("export_3m", "§7101 records, 3 months"), ("export_3y", "§7101 records, 3 years"),
                             ("verify", "audit verify")):
        r = measured(args, operation)
        what = f"{r['rows']} rows, {r['bytes'] / 2**20:.1f} MB of CSV" if "rows" in r else \
            f"{r['events']} events, {'intact' if r['broken'] is None else 'BROKEN at ' + str(r['broken'])}"
        target = "streamed, constant memory" if "rows" in r else "<= 200 MB at any size"
        print(f"{label:<30} {r['seconds']:7.2f} s  peak RSS {r['peak_mb']:6.1f} MB "
              f"(baseline {r['baseline_mb']:.1f} MB, +{r['peak_mb'] - r['baseline_mb']:.1f} MB)  {what}   target: {target}")
    db.make_engine(args.database_url).dispose()


if __name__ == "__main__":
    main()
