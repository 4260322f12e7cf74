"""Data Rights Protocol 1.0: authorized-agent services pair with the portal, send requests machine to
machine, follow them and revoke them. Every call is audited (never its token or signature).

A DRP request is a normal case in the same queue (manner `drp`), with the same deadlines, mail
and audit; the protocol side (the agent, its ids, the claims) lives in DrpRequest. The signed
messages themselves (opening, envelope, claims) are messages.py's; every one, revoke included, must
be made out to this business and be within its time window, and a pairing message is accepted once.
"""
import base64
import binascii
import hashlib
import logging
import re
import secrets
import uuid
from datetime import datetime

from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import VerifyKey
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...lifecycle import VERIFYING, WITHDRAWN
from ...models import AuditEvent, DrpAgent, DrpRequest, PrivacyRequest
from .. import audit
from ..cases import submission as request_service
from ..cases import verification
from ..cases.submission import NewRequest
from . import status as drp_status
from .messages import (  # noqa: F401  (split_name and Signed: the service's names, as before messages.py)
    EXERCISES,
    VERIFIED_FLAGS,
    BadRequest,
    Exercise,
    NotFound,
    Refused,
    Signed,
    check_envelope,
    drp_version,
    open_signed,
    parse_exercise,
    postal_code,
    replay_window,
    revoke_reason,
    split_name,
)

log = logging.getLogger(__name__)

MANNER = "drp"
AGENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class AgentError(Exception):
    """An operator's agent command that cannot be done (unknown agent, bad key)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor(agent: DrpAgent | None) -> str:
    """How an agent appears in the audit log."""
    return f"drp:{agent.agent_id}" if agent else "drp:unknown"


# ---- authentication --------------------------------------------------------------------------

def active_agent(session: Session, agent_id: str, *, lock: bool = False) -> DrpAgent | None:
    """The registered agent of this id; `lock`: its row locked until the transaction ends
    (PostgreSQL; SQLite's write transactions are one at a time already), so two pairings of one
    agent are decided one after the other."""
    if not AGENT_ID.fullmatch(agent_id or ""):
        return None
    query = select(DrpAgent).where(DrpAgent.agent_id == agent_id, DrpAgent.removed_at.is_(None))
    return session.execute(query.with_for_update() if lock else query).scalar()


def agent_for_token(session: Session, token: str | None) -> DrpAgent | None:
    """The agent whose current bearer token this is (looked up by its hash), or None."""
    if not token or len(token) > 200:
        return None
    return session.execute(select(DrpAgent).where(DrpAgent.token_hash == hash_token(token),
                                                  DrpAgent.removed_at.is_(None))).scalar()


def _refuse(session: Session, exc: Exception, *, agent: DrpAgent | None, call: str,
            request_id: int | None = None) -> None:
    """Put a refused call on record (its reason; never the token or signature) and commit that alone."""
    session.rollback()
    audit.record(session, action=f"drp_{call}_refused", actor=actor(agent), request_id=request_id,
                 detail=str(exc)[:300])
    session.commit()
    log.info("DRP %s refused for %s: %s", call, actor(agent), exc)


def _authenticated(session: Session, token: str | None, *, call: str) -> DrpAgent:
    agent = agent_for_token(session, token)
    if agent is None:
        exc = Refused("The bearer token is missing, unknown or revoked.")
        _refuse(session, exc, agent=None, call=call)
        raise exc
    return agent


# ---- the endpoints ---------------------------------------------------------------------------

@atomic
def pair(session: Session, *, agent_id: str, body: bytes, now: datetime | None = None) -> dict:
    """Pairwise key setup (§2.05): a fresh bearer token for a registered agent's signed message;
    it replaces the agent's previous token. Refused for any failure, and for a message that was
    accepted before (a replay within its time window would otherwise mint a token for whoever sent it)."""
    now = now or clock.now()
    agent = active_agent(session, agent_id, lock=True)
    try:
        if agent is None:
            raise Refused("The agent-id is not registered.")
        signed = open_signed(body, agent.verify_key)
        check_envelope(signed.claims, agent=agent, now=now)
        drp_version(signed.claims)
        if _paired_with(session, agent=agent, digest=signed.digest, since=now - replay_window()):
            raise Refused("This pairing message was used already: sign a new one.")
    except (Refused, BadRequest) as exc:
        _refuse(session, exc, agent=agent, call="pair")
        raise Refused(str(exc)) from None
    token = secrets.token_urlsafe(32)
    agent.token_hash, agent.token_issued_at = hash_token(token), now
    session.add(agent)
    # The message's hash (it holds no personal data) marks it used: see _paired_with.
    audit.record(session, action="drp_agent_paired", actor=actor(agent), detail=f"message {signed.digest}")
    session.commit()
    return {"agent-id": agent.agent_id, "token": token}


_SCAN_BATCH = 500


def _paired_with(session: Session, *, agent: DrpAgent, digest: str, since: datetime) -> bool:
    """Whether this agent paired with this very message since `since`: read from the audit log,
    newest first, only as far back as `since` (the events of the last quarter hour or so)."""
    marker, who, below = f"message {digest}", actor(agent), None
    while True:
        query = select(AuditEvent.id, AuditEvent.action, AuditEvent.actor, AuditEvent.detail, AuditEvent.created_at) \
            .order_by(AuditEvent.id.desc()).limit(_SCAN_BATCH)
        if below is not None:
            query = query.where(AuditEvent.id < below)
        rows = session.execute(query).all()
        for event_id, action, by, detail, created_at in rows:
            if created_at < since:
                return False
            if action == "drp_agent_paired" and by == who and detail == marker:
                return True
            below = event_id
        if len(rows) < _SCAN_BATCH:
            return False


@atomic
def agent_info(session: Session, *, token: str | None, agent_id: str) -> dict:
    """§2.06: `{}` when the token is this agent's; Refused otherwise."""
    agent = _authenticated(session, token, call="agent_info")
    if agent.agent_id != agent_id:
        exc = Refused("The bearer token belongs to another agent.")
        _refuse(session, exc, agent=agent, call="agent_info")
        raise exc
    audit.record(session, action="drp_agent_checked", actor=actor(agent))
    session.commit()
    return {}


@atomic
def exercise(session: Session, *, token: str | None, body: bytes, now: datetime | None = None) -> dict:
    """§2.01: open a case for a signed exercise request and answer with its status object. The same
    message sent again (or the same agent-request-id) answers with the request already made."""
    now = now or clock.now()
    agent = _authenticated(session, token, call="exercise")
    try:
        signed = open_signed(body, agent.verify_key)
        check_envelope(signed.claims, agent=agent, now=now)
        ex = parse_exercise(signed.claims)
    except (Refused, BadRequest) as exc:
        _refuse(session, exc, agent=agent, call="exercise")
        raise
    existing = _earlier(session, agent=agent, digest=signed.digest, agent_request_id=ex.agent_request_id)
    if existing is not None:
        return _repeat(session, agent, existing)
    req = _open_case(session, agent=agent, ex=ex, now=now)
    drp = DrpRequest(request_id=req.id, request_uuid=str(uuid.uuid4()), agent_pk=agent.id,
                     agent_request_id=ex.agent_request_id, message_digest=signed.digest, exercise=ex.exercise,
                     regime=ex.regime, drp_version=ex.drp_version, status_callback=ex.status_callback,
                     claims=ex.claims, created_at=now)
    session.add(drp)
    audit.record(session, action="drp_exercise", actor=actor(agent), request_id=req.id,
                 detail=f"exercise={ex.exercise}; regime={ex.regime or 'none'}; "
                        f"verified={','.join(f for f in VERIFIED_FLAGS if ex.claims.get(f) is True) or 'none'}")
    try:
        session.commit()
    except IntegrityError:  # the same message, sent twice at once: the other one won
        session.rollback()
        existing = _earlier(session, agent=agent, digest=signed.digest, agent_request_id=ex.agent_request_id)
        if existing is None:
            raise
        return _repeat(session, agent, existing)
    log.info("DRP request %s opened as case %s (%s)", drp.request_uuid, req.reference, ex.exercise)
    return drp_status.status_object(req, drp)


def _open_case(session: Session, *, agent: DrpAgent, ex: Exercise, now: datetime) -> PrivacyRequest:
    """The case, made by the one constructor every channel uses. An email the agent verified counts
    as confirmed (DRP §3.04) and the claims are matched against our records at once, as a web
    request's are when its email is confirmed; otherwise the consumer confirms it by the usual link,
    which matches them then."""
    new = NewRequest(request_type=ex.request_type, first_name=ex.first_name, last_name=ex.last_name,
                     email=ex.email, phone=ex.phone, access_scope=ex.access_scope,
                     postal_code=postal_code(ex.claims.get("address")))
    req = request_service.record(session, new=new, manner=MANNER, received_at=now, actor=actor(agent),
                                 email_confirmed=ex.email_verified)
    if req.status == VERIFYING:
        verification.match_identity(session, req, actor=actor(agent), now=now)
    return req


def _earlier(session: Session, *, agent: DrpAgent, digest: str, agent_request_id: str | None) -> DrpRequest | None:
    same = DrpRequest.message_digest == digest
    if agent_request_id:
        same = or_(same, DrpRequest.agent_request_id == agent_request_id)
    return session.execute(select(DrpRequest).where(DrpRequest.agent_pk == agent.id, same)
                           .order_by(DrpRequest.id).limit(1)).scalar()


def _repeat(session: Session, agent: DrpAgent, drp: DrpRequest) -> dict:
    req = session.get(PrivacyRequest, drp.request_id)
    audit.record(session, action="drp_exercise_repeated", actor=actor(agent), request_id=req.id)
    session.commit()
    return drp_status.status_object(req, drp)


_REQUEST_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _owned(session: Session, *, agent: DrpAgent, request_uuid: str, call: str) -> tuple[DrpRequest, PrivacyRequest]:
    # Only the shape our ids have is looked up: anything else (a NUL, which PostgreSQL refuses in
    # a query, or 10,000 characters) is simply not found.
    drp = session.execute(select(DrpRequest).where(DrpRequest.request_uuid == request_uuid)).scalar() \
        if _REQUEST_UUID.fullmatch(request_uuid) else None
    if drp is None:
        exc = NotFound("No request has this request_id.")
        _refuse(session, exc, agent=agent, call=call)
        raise exc
    if drp.agent_pk != agent.id:  # §2.02.1: only the agent managing the request hears of it
        exc = Refused("This request was made by another agent.")
        _refuse(session, exc, agent=agent, call=call, request_id=drp.request_id)
        raise exc
    return drp, session.get(PrivacyRequest, drp.request_id)


@atomic
def status(session: Session, *, token: str | None, request_uuid: str) -> dict:
    """§2.02: the status object of one of this agent's requests."""
    agent = _authenticated(session, token, call="status")
    drp, req = _owned(session, agent=agent, request_uuid=request_uuid, call="status")
    audit.record(session, action="drp_status_read", actor=actor(agent), request_id=req.id)
    session.commit()
    return drp_status.status_object(req, drp)


@atomic
def revoke(session: Session, *, token: str | None, request_uuid: str, body: bytes,
           now: datetime | None = None) -> dict:
    """§2.04: the agent cancels an open or in-progress request; the case is withdrawn. The signed
    body is {"request_id": ..., "reason": ...} in the envelope every signed message has (agent,
    business, issued-at, expires-at): a message signed for another request, another business or
    another call, or an old one, is refused. Revoking a revoked request answers the same again."""
    now = now or clock.now()
    agent = _authenticated(session, token, call="revoke")
    drp, req = _owned(session, agent=agent, request_uuid=request_uuid, call="revoke")
    try:
        signed = open_signed(body, agent.verify_key)
        check_envelope(signed.claims, agent=agent, now=now)
        reason = revoke_reason(signed.claims, request_uuid=drp.request_uuid)
        if req.status != WITHDRAWN and not request_service.can_withdraw(req):
            raise BadRequest(f"This request is {drp_status.state(req)[0]} and can no longer be revoked.")
    except (Refused, BadRequest) as exc:
        _refuse(session, exc, agent=agent, call="revoke", request_id=req.id)
        raise
    if req.status == WITHDRAWN:
        return _repeat(session, agent, drp)
    drp.revoke_reason = reason
    session.add(drp)
    audit.record(session, action="drp_revoke", actor=actor(agent), request_id=req.id)
    request_service.withdraw(session, req=req, actor=actor(agent))  # commits, with the mail and callback
    return drp_status.status_object(req, drp)


# ---- operators: the agents the portal trusts -------------------------------------------------

@atomic
def add_agent(session: Session, *, agent_id: str, verify_key: str, name: str | None = None) -> DrpAgent:
    """Trust an agent's verify key (from the DRP directory); a removed agent comes back with it."""
    if not AGENT_ID.fullmatch(agent_id):
        raise AgentError("AGENT_ID: letters, digits and _ . : - only, at most 64 characters.")
    try:
        key = base64.b64decode(verify_key.strip(), validate=True)
        VerifyKey(key)
    except (binascii.Error, ValueError, NaclValueError):
        raise AgentError("--verify-key must be the standard base64 of a 32-byte Ed25519 public key.") from None
    agent = session.execute(select(DrpAgent).where(DrpAgent.agent_id == agent_id)).scalar()
    if agent is not None and agent.removed_at is None:
        raise AgentError(f"agent {agent_id} is already registered; remove it first to change its key.")
    agent = agent or DrpAgent(agent_id=agent_id, name="", verify_key="")
    agent.name, agent.verify_key = (name or agent_id).strip()[:200], base64.b64encode(key).decode()
    agent.removed_at, agent.token_hash, agent.token_issued_at = None, None, None
    session.add(agent)
    audit.record(session, action="drp_agent_added", actor="cli", detail=f"agent {agent_id}")
    session.commit()
    return agent


def list_agents(session: Session) -> list[DrpAgent]:
    return list(session.execute(select(DrpAgent).order_by(DrpAgent.agent_id)).scalars())


@atomic
def remove_agent(session: Session, *, agent_id: str) -> DrpAgent:
    """Stop trusting an agent: its token stops working at once; its cases stay in the queue."""
    agent = active_agent(session, agent_id)
    if agent is None:
        raise AgentError(f"no registered agent {agent_id}.")
    agent.removed_at, agent.token_hash, agent.token_issued_at = clock.now(), None, None
    session.add(agent)
    audit.record(session, action="drp_agent_removed", actor="cli", detail=f"agent {agent_id}")
    session.commit()
    return agent


def for_request(session: Session, req: PrivacyRequest) -> tuple[DrpRequest, DrpAgent] | None:
    """The protocol side of a case and its agent, for the console; None for other cases."""
    drp = drp_status.for_request(session, req)
    return (drp, session.get(DrpAgent, drp.agent_pk)) if drp else None
