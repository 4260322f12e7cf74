"""The schema comes only from migrations, and they run both ways on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
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


def test_metrics_months_go_up_and_down_beside_the_stored_years(database_url):
    """0020 adds metrics_month beside 0019's annual_metrics, and takes it away again, the years kept."""
    db.downgrade(database_url, "0019_annual_metrics")
    assert "metrics_month" not in _tables(database_url)
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO annual_metrics (year, figures, computed_at) "
                              "VALUES (2025, '{}', '2026-01-02 00:00:00+00:00')"))
        db.upgrade(database_url, "0020_metrics_months")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO metrics_month (year, month, figures, computed_at) "
                              "VALUES (2026, 1, '{}', '2026-02-01 09:00:00+00:00')"))
        db.downgrade(database_url, "0019_annual_metrics")
        assert "metrics_month" not in _tables(database_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT year FROM annual_metrics")).scalars().all() == [2025]
    finally:
        engine.dispose()
    db.upgrade(database_url)
    assert _diff(database_url) == []
