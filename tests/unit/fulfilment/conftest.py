"""Fixtures of the data map tests: the Billgenix example built once, its map copied per test."""
from pathlib import Path

import pytest

from .maps import load_generator


@pytest.fixture(scope="session")
def generator():
    return load_generator()


@pytest.fixture(scope="session")
def example_databases(generator, tmp_path_factory) -> Path:
    """The example's four databases and subjects.csv, 40 claimants (the tests only read them)."""
    out = tmp_path_factory.mktemp("billgenix") / "example"
    generator.build(out, claimants=40, seed=31)
    return out


@pytest.fixture
def example_map(generator, example_databases, tmp_path) -> Path:
    """A copy of the example's map, connected to the example databases; a test may edit it."""
    folder = tmp_path / "datamap"
    generator.write_map(folder, databases=example_databases)
    return folder
