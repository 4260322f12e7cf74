"""Fuzz every form, API and route (hypothesis) and print what came back: answers per status, server
errors and rows stored by refused requests (both should be 0), and the rate. Asserts nothing.

usage: python benchmarks/fuzz_routes.py [--examples 10000] [--database-url URL] [--seed N]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from portal import create_app, db  # noqa: E402
from tests.drp_agents import DRP_CONFIG  # noqa: E402
from tests.fuzzing import Tally, any_request, check_one, prepare  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite in a temp folder)")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/portal.db"
        db.upgrade(url)
        app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "INSTANCE_PATH": tmp, "DATABASE_URL": url,
                          "BASE_URL": "http://portal.test", "MAIL_BACKGROUND_DELIVERY": False,
                          "RATELIMIT_ENABLED": False, "CONSENT_ALLOWED_ORIGINS": ["https://www.billgenix.example"],
                          "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8192, "ARGON2_PARALLELISM": 1,
                          **DRP_CONFIG})  # DRP on: a share of the requests are signed DRP messages
        contexts, fixtures, rules = prepare(app)
        tally = Tally()

        @settings(max_examples=args.examples, deadline=None, database=None, print_blob=True,
                  suppress_health_check=list(HealthCheck))
        @given(any_request(contexts, fixtures, rules))
        def one(request):
            check_one(app, request, tally)

        if args.seed is not None:
            one = seed(args.seed)(one)
        started = time.perf_counter()
        one()
        elapsed = time.perf_counter() - started
        total = sum(tally.statuses.values())
        print(f"routes: {len(rules)}  examples: {total}  in {elapsed:.1f} s ({total / elapsed:.0f}/s)")
        print("answers: " + ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items())))
        print(f"of which DRP calls: {sum(tally.drp.values())} (" +
              ", ".join(f"{code}: {n}" for code, n in sorted(tally.drp.items())) + ")")
        server_errors = sum(n for code, n in tally.statuses.items() if code >= 500) - tally.not_ready
        if tally.not_ready:
            print(f"/readyz answered 503 {tally.not_ready} times: no worker runs here, so after "
                  "READY_MAX_WORKER_AGE_SECONDS it says so, as designed (not counted as server errors)")
        stored = [p for p in tally.problems if " stored " in p]
        print(f"server errors: {server_errors}  refused requests that stored rows: {len(stored)}")
        for problem in tally.problems[:20]:
            print("  " + problem[:400])
        app.extensions["db_engine"].dispose()
        return 1 if tally.problems else 0


if __name__ == "__main__":
    sys.exit(main())
