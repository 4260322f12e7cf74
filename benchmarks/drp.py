"""Data Rights Protocol exercise requests per second, through the whole app (routing, rate limit,
signature check, validation, the case, audit, mail queued, commit), one client at a time. Prints
figures; asserts nothing.

    .venv/bin/python benchmarks/drp.py [--requests 500] [--threads 1] [--database-url URL]

Messages are signed beforehand with PyNaCl (signing is the agent's cost, not ours). Without
--database-url it uses a throwaway SQLite file; a PostgreSQL URL must name an empty database.
"""
import argparse
import base64
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nacl.signing import SigningKey

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app, db  # noqa: E402
from portal.services.drp import exchange as drp  # noqa: E402

BUSINESS = "BENCH_BUSINESS"


def messages(key: SigningKey, agent_id: str, n: int, exercise: str) -> list[bytes]:
    now = datetime.now(timezone.utc)
    out = []
    tag = exercise.replace(":", "-").replace("_", "-")
    for n_ in range(n):
        i = f"{tag}-{n_}"
        claims = {"agent-id": agent_id, "business-id": BUSINESS, "issued-at": now.isoformat(),
                  "expires-at": (now + timedelta(minutes=14)).isoformat(), "drp.version": "1.0",
                  "exercise": exercise, "regime": "ccpa", "name": f"Person {i}",
                  "email": f"person{i}@example.org", "email_verified": True, "agent-request-id": f"bench-{i}"}
        out.append(base64.b64encode(key.sign(json.dumps(claims).encode())))
    return out


def run(app, token: str, bodies: list[bytes], threads: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []
    chunks = [bodies[i::threads] for i in range(threads)]

    def worker(chunk):
        client = app.test_client()
        mine = []
        for body in chunk:
            start = time.perf_counter()
            resp = client.post("/drp/v1/data-rights-request", data=body, content_type="text/plain",
                               headers={"Authorization": f"Bearer {token}"})
            mine.append(time.perf_counter() - start)
            if resp.status_code != 200:
                failures.append(f"exercise answered {resp.status_code}: {resp.get_data(as_text=True)}")
                return
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if failures:
        raise SystemExit(failures[0])
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="drp-bench-")
    app = create_app({"INSTANCE_PATH": tmp, "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/portal.db",
                      "MAIL_BACKGROUND_DELIVERY": False, "DRP_ENABLED": True, "DRP_BUSINESS_ID": BUSINESS,
                      "RATELIMIT_DRP": "1000000 per minute"})
    db.upgrade(app.config["DATABASE_URL"])
    key = SigningKey.generate()
    with app.app_context():
        drp.add_agent(db.session(), agent_id="BENCH_AGENT", verify_key=base64.b64encode(bytes(key.verify_key)).decode())
    now = datetime.now(timezone.utc)
    pairing = base64.b64encode(key.sign(json.dumps({
        "agent-id": "BENCH_AGENT", "business-id": BUSINESS, "issued-at": now.isoformat(),
        "expires-at": (now + timedelta(minutes=5)).isoformat(), "drp.version": "1.0"}).encode()))
    token = app.test_client().post("/drp/v1/agent/BENCH_AGENT", data=pairing).get_json()["token"]

    print(f"database: {app.extensions['db_engine'].dialect.name}; {args.requests} requests per kind; "
          f"{args.threads} client thread(s)")
    kinds = ("sale:opt-out", "deletion")
    batches = {kind: messages(key, "BENCH_AGENT", args.requests + 50, kind) for kind in kinds}
    for kind in kinds:  # warm-up: templates compiled, caches and the database file grown
        run(app, token, batches[kind][:50], 1)
    for exercise in kinds:
        start = time.perf_counter()
        latencies = run(app, token, batches[exercise][50:], args.threads)
        elapsed = time.perf_counter() - start
        latencies.sort()
        print(f"{exercise:<14} {len(latencies) / elapsed:8.1f} exercise requests/s   "
              f"median {statistics.median(latencies) * 1000:6.2f} ms   "
              f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:6.2f} ms")

    verify_key = key.verify_key
    sample = base64.b64decode(messages(key, "BENCH_AGENT", 1, "deletion")[0])
    start = time.perf_counter()
    for _ in range(2000):
        verify_key.verify(sample)
    print(f"signature check alone: {2000 / (time.perf_counter() - start):8.0f} verifications/s")
    app.extensions["db_engine"].dispose()


if __name__ == "__main__":
    main()
