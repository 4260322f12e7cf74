"""The schema comes only from migrations, and they run both ways on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import portal.models  # noqa: F401
from portal import db


def _tables(url):
    engine = db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _diff(url):
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    finally:
        engine.dispose()


def test_upgrade_from_empty_builds_exactly_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    db.upgrade(url)
    assert _tables(url) == set(SQLModel.metadata.tables)
    assert _diff(url) == []


def test_downgrade_and_upgrade_round_trip(database_url):
    """Runs on PostgreSQL too when PORTAL_TEST_DATABASE_URL is set (database_url is then a PG database)."""
    assert _diff(database_url) == []
    db.downgrade(database_url, "base")
    assert _tables(database_url) == set()
    db.upgrade(database_url)
    assert _tables(database_url) == set(SQLModel.metadata.tables) and _diff(database_url) == []


def test_every_step_goes_down_and_up(database_url):
    script = ScriptDirectory.from_config(db.alembic_config(database_url))
    revisions = [r.revision for r in script.walk_revisions()]  # newest first
    assert len(script.get_heads()) == 1, "migrations must form one line"
    for revision in revisions:
        down = script.get_revision(revision).down_revision or "base"
        db.downgrade(database_url, down)
        db.upgrade(database_url, revision)
    db.upgrade(database_url)
    assert _diff(database_url) == []
