"""0015_indexes: the partial indexes over the open cases, on SQLite and PostgreSQL, both ways."""
from sqlalchemy import text

from portal import db

NAMES = {"ix_privacy_request_open_due", "ix_privacy_request_open_type_due", "ix_privacy_request_open_hold_due",
         "ix_privacy_request_open_manner_due"}


def _partial_indexes(url) -> dict[str, str]:
    """Each index of privacy_request with a WHERE clause: its definition, lower-cased."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'privacy_request'"
                if conn.dialect.name == "sqlite" else
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'privacy_request'")).all()
    finally:
        engine.dispose()
    return {name: (sql or "").lower() for name, sql in rows if " where " in (sql or "").lower()}


def test_the_open_case_indexes_come_and_go(database_url):
    """Runs on PostgreSQL too when PORTAL_TEST_DATABASE_URL is set."""
    found = _partial_indexes(database_url)
    assert set(found) == NAMES
    for definition in found.values():
        for status in ("awaiting_email", "in_progress", "on_hold", "verifying"):
            assert f"'{status}'" in definition
        assert "completed" not in definition and "coalesce(extended_due, response_due)" in definition
    db.downgrade(database_url, "0014_subjects")
    assert _partial_indexes(database_url) == {}
    db.upgrade(database_url)
    assert set(_partial_indexes(database_url)) == NAMES
