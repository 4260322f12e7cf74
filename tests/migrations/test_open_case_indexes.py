"""0017_indexes: partial indexes over the open cases and over the answered §7101 records, on SQLite
and PostgreSQL, both ways."""
from sqlalchemy import text

from portal import db

OPEN_CASES = {"ix_privacy_request_open_status", "ix_privacy_request_open_due", "ix_privacy_request_open_type_due",
              "ix_privacy_request_open_hold_due", "ix_privacy_request_open_manner_due"}


def _partial_indexes(url, table) -> dict[str, str]:
    """Each index of `table` with a WHERE clause: its definition, lower-cased."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
                if conn.dialect.name == "sqlite" else
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"), {"t": table}).all()
    finally:
        engine.dispose()
    return {name: (sql or "").lower() for name, sql in rows if " where " in (sql or "").lower()}


def test_the_partial_indexes_come_and_go(database_url):
    """Runs on PostgreSQL too when PORTAL_TEST_DATABASE_URL is set."""
    found = _partial_indexes(database_url, "privacy_request")
    assert set(found) == OPEN_CASES
    for definition in found.values():
        for status in ("awaiting_email", "in_progress", "on_hold", "verifying"):
            assert f"'{status}'" in definition
        assert "completed" not in definition
    answered = _partial_indexes(database_url, "request_record")
    assert set(answered) == {"ix_request_record_answered"}
    assert all(f"'{s}'" in answered["ix_request_record_answered"] for s in ("completed", "denied", "partially_completed"))
    db.downgrade(database_url, "0014_subjects")
    assert _partial_indexes(database_url, "privacy_request") == {} == _partial_indexes(database_url, "request_record")
    db.upgrade(database_url)
    assert set(_partial_indexes(database_url, "privacy_request")) == OPEN_CASES
