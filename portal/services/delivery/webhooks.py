"""Signed webhooks: queued in the transaction that causes them, delivered and retried like mail.

Each POST carries a JSON body and three headers: `Idempotency-Key` (the same on every attempt, so a
receiver applies it once), `X-Portal-Timestamp` (Unix seconds) and `X-Portal-Signature`
(`sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>` under the shared secret). A receiver checks the
signature with `verify_signature` and refuses old timestamps. Delivery is the shared core's
(services/delivery/outbox.py: any number of processes side by side, at least once, each copy with the same
Idempotency-Key), retries
timeouts, connection errors, 408, 425, 429 and 5xx with exponential backoff, and gives up on other
answers (a 4xx, a redirect) or after DELIVERY_RETRY_FOR_SECONDS (as mail). Rows live in the database: a restart
loses none. Secrets are stored encrypted with the documents' Fernet keys. Where a webhook may go,
and the POST itself (to the address that was checked, no redirects), are services/delivery/outbound.py's:
a receiver on the portal's own network is refused when it is saved and when it is sent to.
"""
import hashlib
import hmac
import json
import logging
from datetime import datetime

from cryptography.fernet import InvalidToken
from sqlmodel import Session

from ... import clock
from ...models import WebhookDelivery
from ..documents import keys
from . import outbound, outbox

log = logging.getLogger(__name__)
CLAIM_SECONDS = outbox.CLAIM_SECONDS  # the least a claim lasts (see services/delivery/outbox.py)

KEY_HEADER = "Idempotency-Key"
TIMESTAMP_HEADER = "X-Portal-Timestamp"
SIGNATURE_HEADER = "X-Portal-Signature"
RETRY_STATUSES = frozenset({408, 425, 429})


class DeliveryFailed(Exception):
    """One attempt did not deliver; `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


def url_problem(url: str, *, allow_http: bool, allow_hosts=()) -> str | None:
    """Why `url` cannot receive webhooks, or None: https (http only where allowed), a host, no
    credentials, and not an address on the portal's own network (outbound.url_problem)."""
    return outbound.url_problem(url, allow_http=allow_http, allow_hosts=allow_hosts)


def encrypt_secret(secret: str) -> str:
    return keys.keyring().fernet.encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> bytes:
    return keys.keyring().fernet.decrypt(token.encode())


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver runs: constant-time comparison of the signature header."""
    return hmac.compare_digest(signature(secret, timestamp, body), header or "")


def verify_reply(stored_secret: str | None, timestamp: str, body: bytes, header: str, *, max_age_seconds: int) -> bool:
    """A signed reply sent back to the portal (a processor's or a client's answer): signed with the
    secret stored for that sender (a Fernet token, or None when it has none) and no older than
    `max_age_seconds`. Without a secret the same work is done, so the answer takes about as long."""
    if not stored_secret:
        verify_signature(b"-" * 32, timestamp or "", body, header or "")
        return False
    try:
        secret = decrypt_secret(stored_secret)
        sent_at = int(timestamp)
    except (InvalidToken, TypeError, ValueError):
        return False
    if abs(clock.timestamp() - sent_at) > max_age_seconds:
        return False
    return verify_signature(secret, timestamp, body, header or "")


def queue(session: Session, *, topic: str, url: str, secret: str, payload: dict, idempotency_key: str) -> WebhookDelivery:
    """Queue one webhook in the caller's transaction (`secret` as stored: a Fernet token)."""
    row = WebhookDelivery(topic=topic, url=url, secret=secret, idempotency_key=idempotency_key,
                          body=json.dumps(payload, sort_keys=True, separators=(",", ":")))
    session.add(row)
    session.flush()
    return row


def post(row: WebhookDelivery, secret: bytes, *, timeout: float, now: datetime, allow_hosts=()) -> int:
    """One signed POST; the HTTP status on success, DeliveryFailed (with a short reason) otherwise."""
    body = row.body.encode()
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "User-Agent": "privacy-portal-webhooks",
               KEY_HEADER: row.idempotency_key, TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: signature(secret, timestamp, body)}
    try:
        return outbound.post(row.url, body, headers=headers, timeout=timeout, allow_hosts=allow_hosts).status
    except outbound.Failed as failed:
        if failed.status is not None:  # an answer: 5xx, 408, 425 and 429 pass; a redirect or other 4xx does not
            retry = failed.status >= 500 or failed.status in RETRY_STATUSES
            raise DeliveryFailed(failed.reason, permanent=not retry) from None
        raise DeliveryFailed(failed.reason, permanent=failed.permanent) from None


def _secret(row: WebhookDelivery) -> bytes:
    try:
        return decrypt_secret(row.secret)
    except InvalidToken:  # its key was removed from ENCRYPTION_KEYS: no attempt can ever be signed
        raise DeliveryFailed("the signing secret cannot be decrypted with the configured keys", permanent=True) from None


def reencrypt_secret(token: str) -> str:
    """The same secret under the newest key (key rotation)."""
    return keys.keyring().fernet.rotate(token.encode()).decode()


def _classify(exc: Exception, row: WebhookDelivery) -> outbox.Failure:
    if isinstance(exc, DeliveryFailed):
        return outbox.Failure(permanent=exc.permanent, error=str(exc))
    # A bug, not the network: the details go to the log, staff see a short reason.
    log.error("webhook %s could not be sent", row.id, exc_info=exc)
    return outbox.Failure(permanent=True, error="could not be sent: an error in the portal (see its log)")


def channel(cfg) -> outbox.Channel:
    """Webhooks as the delivery core sees them: one signed POST; 4xx, redirects and undecryptable secrets are permanent."""
    def send(row: WebhookDelivery) -> None:
        post(row, _secret(row), timeout=cfg["WEBHOOK_TIMEOUT_SECONDS"], now=clock.now(),
             allow_hosts=cfg.get("OUTBOUND_ALLOW_HOSTS") or ())

    return outbox.Channel(
        name="webhook", model=WebhookDelivery, send=send, classify=_classify, done_status="delivered",
        done_at="delivered_at", retry_base=cfg["MAIL_RETRY_BASE_SECONDS"], retry_max=cfg["MAIL_RETRY_MAX_SECONDS"],
        retry_for=cfg.get("DELIVERY_RETRY_FOR_SECONDS"), max_attempts=cfg.get("WEBHOOK_MAX_ATTEMPTS"), claim_for=outbox.claim_seconds(cfg["WEBHOOK_TIMEOUT_SECONDS"]),
        label=lambda row: f" ({row.topic})")


def deliver_due(engine, cfg, *, now: datetime | None = None, limit: int = 50, stop=None, beat=None) -> int:
    """Send every webhook that is due; returns how many were delivered. Needs an app context (keys)."""
    return outbox.deliver_due(engine, channel(cfg), now=now, limit=limit, stop=stop, beat=beat)


def deliver_for_app(app, **kw) -> int:
    with app.app_context():
        return deliver_due(app.extensions["db_engine"], app.config, **kw)
