"""The append-only, hash-chained audit log.

An event hashes the references of its case and inquiry (chain_version 2), never their database
ids: a retention purge deletes the rows and nulls the ids, the references stay, the chain holds.
Events recorded before references were hashed (chain_version 1) hash the ids frozen in `hashed_ids`.
"""
import hashlib
import json

from sqlalchemy import select, text
from sqlmodel import Session

from .. import clock
from ..models import AuditEvent, Inquiry, PrivacyRequest

GENESIS = "0" * 64
_CHAIN_LOCK = 7101  # PostgreSQL advisory lock id; SQLite transactions are already serialized


def _digest(prev_hash: str, event: AuditEvent) -> str:
    if event.chain_version == 1:
        request_part, inquiry_part = json.loads(event.hashed_ids or "[null,null]")
    else:
        request_part, inquiry_part = event.request_ref, event.inquiry_ref
    body = json.dumps([prev_hash, request_part, inquiry_part, event.actor, event.action, event.from_status,
                       event.to_status, event.detail, event.created_at.isoformat()], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def _reference(session: Session, model, row_id: int | None) -> str | None:
    row = session.get(model, row_id) if row_id is not None else None
    return row.reference if row is not None else None


def record(session: Session, *, action: str, actor: str, request_id: int | None = None,
           inquiry_id: int | None = None, from_status: str | None = None, to_status: str | None = None,
           detail: str | None = None, request_ref: str | None = None) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction. `request_ref` names a case whose
    row is gone (a purge); otherwise the reference is read from `request_id`."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    prev = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    event = AuditEvent(request_id=request_id, inquiry_id=inquiry_id, actor=actor, action=action, from_status=from_status,
                       to_status=to_status, detail=detail, created_at=clock.now(), prev_hash=prev or GENESIS,
                       request_ref=request_ref or _reference(session, PrivacyRequest, request_id),
                       inquiry_ref=_reference(session, Inquiry, inquiry_id), chain_version=2)
    event.hash = _digest(event.prev_hash, event)
    session.add(event)
    session.flush()
    return event


# What the walk reads of each event: plain rows, never ORM objects (the session would keep them all).
_CHAIN_COLUMNS = [AuditEvent.id, AuditEvent.prev_hash, AuditEvent.hash, AuditEvent.chain_version,
                  AuditEvent.hashed_ids, AuditEvent.request_ref, AuditEvent.inquiry_ref, AuditEvent.actor,
                  AuditEvent.action, AuditEvent.from_status, AuditEvent.to_status, AuditEvent.detail,
                  AuditEvent.created_at]
BATCH = 2000  # events fetched at a time (a server-side cursor on PostgreSQL): memory stays flat at any size


def walk(session: Session) -> tuple[int | None, int]:
    """Check the whole chain in id order, streamed: (the id of the first event whose hash or link to
    its predecessor does not hold, or None; how many events were checked)."""
    prev, count = GENESIS, 0
    rows = session.execute(select(*_CHAIN_COLUMNS).order_by(AuditEvent.id).execution_options(yield_per=BATCH))
    for row in rows:
        if row.prev_hash != prev or row.hash != _digest(prev, row):
            rows.close()
            return row.id, count
        prev, count = row.hash, count + 1
    return None, count


def first_broken_link(session: Session) -> AuditEvent | None:
    """The first event whose hash or link to its predecessor does not hold, or None."""
    broken, _count = walk(session)
    return None if broken is None else session.get(AuditEvent, broken)


def staff_actor(staff) -> str:
    """How a member of staff appears in the audit log: by id, never by name or email."""
    return f"staff:{staff.id}"


def staff_id(actor: str) -> int | None:
    """The staff id in an actor written by staff_actor, or None for anyone else."""
    kind, _sep, ident = actor.partition(":")
    return int(ident) if kind == "staff" and ident.isdigit() else None
