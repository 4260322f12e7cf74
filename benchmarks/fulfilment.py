"""The connectors at scale: access for one person and erasure (preview, execute, post-check) for one
person, on the Billgenix example at 10,000 and 1,000,000 claimants.

    .venv/bin/python benchmarks/fulfilment.py [--claimants 10000 1000000] [--out /tmp/fulfilment-bench]
                                              [--reuse] [--repeat 5] [--database-url URL]

Two claimants from the middle of the example on, both on the marketing list with clicks (so the
marketing erasure deletes rows): the first is timed, the second measured under tracemalloc (peak
Python memory; it slows allocation, so it is never timed). Access is timed `--repeat` times after a
cold run (min and median: the host's other load shows in the median); each erasure once, as it
changes the rows. The process's max RSS is shown too. The target is under a second and flat from
10k to 1M. The example's generator indexes every identity and reference column
(claimants.subject_id, claims.claimant_id, bills.claim_id, payments.bill_id, campaign_clicks.email,
visitors.email, page_views.cookie_id and .email): without them each step is a full scan. With
--database-url every system's tables go into that one database (PostgreSQL or MariaDB,
mysql+pymysql://...; dropped and made again per size unless --reuse).
--reuse keeps what was built in --out (SQLite files, or the database's tables with its subjects.csv).
"""
import argparse
import csv
import importlib.util
import resource
import statistics
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


def _report(label: str, times: list[float], peak_kib: float | None) -> None:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    spread = f"min {min(times) * 1000:7.1f} ms, median {statistics.median(times) * 1000:7.1f} ms of {len(times)}" \
        if len(times) > 1 else f"{times[0] * 1000:7.1f} ms"
    peak = f"{peak_kib:8.0f}" if peak_kib is not None else "       -"
    print(f"  {label:<44} {spread:<38} peak {peak} KiB   process max RSS {rss:6.0f} MiB")


def timed(step) -> tuple[object, float]:
    started = time.perf_counter()
    result = step()
    return result, time.perf_counter() - started


def traced_peak(step) -> float:
    """The step's peak Python memory (tracemalloc; it slows allocation, so never timed)."""
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def people(out: Path, claimants: int, count: int = 400) -> list[dict]:
    """Claimants from the middle of subjects.csv on (read without loading the file)."""
    first = max(1, claimants // 2)
    found = []
    with open(out / "subjects.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if int(row["subject_id"][4:]) >= first:
                found.append(row)
                if len(found) == count:
                    break
    return found


def subscribed(engine, candidates: list[dict]) -> list[dict]:
    """Those of the candidates on the marketing list with campaign clicks (their erasure deletes rows)."""
    from sqlalchemy import bindparam, text

    query = text("SELECT DISTINCT email FROM campaign_clicks WHERE email IN :emails").bindparams(
        bindparam("emails", expanding=True))
    with engine.connect() as connection:
        emails = {r[0] for r in connection.execute(query, {"emails": [c["email"] for c in candidates]})}
    return [c for c in candidates if c["email"] in emails]


def run(size: int, out: Path, database_url: str | None, reuse: bool, repeat: int) -> None:
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

    def engine(dataset, write=False):
        system = datamap.system_for(dataset)
        return connections.engine_for(connections.resolve(system.write_connection if write else system.connection,
                                                          instance_path=folder))

    # Two claimants on the marketing list not erased yet (a --reuse run erased earlier ones).
    candidates = subscribed(engine("billgenix_marketing"), people(folder, size))
    timed_one, traced_one = candidates[0], candidates[1]
    backend = make_url(database_url).get_backend_name() if database_url else "sqlite"
    print(f"{size} claimants ({backend}), people {timed_one['subject_id']} (timed), "
          f"{traced_one['subject_id']} (memory):")

    def access(chosen):
        seeds = {"subject_id": chosen["subject_id"], "email": chosen["email"]}
        rows = 0
        for dataset in ("billgenix_claims", "billgenix_marketing", "billgenix_web"):
            with engine(dataset).connect() as connection:
                result = traversal.collect_access(datamap=datamap, dataset=dataset, seeds=seeds, connection=connection)
            rows += sum(len(c.rows) for c in result.collections)
        return rows

    rows, cold = timed(lambda: access(timed_one))
    _report("access, three systems (cold: first connect)", [cold], None)
    times = [timed(lambda: access(timed_one))[1] for _ in range(repeat)]
    _report("access, three systems", times, traced_peak(lambda: access(traced_one)))
    print(f"    ({rows} rows reached)")
    key = hashing.anonymize_key("benchmark")
    for dataset in ("billgenix_claims", "billgenix_marketing"):
        def erase(chosen, dataset=dataset):
            seeds = {"subject_id": chosen["subject_id"], "email": chosen["email"]}
            with engine(dataset).connect() as connection:
                preview = erasure.preview_erasure(datamap=datamap, dataset=dataset, seeds=seeds, connection=connection)
            with engine(dataset, write=True).connect() as connection:
                return erasure.execute_erasure(datamap=datamap, preview=preview, seeds=seeds, connection=connection,
                                               instance_path=folder, key=key)
        outcome, elapsed = timed(lambda: erase(timed_one))
        _report(f"erasure {dataset} (preview+execute+check)", [elapsed], traced_peak(lambda: erase(traced_one)))
        touched = sum(c.rows_updated + c.rows_deleted for c in outcome.collections)
        print(f"    ({'ok' if outcome.ok else outcome.failure}, {touched} rows touched)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claimants", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=Path("/tmp/fulfilment-bench"))
    parser.add_argument("--database-url")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of access (min and median shown)")
    args = parser.parse_args()
    for size in args.claimants:
        run(size, args.out, args.database_url, args.reuse, args.repeat)


if __name__ == "__main__":
    main()
