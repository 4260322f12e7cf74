"""The append-only, hash-chained audit log."""
import hashlib
import json

from sqlalchemy import select, text
from sqlmodel import Session

from .. import clock
from ..models import AuditEvent

GENESIS = "0" * 64
_CHAIN_LOCK = 7101  # PostgreSQL advisory lock id; SQLite transactions are already serialized


def _digest(prev_hash: str, event: AuditEvent) -> str:
    body = json.dumps([prev_hash, event.request_id, event.inquiry_id, event.actor, event.action, event.from_status,
                       event.to_status, event.detail, event.created_at.isoformat()], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def record(session: Session, *, action: str, actor: str, request_id: int | None = None,
           inquiry_id: int | None = None, from_status: str | None = None, to_status: str | None = None,
           detail: str | None = None) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    prev = session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    event = AuditEvent(request_id=request_id, inquiry_id=inquiry_id, actor=actor, action=action, from_status=from_status,
                       to_status=to_status, detail=detail, created_at=clock.now(), prev_hash=prev or GENESIS)
    event.hash = _digest(event.prev_hash, event)
    session.add(event)
    session.flush()
    return event


def first_broken_link(session: Session) -> AuditEvent | None:
    """The first event whose hash or link to its predecessor does not hold, or None."""
    prev = GENESIS
    for event in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        if event.prev_hash != prev or event.hash != _digest(prev, event):
            return event
        prev = event.hash
    return None


def staff_actor(staff) -> str:
    """How a member of staff appears in the audit log: by id, never by name or email."""
    return f"staff:{staff.id}"


def staff_id(actor: str) -> int | None:
    """The staff id in an actor written by staff_actor, or None for anyone else."""
    kind, _sep, ident = actor.partition(":")
    return int(ident) if kind == "staff" and ident.isdigit() else None
