"""Speed under load (issue 16): the portal under gunicorn -w 2 beside a bare Flask route under
the same settings, in the same run, driven by wrk with 50 connections. Prints req/s, the share
of the bare route's req/s, p50 and p99, beside the targets:

    GET /api/consent with a visitor's cookies   >= 70% of bare, p99 <= 20 ms
    home page                                    >= 25% of bare, p99 <= 50 ms
    requester status page (signed in)            >= 20% of bare, p99 <= 50 ms

    .venv/bin/python benchmarks/load.py [--seconds 5] [--rounds 3] [--connections 50]
                                        [--database-url postgresql+psycopg://...] [--port-base 8140]

The machine may be shared: the scenarios interleave round after round and each ratio is taken
against the bare route's run of the same round; medians are reported. A second's unmeasured load
on each scenario comes first, so that both workers have served it once: a worker's first request
opens its database connection and compiles its statements (wsgi.py has already compiled the
templates: portal/warmup.py).

"mean floor" is the mean latency wrk's closed loop implies (Little's law: connections / req/s).
No percentile can be below it, so a p99 target is out of reach until req/s exceeds
connections / target (1,000 req/s for 50 ms at 50 connections), however the page spends its time.

Measure what production runs; the header names the interpreter:
- Python: the servers run on this script's interpreter. Production runs Debian's python3 or the
  official image's (python:3.11-slim), both built with profile-guided optimization. A pyenv
  build without --enable-optimizations runs this code about 15% slower (status page in-process:
  1.34 against 1.14 ms), so run the script from a venv made with that interpreter
  (`/usr/bin/python3 -m venv /tmp/bench && /tmp/bench/bin/pip install -e .`).
- PostgreSQL on the same host: connect through its Unix socket, as deploy/ does
  (`postgresql+psycopg://USER@/DB?host=/var/run/postgresql&port=5432`); over TCP loopback each
  round trip costs 20–40 µs more of wall time, which two sync workers cannot use for anything else.
"""
import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from consent_api import Gunicorn, run_python, run_wrk  # noqa: E402

TARGETS = {  # scenario: (minimum share of bare, maximum p99 in ms)
    "consent": (0.70, 20.0),
    "home": (0.25, 50.0),
    "status": (0.20, 50.0),
}


def seed(env: dict) -> dict:
    """A visitor who has chosen (consent cookies) and a requester signed in to their status page."""
    from portal import clock, create_app, db
    from portal.services.cases.submission import NewRequest, submit
    from portal.services.consent import choices, state_cookie
    app = create_app({"INSTANCE_PATH": env["PORTAL_INSTANCE_PATH"], "SECRET_KEY": env["PORTAL_SECRET_KEY"],
                      "DATABASE_URL": env["PORTAL_DATABASE_URL"], "MAIL_BACKGROUND_DELIVERY": False})
    db.upgrade(app.config["DATABASE_URL"])
    with app.app_context():
        session = db.session()
        visitor = choices.new_consent_id()
        state = choices.record_choice(session, consent_id=visitor, action="save", source="center", gpc_signal=False,
                                      user_agent=None, selected={"analytics": True})
        consent_cookies = f"portal_consent_id={visitor}; portal_consent_state={state_cookie.state_cookie(state)}"
        req = submit(session, new=NewRequest(request_type="delete", first_name="Ana", last_name="Ruiz",
                                             email="ana@example.org")).request
        reference = req.reference
    # The session a spent status link opens (public.access.grant_status_access), for the run's
    # length, as the browser holds it once it has shown the page: with the CSRF token of the
    # page's forms. (Without it, every request would mint a token and send a new cookie, which
    # a browser only gets on its first view.)
    browser = app.test_client()
    with browser.session_transaction() as held:
        held["status_access"] = {"ref": reference, "until": int(clock.timestamp()) + 3600}
    first = browser.get(f"/requests/{reference}")
    assert first.status_code == 200, first.status_code
    signed = browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert "csrf_token" in app.session_interface.get_signing_serializer(app).loads(signed)
    app.extensions["db_engine"].dispose()
    return {"consent": consent_cookies, "reference": reference,
            "status": f"{consent_cookies}; {app.config['SESSION_COOKIE_NAME']}={signed}"}


def cpu_per_request(env: dict, scenarios: list, count: int) -> dict:
    """CPU milliseconds per request in this process (Flask test client, no server, no network):
    steadier than req/s on a busy machine, and its inverse ratio to the bare route's predicts the
    share of bare a server can reach."""
    from hello_app import app as hello
    os.environ.update({k: v for k, v in env.items() if k.startswith("PORTAL_")})
    from portal import create_app
    portal = create_app()
    clients = {"hello": hello.test_client(), "portal": portal.test_client()}
    figures = {}
    for key, _label, which, path, headers in scenarios:
        client = clients[which]
        client._cookies.clear()
        for part in filter(None, headers.get("Cookie", "").split("; ")):
            name, value = part.split("=", 1)
            client.set_cookie(name, value)
        for _ in range(20):  # warm: templates compiled, connections pooled
            assert client.get(path).status_code == 200, (key, path)
        batches = []
        for _ in range(5):  # the best of 5 batches: other work on the machine only ever adds
            started = time.process_time()
            for _ in range(count // 5):
                client.get(path)
            batches.append((time.process_time() - started) * 1000 / (count // 5))
        figures[key] = min(batches)
    portal.extensions["db_engine"].dispose()
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary instance folder")
    parser.add_argument("--port-base", type=int, default=0, help="ports for the two servers (0: any free ones)")
    parser.add_argument("--cpu-requests", type=int, default=500, help="requests per scenario for the CPU figures")
    parser.add_argument("--cpu-only", action="store_true", help="only the in-process CPU figures (no wrk)")
    opts = parser.parse_args()
    load = run_wrk if shutil.which("wrk") else run_python
    tmp = tempfile.mkdtemp(prefix="load-bench-")
    env = {**os.environ, "PORTAL_INSTANCE_PATH": tmp, "PORTAL_SECRET_KEY": "benchmark-" + "x" * 40,
           "PORTAL_DATABASE_URL": opts.database_url or f"sqlite:///{tmp}/portal.db", "PYTHONPATH": str(REPO),
           "PORTAL_MAIL_BACKGROUND_DELIVERY": "false", "PORTAL_RATELIMIT_ENABLED": "false"}
    database = "PostgreSQL" if opts.database_url else "SQLite"
    cookies = seed(env)
    scenarios = [
        ("bare", "bare Flask route", "hello", "/hello", {}),
        ("consent", "GET /api/consent (visitor's cookies)", "portal", "/api/consent", {"Cookie": cookies["consent"]}),
        ("home", "home page", "portal", "/", {"Cookie": cookies["consent"]}),
        ("status", "requester status page", "portal", f"/requests/{cookies['reference']}",
         {"Cookie": cookies["status"]}),
    ]
    cpu = cpu_per_request(env, scenarios, opts.cpu_requests)
    print(f"\n{database}: CPU per request in-process (Flask test client, {opts.cpu_requests} requests each)")
    print(f"{'scenario':40} {'CPU ms':>8} {'bare/this':>10} {'target':>7}")
    for key, label, *_ in scenarios:
        share_target = TARGETS.get(key, (None, None))[0]
        print(f"{label:40} {cpu[key]:8.3f} {cpu['bare'] / cpu[key]:10.0%} "
              f"{'' if share_target is None else f'>={share_target:.0%}':>7}")
    if opts.cpu_only:
        shutil.rmtree(tmp, ignore_errors=True)
        return
    results: dict[str, list[dict]] = {key: [] for key, *_ in scenarios}
    ratios: dict[str, list[float]] = {key: [] for key, *_ in scenarios}
    servers = {}
    try:
        servers["hello"] = Gunicorn("hello_app:app", REPO / "benchmarks", env, port=opts.port_base or None)
        servers["portal"] = Gunicorn("wsgi:app", REPO, env, port=opts.port_base + 1 if opts.port_base else None)
        for key, label, which, path, headers in scenarios:
            status, body = servers[which].get(path, headers)
            assert status == 200, (label, status, body[:300])
            assert key != "status" or cookies["reference"].encode() in body, body[:300]
            # Unmeasured (see above): both workers serve the page before the rounds.
            load(f"http://127.0.0.1:{servers[which].port}{path}", headers, 1, opts.connections)
        for _ in range(opts.rounds):
            for key, _label, which, path, headers in scenarios:
                results[key].append(load(f"http://127.0.0.1:{servers[which].port}{path}", headers,
                                         opts.seconds, opts.connections))
            base = results["bare"][-1]["rps"]
            for key, *_ in scenarios:
                ratios[key].append(results[key][-1]["rps"] / base)
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{database}: gunicorn -w 2 (sync) per app, {opts.connections} connections, {opts.seconds} s per run, "
          f"median of {opts.rounds} interleaved rounds, load by {'wrk' if load is run_wrk else 'a Python loop'}, "
          f"{os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.1f}\n"
          f"Python {platform.python_version()} at {os.path.realpath(sys.executable)}"
          f"{'' if not opts.database_url else ', database ' + make_url(opts.database_url).render_as_string()}")
    print(f"{'scenario':40} {'req/s':>8} {'% bare':>7} {'target':>7} {'p50 ms':>7} {'p99 ms':>7} {'target':>7} "
          f"{'mean floor':>10} {'errors':>6}  verdict")
    for key, label, *_ in scenarios:
        runs = results[key]
        med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
        ratio, errors = statistics.median(ratios[key]), sum(r["errors"] for r in runs)
        share_target, p99_target = TARGETS.get(key, (None, None))
        verdict = "" if share_target is None else (
            "met" if ratio >= share_target and med["p99"] <= p99_target and not errors else "NOT met")
        print(f"{label:40} {med['rps']:8.0f} {ratio:7.0%} "
              f"{'' if share_target is None else f'>={share_target:.0%}':>7} {med['p50']:7.2f} {med['p99']:7.2f} "
              f"{'' if p99_target is None else f'<={p99_target:.0f}':>7} "
              f"{opts.connections / med['rps'] * 1000 if med['rps'] else float('inf'):10.1f} {errors:6d}  {verdict}")
    # The rounds behind each median: on a shared machine they can differ more than the medians do.
    print("each round, req/s and p99 ms: " + "; ".join(
        f"{key} " + " ".join(f"{r['rps']:.0f}/{r['p99']:.1f}" for r in results[key]) for key, *_ in scenarios))


if __name__ == "__main__":
    main()
