"""Emailed single-use tokens: signed by itsdangerous, purpose-bound, revocable by a stored nonce hash."""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlmodel import Session

from ... import clock
from ...models import VerificationToken

PURPOSES = ("verify", "status", "agent_confirm", "processor_answer", "client_answer")


class TokenError(Exception):
    """A token that cannot be used; `reason` is one of invalid, expired, used."""

    def __init__(self, reason: str, token: VerificationToken | None = None):
        super().__init__(reason)
        self.reason = reason
        self.token = token


@dataclass
class IssuedToken:
    value: str
    row: VerificationToken


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal.token.{purpose}")


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def issue(session: Session, *, purpose: str, ttl: timedelta, request_id: int | None = None,
          inquiry_id: int | None = None, now: datetime | None = None) -> IssuedToken:
    """Create a token for one request (or inquiry) and purpose, in the caller's transaction."""
    assert purpose in PURPOSES and (request_id is None) != (inquiry_id is None)
    now = now or clock.now()
    nonce = secrets.token_urlsafe(24)
    row = VerificationToken(purpose=purpose, nonce_hash=_hash(nonce), request_id=request_id,
                            inquiry_id=inquiry_id, expires_at=now + ttl, created_at=now)
    session.add(row)
    session.flush()
    return IssuedToken(_serializer(purpose).dumps({"n": nonce}), row)


def _lookup(session: Session, value: str, purpose: str) -> VerificationToken:
    try:
        payload = _serializer(purpose).loads(value)
    except SignatureExpired as exc:
        payload = exc.payload if isinstance(exc.payload, dict) else None
        if payload is None:
            raise TokenError("invalid") from None
    except BadSignature:
        raise TokenError("invalid") from None
    nonce = payload.get("n") if isinstance(payload, dict) else None
    if not isinstance(nonce, str):
        raise TokenError("invalid")
    row = session.execute(select(VerificationToken).where(
        VerificationToken.nonce_hash == _hash(nonce), VerificationToken.purpose == purpose)).scalar()
    if row is None:
        raise TokenError("invalid")
    return row


def check(session: Session, *, value: str, purpose: str, now: datetime | None = None) -> VerificationToken:
    """The token's row if it may be used now; TokenError otherwise. Spends nothing."""
    row = _lookup(session, value, purpose)
    if row.used_at is not None:
        raise TokenError("used", row)
    if (now or clock.now()) >= row.expires_at:
        raise TokenError("expired", row)
    return row


def spend(session: Session, *, value: str, purpose: str, now: datetime | None = None) -> VerificationToken:
    """Mark the token used, in the caller's transaction. Only one caller can ever succeed."""
    now = now or clock.now()
    row = check(session, value=value, purpose=purpose, now=now)
    # A conditional update, so two simultaneous POSTs cannot both spend the same token.
    done = session.execute(update(VerificationToken)
                           .where(VerificationToken.id == row.id, VerificationToken.used_at.is_(None))
                           .values(used_at=now).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise TokenError("used", row)
    row.used_at = now
    return row

