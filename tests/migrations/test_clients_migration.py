"""0030_clients: the identity index's rows held for clients go before the one-row-per-subject rule
comes back on the way down; the business's own rows stay. SQLite and PostgreSQL."""
from sqlalchemy import text

from portal import db


def test_going_down_keeps_the_businesss_own_rows_and_drops_those_held_for_clients(database_url):
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO identity_subject (subject_key, client_key, imported_at) VALUES "
                              "('S-1', '', CURRENT_TIMESTAMP), ('S-1', 'clinic', CURRENT_TIMESTAMP)"))
        db.downgrade(database_url, "0029_key_fingerprints")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT subject_key FROM identity_subject")).scalars().all() == ["S-1"]
        db.upgrade(database_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT client_key FROM identity_subject")).scalars().all() == [""]
    finally:
        engine.dispose()
