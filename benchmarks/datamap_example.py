"""The Billgenix example at scale: how long the generator takes to build N claimants' systems, and how
long `datamap check` then takes on them (loading the map, opening every connection, reading the schema).

    .venv/bin/python benchmarks/datamap_example.py [--claimants 1000000] [--database-url postgresql+psycopg://...]

Prints rows per table, rows/s, peak memory and the database files' sizes; asserts nothing. With
--database-url every system's tables go into that one database (they are dropped and made again).
"""
import argparse
import importlib.util
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def load_generator():
    spec = importlib.util.spec_from_file_location("billgenix_generate", REPO / "examples" / "billgenix" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claimants", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    generator = load_generator()
    folder = Path(tempfile.mkdtemp(prefix="billgenix-bench-"))
    started = time.perf_counter()
    counts = generator.build(folder / "example", claimants=args.claimants, seed=args.seed,
                             database_url=args.database_url)
    took = time.perf_counter() - started
    rows = sum(counts.values())
    print(", ".join(f"{table} {count:,}" for table, count in counts.items()))
    print(f"built {rows:,} rows for {args.claimants:,} claimants in {took:.1f} s ({rows / took:,.0f} rows/s), "
          f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    for path in sorted((folder / "example").glob("*.db")):
        print(f"  {path.name}: {path.stat().st_size / 2**20:,.0f} MiB")
    generator.write_map(folder / "datamap", databases=None if args.database_url else folder / "example",
                        database_url=args.database_url)

    from portal.config import DEFAULTS
    from portal.services.fulfilment import datamap_check, datamap_loader
    bases = {basis["code"]: basis for basis in DEFAULTS["DENIAL_BASES"]}
    started = time.perf_counter()
    loaded = datamap_loader.load(folder / "datamap")
    findings = datamap_check.check(loaded, bases=bases, policy_text=None, instance_path=folder)
    print(f"datamap check: {len(findings)} findings in {time.perf_counter() - started:.2f} s")
    for finding in findings:
        print("  " + finding.line())
    print(f"(the example stays in {folder})")


if __name__ == "__main__":
    main()
