"""How long a `flask --app portal` command takes to start and finish: `--help` (the app is built to
list its commands) and `subjects status` (one read of the database), each run several times in a
fresh process with its bytecode cached, as an operator's shell runs them (`--no-bytecode-cache`:
compiled every time, as in a container with PYTHONDONTWRITEBYTECODE). Goal: under 2 s each.

    .venv/bin/python benchmarks/cli_start.py [--runs 5]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLASK = Path(sys.executable).with_name("flask")


def timed(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([str(FLASK), "--app", "portal", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="as with PYTHONDONTWRITEBYTECODE=1 on a fresh checkout: every module compiled each time")
    args = parser.parse_args()
    instance = tempfile.mkdtemp(prefix="cli-start-")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if args.no_bytecode_cache:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        for cached in (ROOT / "portal").rglob("__pycache__"):
            for pyc in cached.glob("*.pyc"):
                pyc.unlink()
    env["PORTAL_INSTANCE_PATH"] = instance
    subprocess.run([str(FLASK), "--app", "portal", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # also writes the bytecode caches
    for command in (["--help"], ["subjects", "status"]):
        times = [timed(command, env) for _ in range(args.runs)]
        print(f"flask --app portal {' '.join(command):<16} median {statistics.median(times):.2f} s, "
              f"best {min(times):.2f} s, worst {max(times):.2f} s ({args.runs} runs; goal < 2 s)")


if __name__ == "__main__":
    main()
