"""The other way: a client business sends the portal's business a consumer request it received, for
the data the business holds for it (as its service provider or business associate), through a signed
API, and follows it.

Each call carries the client's key (`X-Portal-Client`) and a message signed with the client's Ed25519
key in the Data Rights Protocol's combined mode (services/drp/messages.open_signed: standard base64 of
the signature followed by the JSON), in an envelope: `client-id` (this client), `audience` (this
portal's API, BASE_URL + "/clients/v1"), `issued-at` and `expires-at` (the DRP's window and skew,
drp/messages.check_window). The same signed message sent again, or the same `client-request-id`,
answers with the request already made: a replay opens nothing.

A new request names the consumer by identifiers, which must match a person the identity index holds
*for this client* (two data points, as a categories request needs); the client's verification
statement stands for the consumer's verification (the client verified them, §7062 is its duty). The
case then runs the same plan, approval and evidence as any other, scoped to the client's data: the
map's systems marked `client: KEY` (fulfilment/plan.register_scope). Its status goes back to the
client by signed webhook (the outbox) at every change; access answers with the package of what is
held for the client. A bad signature, an unknown client or a person not held for it is refused with
a 4xx JSON error and nothing is stored.
"""
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ... import clock, normalize
from ...db import atomic
from ...input_guards import NAME, PHONE, text_problem
from ...lifecycle import COMPLETED, IN_PROGRESS, PARTIALLY_COMPLETED, VERIFYING
from ...models import Client, ClientRequest, FulfilmentItem, PrivacyRequest, VerificationAttempt
from .. import audit
from ..cases import submission
from ..cases.transitions import transition
from ..delivery import webhooks
from ..drp.messages import BadRequest, Refused, check_window, open_signed
from ..fulfilment import access_package
from ..identity import subjects, tiers
from . import registry

log = logging.getLogger(__name__)

MANNER = "client"
CLIENT_HEADER = "X-Portal-Client"
REQUEST_TYPES = ("access", "delete", "correct")
STATUS_TOPIC = "client_request_status"
IDENTIFIERS = ("first_name", "last_name", "email", "phone", "claim_number", "date_of_birth", "date_of_injury",
               "postal_code")


class NotHeld(Exception):
    """The identity index holds no such person for this client: 404."""


def audience() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + "/clients/v1"


def actor(client: Client) -> str:
    return f"client:{client.key}"


def _authenticated(session: Session, *, client_key: str, signed_body: bytes, now: datetime) -> tuple[Client, object]:
    """The client and its opened message; Refused for an unknown client, a bad signature or envelope."""
    client = registry.by_key(session, (client_key or "").strip())
    if client is None or not client.verify_key:
        try:
            open_signed(signed_body, "A" * 43 + "=")  # about the same work either way
        except (Refused, BadRequest):
            pass
        raise Refused("Unknown client, or a client without an API key: name yours in X-Portal-Client.")
    signed = open_signed(signed_body, client.verify_key)
    if signed.claims.get("client-id") != client.key:
        raise Refused("client-id in the signed message does not name the client this key belongs to.")
    if signed.claims.get("audience") != audience():
        raise Refused(f"audience must be {audience()}.")
    check_window(signed.claims, now=now)
    return client, signed


@dataclass(frozen=True)
class Asked:
    request_type: str
    subject: dict
    statement: str
    client_request_id: str | None
    correction_current: str | None
    correction_details: str | None
    access_scope: str


def _text(data: dict, name: str, limit: int, *, single_line: bool = True) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string.")
    value = value.strip()
    problem = text_problem(value, single_line=single_line, limit=limit)
    if problem:
        raise BadRequest(f"{name} {problem}.")
    return value or None


def _date(subject: dict, name: str) -> date | None:
    value = _text(subject, name, 10)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"subject.{name} must be a date, YYYY-MM-DD.") from None


def parse(claims: dict) -> Asked:
    """The request's claims; BadRequest names the first problem (never a value)."""
    request_type = claims.get("request_type")
    if request_type not in REQUEST_TYPES:
        raise BadRequest("request_type must be one of " + ", ".join(REQUEST_TYPES) + ".")
    subject = claims.get("subject")
    if not isinstance(subject, dict):
        raise BadRequest("subject must be an object naming the consumer: first_name, last_name and identifiers.")
    unknown = sorted(k for k in subject if k not in IDENTIFIERS)
    if unknown:
        raise BadRequest("subject has unknown keys: " + ", ".join(str(k)[:40] for k in unknown[:5]) + ".")
    given = {k: _text(subject, k, 254) for k in ("first_name", "last_name", "email", "phone", "claim_number",
                                                  "postal_code")}
    if not given["first_name"] or not given["last_name"]:
        raise BadRequest("subject.first_name and subject.last_name are required.")
    if not NAME.match(given["first_name"]) or not NAME.match(given["last_name"]) \
            or len(given["first_name"]) > 100 or len(given["last_name"]) > 100:
        raise BadRequest("subject's names have letters, spaces, apostrophes, hyphens and periods only (100 at most).")
    if given["phone"] and not PHONE.match(given["phone"]):
        raise BadRequest("subject.phone must have 7 to 40 digits, spaces and + ( ) - . only.")
    if given["email"] and "@" not in given["email"]:
        raise BadRequest("subject.email must be an email address.")
    given["date_of_birth"], given["date_of_injury"] = _date(subject, "date_of_birth"), _date(subject, "date_of_injury")
    statement = _text(claims, "verification_statement", 2000, single_line=False)
    if not statement or len(statement) < 20:
        raise BadRequest("verification_statement is required: how you verified the consumer (at least 20 characters).")
    current = details = None
    if request_type == "correct":
        correction = claims.get("correction")
        if not isinstance(correction, dict):
            raise BadRequest("correction is required for a correct request: {\"current\", \"should_be\"}.")
        current = _text(correction, "current", 2000, single_line=False)
        details = _text(correction, "should_be", 2000, single_line=False)
        if not details:
            raise BadRequest("correction.should_be is required: what the information should say.")
    scope = claims.get("access_scope", "specific")
    if request_type == "access" and scope not in ("specific", "categories"):
        raise BadRequest("access_scope must be specific or categories.")
    return Asked(request_type=request_type, subject={k: v for k, v in given.items() if v}, statement=statement,
                 client_request_id=_text(claims, "client-request-id", 200), correction_current=current,
                 correction_details=details, access_scope=scope if request_type == "access" else None)


def _points(subject: dict) -> dict[str, str]:
    values = dict(subject)
    for name in ("date_of_birth", "date_of_injury"):
        if isinstance(values.get(name), date):
            values[name] = values[name].isoformat()
    return subjects.hashes(values)[0]


@atomic
def submit(session: Session, *, client_key: str, body: bytes, now: datetime | None = None) -> tuple[dict, bool]:
    """Open a case for a client's signed request; (status object, created). Refused, BadRequest and
    NotHeld leave nothing behind (the transaction rolls back)."""
    now = now or clock.now()
    client, signed = _authenticated(session, client_key=client_key, signed_body=body, now=now)
    asked = parse(signed.claims)
    earlier = _earlier(session, client, signed.digest, asked.client_request_id)
    if earlier is not None:
        answer = status_object(session, earlier)
        session.commit()
        return answer, False
    match = subjects.best_match(session, _points(asked.subject), client_key=client.key)
    if match.subject_key is None or len(match.matched) < tiers.categories_tier():
        raise NotHeld(f"The identity index holds no person matching these identifiers for {client.key}.")
    req = _open_case(session, client, asked, match, now)
    inbound = ClientRequest(request_id=req.id, request_uuid=str(uuid.uuid4()), client_id=client.id,
                            client_request_id=asked.client_request_id, message_digest=signed.digest,
                            subject_key=match.subject_key, statement=asked.statement,
                            identifiers={k: str(v) for k, v in asked.subject.items()}, created_at=now)
    session.add(inbound)
    session.flush()
    transition(session, req, IN_PROGRESS, actor=actor(client), action="client_instruction", now=now,
               detail=f"verified by {client.key}'s statement; subject {match.subject_key}; "
                      f"matched {', '.join(match.matched)}")
    try:
        session.commit()
    except IntegrityError:  # the same message twice at once: the other one won
        session.rollback()
        earlier = _earlier(session, client, signed.digest, asked.client_request_id)
        if earlier is None:
            raise
        answer = status_object(session, earlier)
        session.commit()
        return answer, False
    log.info("client request %s opened as case %s (%s)", inbound.request_uuid, req.reference, asked.request_type)
    return status_object(session, inbound), True


def _open_case(session: Session, client: Client, asked: Asked, match, now: datetime) -> PrivacyRequest:
    """The case, by the one constructor: the client is its requester (its privacy contact hears of
    it); the consumer is named, verified by the client's statement and the index's match for the client."""
    s = asked.subject
    fields = dict(phone=s.get("phone"), claim_number=s.get("claim_number"), date_of_birth=s.get("date_of_birth"),
                  date_of_injury=s.get("date_of_injury"), postal_code=s.get("postal_code"),
                  details=f"Sent by {client.name} ({client.key}) through the clients' API. "
                          f"Its verification statement: {asked.statement}")
    if asked.request_type == "access":
        fields.update(access_scope=asked.access_scope,
                      lookback_start=submission.lookback_start("12_months", clock.local_date(now)))
    if asked.request_type == "correct":
        fields.update(correction_current=asked.correction_current, correction_details=asked.correction_details)
    req = submission.open_case(session, request_type=asked.request_type, first_name=s["first_name"],
                               last_name=s["last_name"], email=normalize.email(client.email), manner=MANNER,
                               language="en", received_at=now, actor=actor(client), status=VERIFYING,
                               acknowledged_at=now, detail=f"manner={MANNER}; client {client.key}", **fields)
    session.add(VerificationAttempt(request_id=req.id, subject_key=match.subject_key, matched=",".join(match.matched),
                                    unmatched=",".join(match.unmatched), required=tiers.categories_tier(),
                                    outcome="verified", created_at=now))
    return req


def _earlier(session: Session, client: Client, digest: str, client_request_id: str | None) -> ClientRequest | None:
    same = ClientRequest.message_digest == digest
    if client_request_id:
        same = or_(same, ClientRequest.client_request_id == client_request_id)
    return session.execute(select(ClientRequest).where(ClientRequest.client_id == client.id, same)
                           .order_by(ClientRequest.id).limit(1)).scalar()


@atomic
def status(session: Session, *, client_key: str, signed_header: str, request_uuid: str,
           now: datetime | None = None) -> dict:
    """GET: the status of one of this client's requests. The signed message (in the Authorization
    header) names the request: {"client-id", "audience", "issued-at", "expires-at", "request_id"}."""
    client, signed = _authenticated(session, client_key=client_key, signed_body=signed_header.encode(),
                                    now=now or clock.now())
    if signed.claims.get("request_id") != request_uuid:
        raise Refused("request_id in the signed message must name the request asked about.")
    inbound = session.execute(select(ClientRequest).where(ClientRequest.request_uuid == request_uuid[:36])).scalar()
    if inbound is None or inbound.client_id != client.id:  # another client's request is not found either
        raise NotHeld("No request of yours has this id.")
    answer = status_object(session, inbound, with_package=True)
    session.commit()
    return answer


def status_object(session: Session, inbound: ClientRequest, *, with_package: bool = False) -> dict:
    """What the client sees: the case's state, dates, and the plan's items with their evidence (counts
    and hashes, never values); a completed access request's package of what is held for the client."""
    req = session.get(PrivacyRequest, inbound.request_id)
    items = session.execute(select(FulfilmentItem).where(FulfilmentItem.request_id == req.id)
                            .order_by(FulfilmentItem.id)).scalars().all()
    body = {"request_id": inbound.request_uuid, "client_request_id": inbound.client_request_id,
            "reference": req.reference, "request_type": req.request_type, "status": req.status,
            "received_at": req.received_at.isoformat(), "due": (req.extended_due or req.response_due).isoformat(),
            "closed_at": req.closed_at.isoformat() if req.closed_at else None,
            "outcome": {"code": req.outcome_code, "citation": req.outcome_citation,
                        "message": req.response_message} if req.closed_at else None,
            "items": [{"system": i.system, "name": i.system_name, "kind": i.kind, "state": i.state, "found": i.found,
                       "evidence": i.outcome_note} for i in items]}
    if with_package and req.request_type == "access":
        data = access_package.read(session, req)
        body["package"] = json.loads(bytes(data)) if data is not None else None
    return body


def scope_of(session: Session, req: PrivacyRequest) -> str | None:
    """The plan's scope (fulfilment/plan.register_scope): a client's own request reaches only the map's
    systems held for that client; every other case, only the business's own (None)."""
    client_id = session.execute(select(ClientRequest.client_id).where(ClientRequest.request_id == req.id)).scalar()
    return session.get(Client, client_id).key if client_id is not None else None


def status_changed(session: Session, req: PrivacyRequest) -> None:
    """The status listener: a client's own request reports each change to the client's webhook (signed,
    through the outbox), when the client has one."""
    if req.manner != MANNER:
        return
    inbound = session.execute(select(ClientRequest).where(ClientRequest.request_id == req.id)).scalar()
    if inbound is None:
        return  # the case being opened: the API's answer says it
    client = session.get(Client, inbound.client_id)
    if req.request_type == "delete" and req.status in (COMPLETED, PARTIALLY_COMPLETED):
        _forget_rows_held_for(session, req, client)
    if not client.webhook_url or not client.webhook_secret:
        return
    webhooks.queue(session, topic=STATUS_TOPIC, url=client.webhook_url, secret=client.webhook_secret,
                   payload=status_object(session, inbound), idempotency_key=str(uuid.uuid4()))
    audit.record(session, action="client_status_callback", actor="system", request_id=req.id,
                 detail=f"client {client.key}: {req.status}")


def _forget_rows_held_for(session: Session, req: PrivacyRequest, client: Client) -> None:
    """§1798.105(c) for the client's data: the identity index's rows held for this client about the
    person its deletion named go with it (the business's own rows, and other clients', stay)."""
    keys = session.execute(select(VerificationAttempt.subject_key).where(
        VerificationAttempt.request_id == req.id, VerificationAttempt.outcome == "verified")).scalars().all()
    removed = subjects.remove(session, subject_keys=keys, client_key=client.key)
    audit.record(session, action="portal_data_erased", actor="system", request_id=req.id,
                 detail=f"identity index rows held for {client.key}: {removed}")
