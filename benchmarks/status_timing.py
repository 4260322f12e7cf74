"""Does POST /status take the same time whether or not the reference and email match?

Every answer is padded to STATUS_RESPONSE_SECONDS (0.25 s). Prints the median and 90th percentile of each case over alternating requests through the WSGI app
(no network), and the difference of the medians. Run: PYTHONPATH=. .venv/bin/python benchmarks/status_timing.py [N]
"""
import re
import statistics
import sys
import tempfile
import time

from portal import create_app, db


def main(n: int = 100) -> None:
    folder = tempfile.mkdtemp(prefix="portal-bench-")
    url = f"sqlite:///{folder}/portal.db"
    db.upgrade(url)
    app = create_app({"INSTANCE_PATH": folder, "DATABASE_URL": url, "MAIL_BACKGROUND_DELIVERY": False,
                      "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.post("/requests/new", data={"request_type": "opt_out", "first_name": "Ana", "last_name": "Ruiz",
                                       "email": "ana@example.org"})
    with app.app_context():
        from sqlalchemy import select

        from portal.models import PrivacyRequest
        reference = db.session().execute(select(PrivacyRequest)).scalar_one().reference
    cases = {"match": (reference, "ana@example.org"), "wrong email": (reference, "eve@example.org"),
             "unknown reference": ("PR-ZZZZ-ZZZZ", "ana@example.org")}
    timings = {name: [] for name in cases}
    for _ in range(n):
        for name, (ref, addr) in cases.items():
            start = time.perf_counter()
            resp = client.post("/status", data={"reference": ref, "email": addr})
            timings[name].append((time.perf_counter() - start) * 1000)
            assert resp.status_code == 303 and re.search("/status/sent", resp.headers["Location"])
    print(f"POST /status, {n} requests per case, SQLite, in-process WSGI")
    for name, values in timings.items():
        values.sort()
        print(f"  {name:18} median {statistics.median(values):6.2f} ms   p90 {values[int(len(values) * .9)]:6.2f} ms")
    base = statistics.median(timings["match"])
    for name in ("wrong email", "unknown reference"):
        print(f"  median difference, match vs {name}: {base - statistics.median(timings[name]):+.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
