"""The delivery loops: `flask worker` (run_worker) and the web process's background thread.

The worker survives: an exception in a pass (a database outage, a bug in one job) is logged and
the loop goes on at its next poll. Scheduled jobs run under a lock per job, so any number of workers
can run side by side and never run the same job together: a PostgreSQL session advisory lock
(`pg_try_advisory_lock`), or on SQLite (one host by design) an exclusive lock on a file beside
the database, on top of SQLite's own write lock (every transaction is BEGIN IMMEDIATE). A worker
that does not get a job's lock skips that job until its next round. SIGTERM and SIGINT stop the
worker after the row in hand: the current send finishes and is recorded, nothing new is claimed.
"""
import fcntl
import hashlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager

from sqlalchemy import text

from ... import db as database
from . import heartbeat

log = logging.getLogger(__name__)


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock."""
    return int.from_bytes(hashlib.sha256(f"portal-job:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def job_lock(engine, name: str):
    """Yield True when this process holds the lock of job `name` (released on exit), else False."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(name)}).scalar()
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(name)})
                    conn.commit()
        return
    path = database.sqlite_file(str(engine.url))
    if path is None:  # in-memory SQLite: one process only
        yield True
        return
    lock_path = path.with_name(f"{path.name}.job-{name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def job_name(job: Callable) -> str:
    return getattr(job, "job_name", None) or getattr(job, "__name__", "job")


def run_jobs(app, jobs: Iterable[Callable]) -> int:
    """Run each job whose lock this process gets, each on its own; returns how many ran. A job that
    raises is logged and the next one still runs."""
    engine = app.extensions["db_engine"]
    ran = 0
    for job in jobs:
        name = job_name(job)
        try:
            with job_lock(engine, name) as mine:
                if not mine:
                    log.info("scheduled job %s is running in another worker; skipped", name)
                    continue
                with app.app_context():
                    job()
                ran += 1
        except Exception:  # noqa: BLE001  one job's failure (or the database's) never stops the worker
            log.exception("scheduled job %s failed; retried next round", name)
    return ran


class Stop:
    """The stop flag of a worker: set by SIGTERM/SIGINT or by `stop()`."""

    def __init__(self):
        self.event = threading.Event()

    def __call__(self) -> bool:
        return self.event.is_set()

    def set(self, *_args) -> None:
        self.event.set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)


def on_pass(app, name: str = "worker") -> None:
    """The per-pass hook point of every delivery loop: called once per pass, after the pass's
    deliveries, whether they succeeded or not: the heartbeat readiness reads (`/readyz`)."""
    heartbeat.beat(app.extensions["db_engine"], name)


def deliver_pass(app, deliverers: Iterable[Callable], stop: Stop | None = None) -> int:
    """One pass of every deliverer; an exception in one (e.g. the database is down) is logged and
    the others still run. Returns how many rows were delivered."""
    delivered = 0
    for deliver in deliverers:
        if stop is not None and stop():
            break
        try:
            delivered += deliver(app, stop=stop)
        except Exception:  # noqa: BLE001  the database or a receiver is down: retried next pass
            log.exception("delivery pass failed (%s); retried next pass", getattr(deliver, "__module__", "?"))
    return delivered


def run_worker(app, *, once: bool = False, jobs: Iterable[Callable] = (), jobs_every: float = 60.0,
               deliverers: Iterable[Callable] = (), stop: Stop | None = None,
               handle_signals: bool = False) -> None:
    """The `flask worker` loop: deliver every MAIL_POLL_SECONDS, run scheduled jobs every `jobs_every`
    seconds, until `stop` is set (SIGTERM/SIGINT when `handle_signals`). Never dies of an exception."""
    stop = stop or Stop()
    jobs, deliverers = list(jobs), list(deliverers)
    previous = {}
    if handle_signals and threading.current_thread() is threading.main_thread():  # Python allows no other
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, stop.set)
    last_jobs = float("-inf")
    try:
        while not stop():
            try:
                if jobs and time.monotonic() - last_jobs >= jobs_every:
                    last_jobs = time.monotonic()
                    run_jobs(app, jobs)
                if not stop():
                    with app.app_context():
                        deliver_pass(app, deliverers, stop)
                on_pass(app)  # per-pass hook point (worker heartbeat)
            except Exception:  # noqa: BLE001  belt and braces: nothing in a pass ends the loop
                log.exception("worker pass failed; going on")
            if once:
                return
            stop.wait(float(app.config["MAIL_POLL_SECONDS"]))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("worker stopped")


class BackgroundDelivery:
    """A daemon thread in the web process that delivers the outbox every few seconds."""

    def __init__(self, app, deliverers=()):
        self.app = app
        self.deliverers = deliverers  # mail, and whatever else is delivered the same way (webhooks)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.stopping = Stop()

    def ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox-delivery", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Ask the thread to finish the row in hand and wait for it."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping():
            deliver_pass(self.app, self.deliverers, self.stopping)
            try:
                on_pass(self.app, "web")  # per-pass hook point (heartbeat)
            except Exception:  # noqa: BLE001  the database is down: the next pass beats again
                log.exception("outbox delivery heartbeat failed")
            self.stopping.wait(self.app.config["MAIL_POLL_SECONDS"])
