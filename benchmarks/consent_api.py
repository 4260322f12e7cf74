"""Throughput and latency of GET /api/consent (the hot path: every page view of the business's
site) under gunicorn with 2 workers, beside a bare Flask "hello" route under the same settings,
in the same run. Servers listen on loopback only.

    .venv/bin/python benchmarks/consent_api.py [--seconds 5] [--rounds 3] [--connections 8] [--visitors 10000]
                                               [--database-url postgresql+psycopg://...]

Uses wrk when installed (apt-get install -y wrk), otherwise a bounded Python load loop.
Scenarios: the bare route; the API answered from the signed state cookie (no query); the API with
only the consent-id cookie (one indexed query); the API with a GPC signal already on record.
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(env: dict, visitors: int) -> dict:
    """Fill the database with `visitors` visitors' records; return the cookies of two of them."""
    from portal import clock, create_app, db
    from portal.models import ConsentRecord
    from portal.services.consent import choices as consent
    from portal.services.consent import state_cookie
    app = create_app({"INSTANCE_PATH": env["PORTAL_INSTANCE_PATH"], "SECRET_KEY": env["PORTAL_SECRET_KEY"],
                      "DATABASE_URL": env["PORTAL_DATABASE_URL"], "MAIL_BACKGROUND_DELIVERY": False})
    db.upgrade(app.config["DATABASE_URL"])
    with app.app_context():
        session = db.session()
        version = consent.policy_version()
        for start in range(0, visitors, 1000):
            session.add_all([ConsentRecord(receipt_id=f"{i:08d}-0000-4000-8000-000000000000",
                                           consent_id=consent.new_consent_id(), policy_version=version,
                                           choices={"functional": i % 2 == 0, "analytics": i % 3 == 0,
                                                    "advertising": i % 5 == 0},
                                           source="banner", created_at=clock.now())
                             for i in range(start, min(visitors, start + 1000))])
            session.commit()
        visitor, gpc_visitor = consent.new_consent_id(), consent.new_consent_id()
        state = consent.record_choice(session, consent_id=visitor, action="save", source="center", gpc_signal=False,
                                      user_agent=None, selected={"analytics": True})
        gpc_state = consent.record_choice(session, consent_id=gpc_visitor, action="accept_all", source="banner",
                                          gpc_signal=True, user_agent=None)
        cookies = {
            "cached": f"portal_consent_id={visitor}; portal_consent_state={state_cookie.state_cookie(state)}",
            "query": f"portal_consent_id={visitor}",
            "gpc": f"portal_consent_id={gpc_visitor}; portal_consent_state={state_cookie.state_cookie(gpc_state)}",
        }
    app.extensions["db_engine"].dispose()
    return cookies


class Gunicorn:
    """gunicorn with 2 workers on a loopback port; the same settings for every app."""

    def __init__(self, target: str, chdir: Path, env: dict, port: int | None = None):
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{self.port}",
             "--chdir", str(chdir), "--log-level", "warning", target],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.proc.poll() is not None:
                    detail = self.proc.stderr.read().decode()[-2000:]
                    raise RuntimeError(f"gunicorn {target} exited: {detail}") from None
                time.sleep(0.2)
        else:
            raise RuntimeError(f"gunicorn {target} did not start")
        self._wait_for_booted_workers(target, deadline)

    def _wait_for_booted_workers(self, target: str, deadline: float, workers: int = 2):
        """gunicorn opens its port before its workers have built the app (a second or more for the
        portal's): requests sent meanwhile queue and are answered late, or after their client gave
        up. Wait until both workers exist and have used no CPU for a moment: booted, waiting."""
        last, quiet = None, 0
        while time.monotonic() < deadline:
            pids = _children(self.proc.pid)
            used = sum(_cpu_ticks(pid) for pid in pids) if len(pids) == workers else None
            quiet = quiet + 1 if used is not None and used == last else 0
            if quiet >= 3:
                return
            last = used
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn {target}: its workers did not finish booting")

    def get(self, path: str, headers: dict) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp.status, body

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


def _stat_fields(pid: str) -> list[str]:
    """/proc/<pid>/stat after the command's name: state, ppid, ... (none once the process is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return []


def _children(parent: int) -> list[str]:
    return [entry.name for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and _stat_fields(entry.name)[1:2] == [str(parent)]]


def _cpu_ticks(pid: str) -> int:
    """User and system CPU a process has used so far, in clock ticks (0 once it is gone)."""
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12]) if fields else 0


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, headers: dict, seconds: int, connections: int) -> dict:
    args = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout

    def latency(pct):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency(50),
            "p99": latency(99), "errors": int(errors.group(1)) if errors else 0}


def run_python(url: str, headers: dict, seconds: int, connections: int) -> dict:
    """A bounded load loop: `connections` threads, each one request at a time, for `seconds`."""
    host, port, path = re.match(r"http://([^:/]+):(\d+)(/.*)", url).groups()
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.monotonic() + seconds

    def worker():
        mine = []
        while time.monotonic() < deadline:
            start = time.perf_counter()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            mine.append((time.perf_counter() - start) * 1000)
            if resp.status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / (time.monotonic() - started), "p50": q[49], "p99": q[98], "errors": errors[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--visitors", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary instance folder")
    opts = parser.parse_args()
    load = run_wrk if shutil.which("wrk") else run_python
    tmp = tempfile.mkdtemp(prefix="consent-bench-")
    env = {**os.environ, "PORTAL_INSTANCE_PATH": tmp, "PORTAL_SECRET_KEY": "benchmark-" + "x" * 40,
           "PORTAL_DATABASE_URL": opts.database_url or f"sqlite:///{tmp}/portal.db", "PYTHONPATH": str(REPO)}
    print(f"seeding {opts.visitors} visitors ({'PostgreSQL' if opts.database_url else 'SQLite'}) ...", flush=True)
    cookies = seed(env, opts.visitors)
    scenarios = [
        ("bare Flask hello", "hello", "/hello", {}),
        ("GET /api/consent, signed cookie (no query)", "portal", "/api/consent", {"Cookie": cookies["cached"]}),
        ("GET /api/consent, id cookie only (1 query)", "portal", "/api/consent", {"Cookie": cookies["query"]}),
        ("GET /api/consent, GPC on record, Sec-GPC: 1", "portal", "/api/consent",
         {"Cookie": cookies["gpc"], "Sec-GPC": "1"}),
    ]
    # Both servers run side by side and the scenarios interleave, round after round, so a burst of
    # load from elsewhere on the machine hits every scenario alike; each ratio is taken against the
    # bare route's run in the same round, and the medians are reported.
    results: dict[str, list[dict]] = {label: [] for label, *_ in scenarios}
    ratios: dict[str, list[float]] = {label: [] for label, *_ in scenarios}
    servers = {}
    try:
        servers["hello"] = Gunicorn("hello_app:app", REPO / "benchmarks", env)
        servers["portal"] = Gunicorn("wsgi:app", REPO, env)
        for label, which, path, headers in scenarios:
            status, body = servers[which].get(path, headers)
            assert status == 200, (label, status, body[:200])
            assert which == "hello" or b'"decided":true' in body, body[:300]
        for _ in range(opts.rounds):
            for label, which, path, headers in scenarios:
                results[label].append(load(f"http://127.0.0.1:{servers[which].port}{path}", headers,
                                           opts.seconds, opts.connections))
            base = results[scenarios[0][0]][-1]["rps"]
            for label, *_ in scenarios:
                ratios[label].append(results[label][-1]["rps"] / base)
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ngunicorn 2 workers (sync) per app, {opts.connections} connections, {opts.seconds} s per run, "
          f"median of {opts.rounds} interleaved rounds, load by {'wrk' if load is run_wrk else 'a Python loop'}, "
          f"{os.cpu_count()} CPUs, load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"{'scenario':48} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs hello':>9}")
    for label, *_ in scenarios:
        runs = results[label]
        med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
        errors = sum(r["errors"] for r in runs)
        print(f"{label:48} {med['rps']:9.0f} {med['p50']:8.2f} {med['p99']:8.2f} {errors:7d} "
              f"{statistics.median(ratios[label]):9.0%}   rounds: {' '.join(f'{r:.0%}' for r in ratios[label])}")


if __name__ == "__main__":
    main()
