"""The Data Rights Protocol's signed messages: opening one (libsodium combined mode: standard base64
of a 64-byte Ed25519 signature followed by the JSON), its envelope (DRP §3.07: which agent, which
business, when), what a revoke message must say, and the claims of an exercise. exchange.py acts
on what these functions let through; nothing here touches the database."""
import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from nacl.exceptions import BadSignatureError
from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import VerifyKey

from ...input_guards import NAME, PHONE, text_problem
from ...models import DrpAgent
from ..delivery import outbound

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
    except RecursionError:
        raise BadRequest("The signed message is nested too deeply.") from None
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
    between issued-at and expires-at (with the configured allowance for clock skew). Every signed
    message is checked so: pairing, exercise and revoke."""
    cfg = current_app.config
    if claims.get("agent-id") != agent.agent_id:
        raise Refused("agent-id does not name the agent this key belongs to.")
    # str(): PORTAL_DRP_BUSINESS_ID=12345 arrives from the environment as a number (parsed as JSON).
    if cfg["DRP_BUSINESS_ID"] in (None, "") or claims.get("business-id") != str(cfg["DRP_BUSINESS_ID"]):
        raise Refused("business-id does not name this business.")
    check_window(claims, now=now)


def check_window(claims: dict, *, now: datetime) -> None:
    """Now lies between the message's issued-at and expires-at, at most DRP_MAX_WINDOW_SECONDS apart
    (with DRP_CLOCK_SKEW_SECONDS of allowance): the time half of every signed message's envelope, the
    DRP's and the clients' API's (services/clients/inbound.py)."""
    cfg = current_app.config
    issued, expires = _moment(claims, "issued-at"), _moment(claims, "expires-at")
    window = timedelta(seconds=cfg["DRP_MAX_WINDOW_SECONDS"])
    skew = timedelta(seconds=cfg["DRP_CLOCK_SKEW_SECONDS"])
    try:
        in_window = issued < expires <= issued + window
        future, expired = now + skew < issued, now - skew > expires
    except OverflowError:  # a moment at the very end of the calendar, plus the window
        raise Refused("issued-at and expires-at must be moments of our time, not the ends of the calendar.") from None
    if not in_window:
        raise Refused(f"expires-at must come after issued-at, by at most {int(window.total_seconds())} seconds.")
    if future:
        raise Refused("issued-at is in the future.")
    if expired:
        raise Refused("The message has expired (expires-at has passed).")


def replay_window() -> timedelta:
    """How long a signed message can pass the envelope check after it was issued: a message seen
    within this long before is a replay if it comes again (afterwards it has expired anyway)."""
    cfg = current_app.config
    return timedelta(seconds=cfg["DRP_MAX_WINDOW_SECONDS"] + 2 * cfg["DRP_CLOCK_SKEW_SECONDS"])


def drp_version(claims: dict) -> str:
    version = claims.get("drp.version")
    if not isinstance(version, str) or not 0 < len(version) <= 16 or text_problem(version):
        raise BadRequest("drp.version is required: a short string such as 1.0.")
    return version


def revoke_reason(claims: dict, *, request_uuid: str) -> str | None:
    """A revoke message is made out to one request: its `request_id` names the request in the URL
    (Refused otherwise: a message signed for another request, or for another call, is not this
    one); its `reason` is optional."""
    if claims.get("request_id") != request_uuid:
        raise Refused("request_id in the signed message must name the request being revoked.")
    return _text(claims, "reason", 2000, single_line=False)


# ---- the exercise's claims -------------------------------------------------------------------

def _text(claims: dict, name: str, limit: int, *, single_line: bool = True, markup: bool = True) -> str | None:
    """A string claim as the forms take a field: stripped, one line unless it may span lines, no
    control characters, at most `limit` characters; BadRequest names the claim, never its value."""
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string of at most {limit} characters.")
    value = value.strip()
    problem = text_problem(value, single_line=single_line, limit=limit, markup=markup)
    if problem:
        raise BadRequest(f"{name} {problem}.")
    return value or None


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
    """OpenID Connect's address claim (an object of strings; its `formatted` may span lines), or a
    plain string; no control characters, bounded."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 500:
        if text_problem(value, single_line=False):
            raise BadRequest("address must have no control characters.")
        return value.strip() or None
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()) \
            and len(json.dumps(value)) <= 1000:
        if any(text_problem(k, limit=64) or text_problem(v, single_line=False) for k, v in value.items()):
            raise BadRequest("address must have no control characters.")
        return value
    raise BadRequest("address must be a string or an OpenID Connect address object.")


def _name(claims: dict) -> tuple[str, str, str]:
    """The consumer's name, its first and last names: what the request form accepts for each."""
    name = _text(claims, "name", 200, markup=False)
    if not name:
        raise BadRequest("name is required: the consumer's full name.")
    first, last = _parts(name)
    if len(first) > 100 or len(last) > 100:
        raise BadRequest("name must have at most 100 characters in the first name and in the last name.")
    if not NAME.match(first) or (last and not NAME.match(last)):
        raise BadRequest("name must have letters, spaces, apostrophes, hyphens and periods only.")
    return name, first, last


def _parts(name: str) -> tuple[str, str]:
    if "," in name:
        last, _sep, first = name.partition(",")
        return first.strip(), last.strip()
    first, _sep, last = name.strip().partition(" ")
    return first, last.strip()


def split_name(name: str) -> tuple[str, str]:
    """"Ana Ruiz" and "Ruiz, Ana" both give ("Ana", "Ruiz"); a single word is a first name."""
    first, last = _parts(name)
    return first[:100], last[:100]


def postal_code(address) -> str | None:
    """The ZIP code of an address claim: the OpenID Connect object's postal_code, or the last
    five-digit group of a one-line address."""
    text = address.get("postal_code", "") if isinstance(address, dict) else address or ""
    found = re.findall(r"\b(\d{5})(?:-\d{4})?\b", text)
    return found[-1] if found else None


def parse_exercise(claims: dict) -> Exercise:
    """Validate an exercise's claims (DRP §2.01, §3.04); BadRequest names the first problem."""
    version = drp_version(claims)
    action = claims.get("exercise")
    if not isinstance(action, str):
        raise BadRequest("exercise must be a string: one of " + ", ".join(sorted(EXERCISES)) + ".")
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
    name, first, last = _name(claims)
    email = _text(claims, "email", 254)
    try:
        email = validate_email(email or "", check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise BadRequest("email is required, and must be a valid email address: our response goes there.") from None
    for flag in VERIFIED_FLAGS:
        if claims.get(flag) is not None and not isinstance(claims[flag], bool):
            raise BadRequest(f"{flag} must be true or false.")
    relationships = claims.get("relationships")
    if relationships is not None and not (isinstance(relationships, list) and len(relationships) <= 20 and all(
            isinstance(r, str) and not text_problem(r, limit=64) for r in relationships)):
        raise BadRequest("relationships must be a list of short strings, each one line.")
    phone = _text(claims, "phone_number", 40)
    if phone and not PHONE.match(phone):
        raise BadRequest("phone_number must have 7 to 40 digits, spaces and + ( ) - . only.")
    kept = {"name": name, "email": email, "phone_number": phone, "address": _address(claims.get("address")),
            "power_of_attorney": _text(claims, "power_of_attorney", 2000, single_line=False),
            "relationships": relationships or None, **{f: claims.get(f) for f in VERIFIED_FLAGS}}
    request_type, scope = EXERCISES[action]
    return Exercise(exercise=action, request_type=request_type, access_scope=scope, regime=regime,
                    drp_version=version, agent_request_id=_text(claims, "agent-request-id", 200),
                    status_callback=_callback_url(_text(claims, "status_callback", 2000)),
                    first_name=first, last_name=last, email=email, phone=phone,
                    claims={k: v for k, v in kept.items() if v is not None})
