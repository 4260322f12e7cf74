"""The client registry: each client business, the agreement under which its data is held, its privacy
contact, its signed webhook (the same shape as the recipients' notices: an https address checked
against the portal's own network, an HMAC secret stored encrypted) and its API key. Admins keep it
from the console, operators from `flask clients`. Every change is audited by key, never by contents."""
import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from nacl.exceptions import ValueError as NaclValueError
from nacl.signing import VerifyKey
from sqlalchemy import select
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...models import Client
from .. import audit
from ..delivery import webhooks

KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
KINDS = {"provider": "Healthcare provider", "billing": "Billing company", "lien": "Lien firm",
         "payer": "Payer or third-party administrator", "other": "Other business"}
AGREEMENTS = {"service_provider": "a service-provider contract", "baa": "a business associate agreement",
              "both": "a service-provider contract and a business associate agreement"}
# How the case page names the agreement in one word ("held for Provider X under a BAA").
AGREEMENT_SHORT = {"service_provider": "a service-provider contract", "baa": "a BAA",
                   "both": "a BAA and a service-provider contract"}
DEFAULT_DAYS = 10
MAX_DAYS = 45


class ClientError(Exception):
    """A client change refused; the message is for people, `field` names the form field."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = str(message), field


@dataclass
class ClientData:
    """What an admin or operator gives for a client; a webhook secret of None keeps the stored one
    (a new webhook address without any secret gets a generated one, shown once)."""

    key: str
    name: str
    kind: str
    agreement: str
    email: str
    webhook_url: str | None = None
    webhook_secret: str | None = None
    days: int | None = None
    verify_key: str | None = None


@dataclass(frozen=True)
class Saved:
    client: Client
    generated_secret: str | None  # a signing secret made for the client now: to hand over, never shown again


def active(session: Session) -> list[Client]:
    return list(session.execute(select(Client).where(Client.removed_at.is_(None)).order_by(Client.name)).scalars())


def by_key(session: Session, key: str, *, include_removed: bool = False) -> Client | None:
    if not KEY.fullmatch(key or ""):
        return None
    query = select(Client).where(Client.key == key)
    if not include_removed:
        query = query.where(Client.removed_at.is_(None))
    return session.execute(query).scalar()


def verify_key_problem(value: str) -> str | None:
    try:
        VerifyKey(base64.b64decode(value.strip(), validate=True))
    except (binascii.Error, ValueError, NaclValueError):
        return "the verify key must be the standard base64 of a 32-byte Ed25519 public key"
    return None


def _check(data: ClientData, existing: Client | None) -> tuple[dict, str | None]:
    """The columns to store and a generated secret (or None); ClientError for the first problem."""
    key = (data.key or "").strip()
    if existing is None and not KEY.fullmatch(key):
        raise ClientError("The key is letters, digits and _ . - (at most 64, starting with a letter or digit).", "key")
    name = (data.name or "").strip()
    if not name or len(name) > 200:
        raise ClientError("Give the client's name (at most 200 characters).", "name")
    if data.kind not in KINDS:
        raise ClientError("Choose the kind of client: " + ", ".join(KINDS) + ".", "kind")
    if data.agreement not in AGREEMENTS:
        raise ClientError("Choose the agreement: " + ", ".join(AGREEMENTS) + ".", "agreement")
    try:
        email = validate_email((data.email or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise ClientError("Give the client's privacy contact email address.", "email") from None
    days = DEFAULT_DAYS if data.days is None else data.days
    if not 1 <= days <= MAX_DAYS:
        raise ClientError(f"The days the client commits to answer in are 1 to {MAX_DAYS}.", "days")
    values = dict(name=name, kind=data.kind, agreement=data.agreement, email=email, days=days,
                  webhook_url=None, webhook_secret=None)
    generated = None
    url = (data.webhook_url or "").strip()
    if url:
        cfg = current_app.config
        problem = webhooks.url_problem(url, allow_http=cfg["WEBHOOK_ALLOW_HTTP"], allow_hosts=cfg["OUTBOUND_ALLOW_HOSTS"])
        if problem:
            raise ClientError(f"The webhook address cannot be used: {problem}.", "webhook_url")
        values["webhook_url"] = url
        if data.webhook_secret:
            if len(data.webhook_secret) < 32:
                raise ClientError("The signing secret needs at least 32 characters.", "webhook_secret")
            values["webhook_secret"] = webhooks.encrypt_secret(data.webhook_secret)
        elif existing is not None and existing.webhook_secret:
            values["webhook_secret"] = existing.webhook_secret
        else:
            generated = secrets.token_urlsafe(32)
            values["webhook_secret"] = webhooks.encrypt_secret(generated)
    if data.verify_key:
        problem = verify_key_problem(data.verify_key)
        if problem:
            raise ClientError(problem[0].upper() + problem[1:] + ".", "verify_key")
        values["verify_key"] = base64.b64encode(base64.b64decode(data.verify_key.strip())).decode()
    elif existing is None:
        values["verify_key"] = None
    return values, generated


@atomic
def save(session: Session, *, data: ClientData, actor: str, client: Client | None = None) -> Saved:
    """Add a client (a removed one of the same key comes back), or change one."""
    if client is None:
        existing = by_key(session, (data.key or "").strip(), include_removed=True)
        if existing is not None and existing.removed_at is None:
            raise ClientError(f"A client with the key {existing.key} exists already.", "key")
        client = existing
        new = True
    else:
        new = False
    values, generated = _check(data, None if new and client is None else client)
    if client is None:
        client = Client(key=data.key.strip(), **values)
    for name, value in values.items():
        setattr(client, name, value)
    client.removed_at, client.updated_at = None, clock.now()
    session.add(client)
    session.flush()
    audit.record(session, action="client_added" if new else "client_changed", actor=actor,
                 detail=f"client {client.key} ({client.kind}, {client.agreement}"
                        f"{', webhook' if client.webhook_url else ''}{', api key' if client.verify_key else ''})")
    session.commit()
    return Saved(client, generated)


@atomic
def remove(session: Session, *, key: str, actor: str) -> Client:
    """Stop forwarding to a client and accepting its API calls; its cases and referrals stay."""
    client = by_key(session, key)
    if client is None:
        raise ClientError(f"No client has the key {key}.", "key")
    client.removed_at = clock.now()
    session.add(client)
    audit.record(session, action="client_removed", actor=actor, detail=f"client {client.key}")
    session.commit()
    return client


def describe(client: Client) -> str:
    """"Provider X under a BAA": whom the data is held for, and under what."""
    return f"{client.name} under {AGREEMENT_SHORT[client.agreement]}"


@atomic
def reencrypt_secrets(session: Session) -> int:
    """The clients' signing secrets under the newest key, after `keys rotate`."""
    count = 0
    for client in session.execute(select(Client).where(Client.webhook_secret.is_not(None))).scalars():
        client.webhook_secret = webhooks.reencrypt_secret(client.webhook_secret)
        count += 1
    session.commit()
    return count
