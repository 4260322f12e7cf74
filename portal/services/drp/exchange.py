"""Data Rights Protocol 1.0: authorized-agent services pair with the portal, send requests machine to
machine, follow them and revoke them. Every call is audited (never its token or signature).

A DRP request is a normal case in the same queue (manner `drp`), with the same deadlines, mail
and audit; the protocol side (the agent, its ids, the claims) lives in DrpRequest. Messages are
libsodium "combined mode": standard base64 of a 64-byte Ed25519 signature followed by the JSON.
"""
import base64
import binascii
import hashlib
import json
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import VerifyKey
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...lifecycle import VERIFYING, WITHDRAWN
from ...models import DrpAgent, DrpRequest, PrivacyRequest
from .. import audit
from ..cases import submission as request_service
from ..cases import verification
from ..cases.submission import NewRequest
from ..delivery import outbound
from . import status as drp_status

log = logging.getLogger(__name__)

MANNER = "drp"
AGENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# exercise -> (request type, access scope)
EXERCISES = {
    "sale:opt-out": ("opt_out", None), "sale:opt_out": ("opt_out", None),
    "deletion": ("delete", None),
    "access": ("access", "categories"), "access:categories": ("access", "categories"),
    "access:specific": ("access", "specific"),
}
OPT_IN = frozenset({"sale:opt-in", "sale:opt_in"})
VERIFIED_FLAGS = ("email_verified", "phone_number_verified", "address_verified")


class Refused(Exception):
    """Authentication failed (DRP §3.07's chain): 403."""


class BadRequest(Exception):
    """The message is authentic but cannot be acted on (unsupported action, bad claims): 400."""


class NotFound(Exception):
    """No such request: 404."""


class AgentError(Exception):
    """An operator's agent command that cannot be done (unknown agent, bad key)."""


@dataclass(frozen=True)
class Signed:
    claims: dict
    digest: str  # SHA-256 of the signed message


@dataclass(frozen=True)
class Exercise:
    """A validated exercise request."""

    exercise: str
    request_type: str
    access_scope: str | None
    regime: str | None
    drp_version: str
    agent_request_id: str | None
    status_callback: str | None
    first_name: str
    last_name: str
    email: str
    phone: str | None
    claims: dict

    @property
    def email_verified(self) -> bool:
        return self.claims.get("email_verified") is True


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def actor(agent: DrpAgent | None) -> str:
    """How an agent appears in the audit log."""
    return f"drp:{agent.agent_id}" if agent else "drp:unknown"


# ---- authentication --------------------------------------------------------------------------

def active_agent(session: Session, agent_id: str) -> DrpAgent | None:
    if not AGENT_ID.fullmatch(agent_id or ""):
        return None
    return session.execute(select(DrpAgent).where(DrpAgent.agent_id == agent_id,
                                                  DrpAgent.removed_at.is_(None))).scalar()


def agent_for_token(session: Session, token: str | None) -> DrpAgent | None:
    """The agent whose current bearer token this is (looked up by its hash), or None."""
    if not token or len(token) > 200:
        return None
    return session.execute(select(DrpAgent).where(DrpAgent.token_hash == hash_token(token),
                                                  DrpAgent.removed_at.is_(None))).scalar()


def open_signed(body: bytes, verify_key: str) -> Signed:
    """Decode and verify a combined-mode message; Refused unless it is base64 signed by the key,
    BadRequest unless the signed message is a JSON object."""
    try:
        raw = base64.b64decode(body.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Refused("The body is not standard base64.") from None
    try:
        message = VerifyKey(base64.b64decode(verify_key)).verify(raw)
    except (BadSignatureError, NaclValueError):
        raise Refused("The signature does not verify with this agent's key.") from None
    try:
        claims = json.loads(message)
    except ValueError:
        raise BadRequest("The signed message is not JSON.") from None
    if not isinstance(claims, dict):
        raise BadRequest("The signed message must be a JSON object.")
    return Signed(claims, hashlib.sha256(message).hexdigest())


def _moment(claims: dict, name: str) -> datetime:
    value = claims.get(name)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Refused(f"{name} must be an ISO 8601 timestamp with a time zone offset.")
    return moment


def check_envelope(claims: dict, *, agent: DrpAgent, now: datetime) -> None:
    """DRP §3.07: the agent and business named are this agent and this business, and now lies
    between issued-at and expires-at (with the configured allowance for clock skew)."""
    cfg = current_app.config
    if claims.get("agent-id") != agent.agent_id:
        raise Refused("agent-id does not name the agent this key belongs to.")
    # str(): PORTAL_DRP_BUSINESS_ID=12345 arrives from the environment as a number (parsed as JSON).
    if cfg["DRP_BUSINESS_ID"] in (None, "") or claims.get("business-id") != str(cfg["DRP_BUSINESS_ID"]):
        raise Refused("business-id does not name this business.")
    issued, expires = _moment(claims, "issued-at"), _moment(claims, "expires-at")
    window = timedelta(seconds=cfg["DRP_MAX_WINDOW_SECONDS"])
    if not issued < expires <= issued + window:
        raise Refused(f"expires-at must come after issued-at, by at most {int(window.total_seconds())} seconds.")
    skew = timedelta(seconds=cfg["DRP_CLOCK_SKEW_SECONDS"])
    if now + skew < issued:
        raise Refused("issued-at is in the future.")
    if now - skew > expires:
        raise Refused("The message has expired (expires-at has passed).")


def _version(claims: dict) -> str:
    version = claims.get("drp.version")
    if not isinstance(version, str) or not 0 < len(version) <= 16:
        raise BadRequest("drp.version is required.")
    return version


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
    it replaces the agent's previous token. Refused for any failure."""
    now = now or clock.now()
    agent = active_agent(session, agent_id)
    try:
        if agent is None:
            raise Refused("The agent-id is not registered.")
        signed = open_signed(body, agent.verify_key)
        check_envelope(signed.claims, agent=agent, now=now)
        _version(signed.claims)
    except (Refused, BadRequest) as exc:
        _refuse(session, exc, agent=agent, call="pair")
        raise Refused(str(exc)) from None
    token = secrets.token_urlsafe(32)
    agent.token_hash, agent.token_issued_at = hash_token(token), now
    session.add(agent)
    audit.record(session, action="drp_agent_paired", actor=actor(agent))
    session.commit()
    return {"agent-id": agent.agent_id, "token": token}


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


def postal_code(address) -> str | None:
    """The ZIP code of an address claim: the OpenID Connect object's postal_code, or the last
    five-digit group of a one-line address."""
    text = address.get("postal_code", "") if isinstance(address, dict) else address or ""
    found = re.findall(r"\b(\d{5})(?:-\d{4})?\b", text)
    return found[-1] if found else None


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


def _owned(session: Session, *, agent: DrpAgent, request_uuid: str, call: str) -> tuple[DrpRequest, PrivacyRequest]:
    drp = session.execute(select(DrpRequest).where(DrpRequest.request_uuid == request_uuid[:36])).scalar()
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
def revoke(session: Session, *, token: str | None, request_uuid: str, body: bytes) -> dict:
    """§2.04: the agent cancels an open or in-progress request; the case is withdrawn. The signed
    body is just {"reason": ...}. Revoking a revoked request answers the same again."""
    agent = _authenticated(session, token, call="revoke")
    drp, req = _owned(session, agent=agent, request_uuid=request_uuid, call="revoke")
    try:
        reason = open_signed(body, agent.verify_key).claims.get("reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 2000):
            raise BadRequest("reason must be a string of at most 2000 characters.")
        if req.status != WITHDRAWN and not request_service.can_withdraw(req):
            raise BadRequest(f"This request is {drp_status.state(req)[0]} and can no longer be revoked.")
    except (Refused, BadRequest) as exc:
        _refuse(session, exc, agent=agent, call="revoke", request_id=req.id)
        raise
    if req.status == WITHDRAWN:
        return _repeat(session, agent, drp)
    drp.revoke_reason = (reason or "").strip() or None
    session.add(drp)
    audit.record(session, action="drp_revoke", actor=actor(agent), request_id=req.id)
    request_service.withdraw(session, req=req, actor=actor(agent))  # commits, with the mail and callback
    return drp_status.status_object(req, drp)


# ---- the exercise's claims -------------------------------------------------------------------

def _optional_str(claims: dict, name: str, limit: int) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) > limit:
        raise BadRequest(f"{name} must be a string of at most {limit} characters.")
    return value.strip() or None


def _callback_url(value: str | None) -> str | None:
    """An https URL (http where DRP_CALLBACK_ALLOW_HTTP), not on the portal's own network."""
    if value is None:
        return None
    cfg = current_app.config
    problem = outbound.url_problem(value, allow_http=cfg["DRP_CALLBACK_ALLOW_HTTP"],
                                   allow_hosts=cfg["OUTBOUND_ALLOW_HOSTS"])
    if problem is None:
        return value
    if problem.startswith(outbound.NOT_ALLOWED):
        raise BadRequest(f"status_callback: {problem}.")
    raise BadRequest("status_callback must be an https URL.")


def _address(value) -> str | dict | None:
    """OpenID Connect's address claim (an object of strings), or a plain string."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 500:
        return value.strip() or None
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()) \
            and len(json.dumps(value)) <= 1000:
        return value
    raise BadRequest("address must be a string or an OpenID Connect address object.")


def split_name(name: str) -> tuple[str, str]:
    """"Ana Ruiz" and "Ruiz, Ana" both give ("Ana", "Ruiz"); a single word is a first name."""
    if "," in name:
        last, _sep, first = name.partition(",")
        return first.strip()[:100], last.strip()[:100]
    first, _sep, last = name.strip().partition(" ")
    return first[:100], last.strip()[:100]


def parse_exercise(claims: dict) -> Exercise:
    """Validate an exercise's claims (DRP §2.01, §3.04); BadRequest names the first problem."""
    version = _version(claims)
    action = claims.get("exercise")
    if action in OPT_IN:
        raise BadRequest("sale:opt-in is not supported: opting back in to sale or sharing is a two-step choice "
                         "the consumer makes themselves on our preference page.")
    if action not in EXERCISES:
        raise BadRequest("Unsupported rights action: exercise must be one of " + ", ".join(sorted(EXERCISES)) + ".")
    regime = claims.get("regime")
    if regime in (None, "voluntary"):
        if current_app.config["DRP_VOLUNTARY"] != "accept":
            raise BadRequest("We handle requests under the ccpa regime only.")
    elif regime != "ccpa":
        raise BadRequest("Unsupported regime: regime must be ccpa, voluntary, or absent.")
    name = _optional_str(claims, "name", 200)
    if not name:
        raise BadRequest("name is required: the consumer's full name.")
    email = _optional_str(claims, "email", 254)
    try:
        email = validate_email(email or "", check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise BadRequest("email is required, and must be a valid email address: our response goes there.") from None
    for flag in VERIFIED_FLAGS:
        if claims.get(flag) is not None and not isinstance(claims[flag], bool):
            raise BadRequest(f"{flag} must be true or false.")
    relationships = claims.get("relationships")
    if relationships is not None and not (isinstance(relationships, list) and len(relationships) <= 20 and all(
            isinstance(r, str) and len(r) <= 64 for r in relationships)):
        raise BadRequest("relationships must be a list of short strings.")
    phone = _optional_str(claims, "phone_number", 40)
    kept = {"name": name, "email": email, "phone_number": phone, "address": _address(claims.get("address")),
            "power_of_attorney": _optional_str(claims, "power_of_attorney", 2000),
            "relationships": relationships or None, **{f: claims.get(f) for f in VERIFIED_FLAGS}}
    request_type, scope = EXERCISES[action]
    first, last = split_name(name)
    return Exercise(exercise=action, request_type=request_type, access_scope=scope, regime=regime,
                    drp_version=version, agent_request_id=_optional_str(claims, "agent-request-id", 200),
                    status_callback=_callback_url(_optional_str(claims, "status_callback", 2000)),
                    first_name=first, last_name=last, email=email, phone=phone,
                    claims={k: v for k, v in kept.items() if v is not None})


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
