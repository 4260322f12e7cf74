"""Fixtures of the connector tests: the Billgenix example per test (its files copied, so a test may
erase), on SQLite; when PORTAL_TEST_DATABASE_URL names a server, on a PostgreSQL database of its own;
and on a MariaDB database of its own at PORTAL_TEST_MARIADB_URL (scripts/test-mariadb.sh). Without a
MariaDB server those tests skip on a developer's machine and fail in CI."""
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from portal.services.fulfilment import connections, datamap_loader
from portal.services.fulfilment.datamap import DataMap

from ....conftest import PG_URL

MARIADB_URL = os.environ.get("PORTAL_TEST_MARIADB_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not PG_URL, reason="no PostgreSQL")),
            "mariadb"]


@dataclass
class Example:
    """The example's systems built for one test: the loaded map and engines to read and write each."""

    datamap: DataMap
    folder: Path
    backend: str

    def engine(self, dataset: str, *, write: bool = False) -> Engine:
        system = self.datamap.system_for(dataset)
        spec = system.write_connection if write else system.connection
        return connections.engine_for(connections.resolve(spec, instance_path=self.folder))

    def write_url(self, dataset: str):
        return connections.resolve(self.datamap.system_for(dataset).write_connection, instance_path=self.folder)


def pg_database():
    """A new, empty PostgreSQL database on the test server; yields its URL, then drops it."""
    name = f"connectors_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def mariadb_database():
    """A new, empty MariaDB database on the test server; yields its URL, then drops it. Without
    PORTAL_TEST_MARIADB_URL: a skip, or a failure in CI (where .ci/run starts the server)."""
    if not MARIADB_URL:
        message = "no MariaDB (PORTAL_TEST_MARIADB_URL: eval \"$(scripts/test-mariadb.sh start)\")"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"connectors_{uuid.uuid4().hex[:10]}"
    admin = create_engine(MARIADB_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        yield make_url(MARIADB_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture
def mariadb_url():
    yield from mariadb_database()


@pytest.fixture
def pg_url():
    if not PG_URL:
        pytest.skip("no PostgreSQL (PORTAL_TEST_DATABASE_URL)")
    yield from pg_database()


@pytest.fixture(params=BACKENDS)
def example(request, generator, example_databases, tmp_path) -> Example:
    """The Billgenix example (40 claimants) with its map, on the parametrized backend."""
    folder = tmp_path / "datamap"
    if request.param == "sqlite":
        databases = tmp_path / "example"
        shutil.copytree(example_databases, databases)
        generator.write_map(folder, databases=databases)
        yield Example(datamap_loader.load(folder).datamap, folder, "sqlite")
        return
    for url in pg_database() if request.param == "postgresql" else mariadb_database():
        generator.build(tmp_path / "server", claimants=40, seed=31, database_url=url)
        generator.write_map(folder, database_url=url)
        yield Example(datamap_loader.load(folder).datamap, folder, request.param)
