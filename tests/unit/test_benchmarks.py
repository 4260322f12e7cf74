"""Every benchmark script still imports: they print figures on demand, so nothing else runs them."""
import ast
import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
BENCHMARKS = sorted(BENCHMARKS_DIR.glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_the_benchmark_imports(script):
    spec = importlib.util.spec_from_file_location(f"benchmark_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # raises on a broken import; the figures are printed only under __main__


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_what_the_benchmark_imports_when_it_runs_exists(script):
    """The portal's names a benchmark imports inside its functions (after it has set the environment)."""
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "portal":
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), \
                    f"{script.name}: from {node.module} import {alias.name}"


def test_the_queue_benchmark_runs_on_a_database_the_portal_has_migrated(database_url):
    """On PostgreSQL it empties the database it is given: a migrated one holds functions and
    triggers as well as tables (dropping the tables alone left them, and the migrations then failed)."""
    command = [sys.executable, str(BENCHMARKS_DIR / "staff_queue.py"), "--requests", "300",
               "--database-url", database_url]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "300 requests on" in run.stdout
    assert re.search(r"audit verify .* \d+ events, intact", run.stdout), run.stdout[-2000:]
