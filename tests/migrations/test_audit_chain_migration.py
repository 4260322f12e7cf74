"""An install whose audit chain hashed database ids migrates without breaking it, and the chain then
survives a purge that deletes the case (the ids go NULL, the frozen ids and references stay)."""
import hashlib
import json
from datetime import datetime, timezone

from sqlalchemy import text
from sqlmodel import Session

from portal import db
from portal.models import RequestRecord
from portal.services import audit

AT = datetime(2026, 6, 1, 17, 0, tzinfo=timezone.utc)


def _v1_digest(prev, request_id, inquiry_id, actor, action, to_status, created_at):
    """The digest as the portal computed it before migration 0010."""
    body = json.dumps([prev, request_id, inquiry_id, actor, action, None, to_status, None, created_at],
                      separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def test_an_existing_chain_migrates_and_survives_a_purge(database_url):
    db.downgrade(database_url, "0009_inquiry_attachment")
    engine = db.make_engine(database_url)
    stamp = AT.isoformat()
    stored = AT if engine.dialect.name == "postgresql" else AT.replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO privacy_request (id, reference, request_type, status, manner, language, first_name, last_name, "
            "email, received_at, acknowledgement_due, response_due, closed_at, version, created_at, updated_at) VALUES "
            "(41, 'PR-AAAA-BBBB', 'delete', 'completed', 'web', 'en', 'Old', 'Install', 'old@example.org', :at, "
            "'2026-06-12', '2026-07-16', :at, 3, :at, :at)"), {"at": stored})
        prev = audit.GENESIS
        for request_id, action, to_status in [(41, "submitted", "awaiting_email"), (None, "staff_login", None),
                                              (41, "completed", "completed")]:
            digest = _v1_digest(prev, request_id, None, "system", action, to_status, stamp)
            conn.execute(text("INSERT INTO audit_event (request_id, actor, action, to_status, created_at, prev_hash, "
                              "hash) VALUES (:rid, 'system', :action, :to, :at, :prev, :hash)"),
                         {"rid": request_id, "action": action, "to": to_status, "at": stored,
                          "prev": prev, "hash": digest})
            prev = digest
    engine.dispose()

    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    try:
        with Session(engine) as session:
            assert audit.first_broken_link(session) is None
            events = session.execute(text("SELECT chain_version, request_ref, hashed_ids FROM audit_event ORDER BY id")).all()
            assert [tuple(e) for e in events] == [(1, "PR-AAAA-BBBB", "[41,null]"), (1, None, "[null,null]"),
                                                  (1, "PR-AAAA-BBBB", "[41,null]")]
            record = session.execute(text("SELECT id FROM request_record")).scalar_one()
            record = session.get(RequestRecord, record)
            assert (record.reference, record.request_type, record.status) == ("PR-AAAA-BBBB", "delete", "completed")
            # A purge deletes the case: the links go NULL, the chain holds, and it goes on growing.
            session.execute(text("DELETE FROM privacy_request WHERE id = 41"))
            session.commit()
            assert session.execute(text("SELECT count(*) FROM audit_event WHERE request_id IS NOT NULL")).scalar() == 0
            audit.record(session, action="retention_purge", actor="system", detail="{}")
            audit.record(session, action="checked", actor="system", request_ref="PR-AAAA-BBBB")
            session.commit()
            assert audit.first_broken_link(session) is None
            # Tampering with a frozen id or a reference is still caught.
            first, last = session.execute(text("SELECT min(id), max(id) FROM audit_event")).one()
            session.execute(text("UPDATE audit_event SET hashed_ids = '[42,null]' WHERE id = :id"), {"id": first})
            assert audit.first_broken_link(session).id == first
            session.rollback()
            session.execute(text("UPDATE audit_event SET request_ref = 'PR-ZZZZ-ZZZZ' WHERE id = :id"), {"id": last})
            assert audit.first_broken_link(session).id == last
            session.rollback()
    finally:
        engine.dispose()
