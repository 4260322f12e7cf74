"""Does POST /requests/new take the same time whether or not an open request of the same type
exists for the email (a duplicate is told by mail only, never on the page)?

Alternates a new request (a fresh email each time) and a duplicate (the same email as an open
request) through the WSGI app (no network), and prints the median and 90th percentile of each and
the difference of the medians. The answer is padded to REQUEST_RESPONSE_SECONDS; --no-padding sets
it to 0 to show what the padding hides. Prints figures; asserts nothing.

usage: PYTHONPATH=. .venv/bin/python benchmarks/request_timing.py [--tries 110] [--type access] [--no-padding]
"""
import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal import create_app, db  # noqa: E402

FIELDS = {"first_name": "Ana", "last_name": "Ruiz"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=110, help="requests per case")
    parser.add_argument("--type", default="access", choices=["access", "delete", "opt_out", "limit"])
    parser.add_argument("--no-padding", action="store_true")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="portal-bench-")
    url = f"sqlite:///{folder}/portal.db"
    db.upgrade(url)
    config = {"INSTANCE_PATH": folder, "DATABASE_URL": url, "MAIL_BACKGROUND_DELIVERY": False,
              "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False}
    if args.no_padding:
        config["REQUEST_RESPONSE_SECONDS"] = 0
    app = create_app(config)
    client = app.test_client()
    form = {"request_type": args.type, **FIELDS, "access_scope": "categories", "lookback": "12_months",
            "declaration": "y", "declaration_signature": "Ana Ruiz"}
    first = client.post("/requests/new", data={**form, "email": "open@example.org"})
    assert first.status_code == 303, first.status_code
    timings = {"new request": [], "duplicate": []}
    locations = set()
    for i in range(args.tries):
        for name, email in (("new request", f"new-{i}@example.org"), ("duplicate", "open@example.org")):
            start = time.perf_counter()
            resp = client.post("/requests/new", data={**form, "email": email})
            timings[name].append((time.perf_counter() - start) * 1000)
            assert resp.status_code == 303 and re.search("/requests/sent", resp.headers["Location"])
            locations.add(resp.headers["Location"])
    padding = app.config.get("REQUEST_RESPONSE_SECONDS", 0)
    print(f"POST /requests/new ({args.type}), {args.tries} requests per case, SQLite, in-process WSGI, "
          f"padding {padding} s")
    for name, values in timings.items():
        values.sort()
        print(f"  {name:12} median {statistics.median(values):7.2f} ms   p90 {values[int(len(values) * .9)]:7.2f} ms"
              f"   max {values[-1]:7.2f} ms")
    difference = statistics.median(timings["new request"]) - statistics.median(timings["duplicate"])
    print(f"  median difference, new vs duplicate: {difference:+.2f} ms; one answer for both: {len(locations) == 1}")
    app.extensions["db_engine"].dispose()


if __name__ == "__main__":
    main()
