"""The signed consent-state cookie (so the hot path answers without a query) and the token the
business's website sends back with its POSTs. Keys are derived per purpose from SECRET_KEY."""
import base64
import hashlib
import hmac
import json
from datetime import datetime

from flask import current_app

from ... import clock
from .choices import ConsentState, Snapshot, policy_version, state_for


def _key(purpose: str) -> bytes:
    """A key for one purpose, derived from SECRET_KEY (so rotating the secret resets them all)."""
    name = f"consent_key_{purpose}"
    key = current_app.extensions.get(name)
    if key is None:
        key = current_app.extensions[name] = hashlib.sha256(
            purpose.encode() + b"\0" + str(current_app.config["SECRET_KEY"]).encode()).digest()
    return key


def _mac(purpose: str, data: str) -> str:
    return hmac.new(_key(purpose), data.encode(), hashlib.sha256).hexdigest()


def state_cookie(state: ConsentState) -> str | None:
    """The latest record, signed (HMAC-SHA256) with its issue time, so the hot path can answer
    without a query. Plain hmac rather than itsdangerous: this runs on every page view."""
    s = state.snapshot
    if s is None or state.consent_id is None:
        return None
    payload = [state.consent_id, s.record_id, s.receipt_id, s.choices, s.policy_version, s.source, s.gpc,
               s.created_at.isoformat(), int(clock.timestamp()),
               s.sale_opt_out_at.isoformat() if s.sale_opt_out_at else None]
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_mac('consent-state', body)}"


# Verified state cookies, by their text: a visitor sends the same one with every page until it changes.
_VERIFIED_STATES_MAX = 4096


def _verified_payload(value: str) -> tuple | None:
    """The state cookie's fields when its MAC is ours (as `state_cookie` wrote them), else None."""
    verified = current_app.extensions.setdefault("consent_verified_states", {})
    payload = verified.get(value)
    if payload is not None:
        return payload
    body, _, mac = value.rpartition(".")
    if not body or not hmac.compare_digest(mac.encode(), _mac("consent-state", body).encode()):
        return None
    try:
        cid, record_id, receipt_id, choices, version, source, gpc, created, issued, opted_out = json.loads(
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        payload = (cid, record_id, receipt_id, tuple(choices.items()), version, source, gpc,
                   datetime.fromisoformat(created), issued, datetime.fromisoformat(opted_out) if opted_out else None)
    except (ValueError, TypeError, AttributeError):
        return None
    if len(verified) >= _VERIFIED_STATES_MAX:
        verified.clear()
    verified[value] = payload
    return payload


def state_from_cookie(value: str | None, *, consent_id: str, gpc_signal: bool) -> ConsentState | None:
    """The state the cookie holds, when it is ours, fresh, for this consent id and this policy
    version, and does not need a GPC record written; otherwise None (ask the database)."""
    payload = _verified_payload(value) if value else None
    if payload is None:
        return None
    cid, record_id, receipt_id, choices, version, source, gpc, created, issued, opted_out = payload
    current_version = policy_version()
    if cid != consent_id or version != current_version or \
            not 0 <= clock.timestamp() - issued <= current_app.config["CONSENT_STATE_CACHE_SECONDS"]:
        return None
    snapshot = Snapshot(record_id=record_id, receipt_id=receipt_id, choices=dict(choices), policy_version=version,
                        source=source, gpc=gpc, created_at=created, sale_opt_out_at=opted_out)
    state = state_for(snapshot, consent_id=consent_id, gpc_signal=gpc_signal, version=current_version)
    if gpc_signal and not state.gpc_honored:
        return None
    return state


def api_token(consent_id: str) -> str:
    """The token a page obtains from GET /api/consent and sends back with a POST: an HMAC of the
    consent id, so only a page allowed to read the GET answer (CORS) can post for this visitor."""
    return _mac("consent-api-token", consent_id)


def check_api_token(token: str | None, *, consent_id: str) -> bool:
    # Bytes: compare_digest raises TypeError on a str with non-ASCII characters (a header may hold them).
    return bool(token) and hmac.compare_digest(str(token).encode(), api_token(consent_id).encode())
