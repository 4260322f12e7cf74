"""Identity index at scale: import N generated rows (streamed, bounded memory) and match 10,000
requests. Prints rows/s, matches/s and peak memory; asserts nothing.

    .venv/bin/python benchmarks/subjects.py [--rows 1000000] [--matches 10000] [--database-url URL]
"""
import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from people import COLUMNS, csv_line, genuine_request, person  # noqa: E402

from portal import create_app, db  # noqa: E402
from portal.services.identity import subjects  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--matches", type=int, default=10_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="subjects-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    db.upgrade(url)
    app = create_app({"INSTANCE_PATH": str(tmp), "DATABASE_URL": url, "MAIL_BACKGROUND_DELIVERY": False})
    csv_path = tmp / "people.csv"
    rng = random.Random(11)
    start = time.perf_counter()
    with open(csv_path, "w", encoding="utf-8") as f:
        f.write(",".join(COLUMNS) + "\n")
        for i in range(args.rows):
            f.write(csv_line(person(rng, i)))
    print(f"generated {args.rows} rows ({csv_path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f} s")
    before = peak_mib()
    with app.app_context():
        session = db.session()
        start = time.perf_counter()
        with open(csv_path, "rb") as stream:
            summary = subjects.import_csv(session, stream=stream)
        took = time.perf_counter() - start
        print(f"imported {summary.rows_imported} rows, rejected {len(summary.rejections)}, in {took:.1f} s: "
              f"{summary.rows_imported / took:,.0f} rows/s on {session.get_bind().dialect.name}")
        print(f"peak memory (max RSS) {peak_mib():.0f} MiB (before the import {before:.0f} MiB)")
        rng = random.Random(12)
        picks = [rng.randrange(args.rows) for _ in range(args.matches)]
        wanted = set(picks)
        rows = {}
        with open(csv_path, encoding="utf-8") as f:
            next(f)

            for i, row in enumerate(csv.reader(f)):
                if i in wanted:
                    rows[i] = dict(zip(COLUMNS, row))
        requests = [genuine_request(rng, rows[i]) for i in picks]
        start = time.perf_counter()
        found = 0
        for values in requests:
            given, _bad = subjects.hashes(values)
            if subjects.best_match(session, given).subject_key is not None:
                found += 1
            session.rollback()
        took = time.perf_counter() - start
        print(f"matched {args.matches} requests in {took:.1f} s: {args.matches / took:,.0f} matches/s "
              f"({found} found a subject)")
        print(f"peak memory (max RSS) {peak_mib():.0f} MiB")


if __name__ == "__main__":
    main()
