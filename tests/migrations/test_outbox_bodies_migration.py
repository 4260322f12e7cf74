"""Migration 0010: the bodies of mail sent or failed before it are emptied; pending mail keeps them."""
from sqlalchemy import create_engine, text

from portal import db as portal_db

ROWS = [("<a@x>", "sent"), ("<b@x>", "failed"), ("<c@x>", "pending")]


def test_upgrade_empties_the_bodies_of_mail_no_longer_pending(database_url):
    portal_db.downgrade(database_url, "0009_inquiry_attachment")
    engine = create_engine(database_url)
    with engine.begin() as conn:
        for message_id, status in ROWS:
            conn.execute(text(
                "INSERT INTO outbox_message (message_id, template, to_addr, subject, text_body, html_body, status, "
                "attempts, next_attempt_at, created_at) VALUES (:m, 'verify', 'ana@example.org', 'Confirm', "
                "'http://portal.test/verify/TOKEN', '<a href=\"http://portal.test/verify/TOKEN\">', :s, 1, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"m": message_id, "s": status})
    portal_db.upgrade(database_url)
    with engine.connect() as conn:
        bodies = dict(conn.execute(text("SELECT status, text_body || html_body FROM outbox_message")).all())
    assert bodies["sent"] == "" and bodies["failed"] == "" and "TOKEN" in bodies["pending"]
    portal_db.downgrade(database_url, "0009_inquiry_attachment")  # reversible (nothing to restore)
    portal_db.upgrade(database_url)
    engine.dispose()
