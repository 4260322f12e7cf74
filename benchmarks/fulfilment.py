"""The connectors at scale: access for one person and erasure (preview, execute, post-check) for one
person, on the Billgenix example at 10,000 and 1,000,000 claimants.

    .venv/bin/python benchmarks/fulfilment.py [--claimants 10000 1000000] [--out /tmp/fulfilment-bench]
                                              [--reuse] [--database-url postgresql+psycopg://...]

Prints, per size, the time of each step, the peak Python memory (tracemalloc) of access and the
process's max RSS; the target is under a
second and flat from 10k to 1M. The example's generator indexes every identity and reference column
(claimants.subject_id, claims.claimant_id, bills.claim_id, payments.bill_id, campaign_clicks.email,
visitors.email, page_views.cookie_id and .email): without them each step is a full scan. With
--database-url every system's tables go into that one database (PostgreSQL or MariaDB; dropped and made
again per size).
--reuse keeps SQLite files already built in --out.
"""
import argparse
import csv
import importlib.util
import resource
import sys
import time
import tracemalloc
from pathlib import Path

from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def load_generator():
    spec = importlib.util.spec_from_file_location("billgenix_generate", REPO / "examples" / "billgenix" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(label: str, step, *, memory: bool = True):
    """Time a step (tracemalloc off: it slows allocation several-fold), then, where the step can run
    twice, its peak Python memory in a second run under tracemalloc."""
    started = time.perf_counter()
    result = step()
    elapsed = time.perf_counter() - started
    peak = "       -"
    if memory:
        tracemalloc.start()
        step()
        peak = f"{tracemalloc.get_traced_memory()[1] / 1024:8.0f}"
        tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {label:<52} {elapsed * 1000:8.1f} ms   peak {peak} KiB   process max RSS {rss:6.0f} MiB")
    return result


def person(out: Path, claimants: int) -> dict:
    """The claimant in the middle of subjects.csv (read without loading the file)."""
    wanted = f"BGX-{max(1, claimants // 2):07d}"
    with open(out / "subjects.csv", newline="", encoding="utf-8") as f:
        return next(row for row in csv.DictReader(f) if row["subject_id"] == wanted)


def run(size: int, out: Path, database_url: str | None, reuse: bool) -> None:
    from portal.services.fulfilment import connections, datamap_loader
    from portal.services.fulfilment.connectors import erasure, hashing, traversal

    generator = load_generator()
    folder = out / f"{size}"
    if not (reuse and (folder / "subjects.csv").exists()):
        started = time.perf_counter()
        generator.build(folder, claimants=size, seed=31, database_url=database_url)
        print(f"built {size} claimants in {time.perf_counter() - started:.0f} s")
    generator.write_map(folder / "map", databases=None if database_url else folder, database_url=database_url)
    datamap = datamap_loader.load(folder / "map").datamap
    chosen = person(folder, size)
    seeds = {"subject_id": chosen["subject_id"], "email": chosen["email"]}
    backend = make_url(database_url).get_backend_name() if database_url else "sqlite"
    print(f"{size} claimants ({backend}), person {chosen['subject_id']}:")

    def engine(dataset, write=False):
        system = datamap.system_for(dataset)
        return connections.engine_for(connections.resolve(system.write_connection if write else system.connection,
                                                          instance_path=folder))

    def access():
        rows = 0
        for dataset in ("billgenix_claims", "billgenix_marketing", "billgenix_web"):
            with engine(dataset).connect() as connection:
                result = traversal.collect_access(datamap=datamap, dataset=dataset, seeds=seeds, connection=connection)
            rows += sum(len(c.rows) for c in result.collections)
        return rows

    measure("access, three systems (cold: first connect, imports)", access, memory=False)
    rows = measure("access, three systems", access)
    print(f"  ({rows} rows reached)")
    key = hashing.anonymize_key("benchmark")
    for dataset in ("billgenix_claims", "billgenix_marketing"):
        def erase(dataset=dataset):
            with engine(dataset).connect() as connection:
                preview = erasure.preview_erasure(datamap=datamap, dataset=dataset, seeds=seeds, connection=connection)
            with engine(dataset, write=True).connect() as connection:
                return erasure.execute_erasure(datamap=datamap, preview=preview, seeds=seeds, connection=connection,
                                               instance_path=folder, key=key)
        outcome = measure(f"erasure {dataset} (preview+execute+check)", erase, memory=False)
        touched = sum(c.rows_updated + c.rows_deleted for c in outcome.collections)
        print(f"  ({'ok' if outcome.ok else outcome.failure}, {touched} rows touched)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claimants", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=Path("/tmp/fulfilment-bench"))
    parser.add_argument("--database-url")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    for size in args.claimants:
        run(size, args.out, args.database_url, args.reuse)


if __name__ == "__main__":
    main()
