"""Hashes of the connectors: the keyed hash that anonymizes a value, and the evidence hashes.

Evidence never carries a value: a collection's rows are named by the SHA-256 of their sorted
primary keys, a correction's values by a keyed hash (HMAC-SHA256) of the values before and after:
a plain hash of a phone number or a date of birth is undone by trying every one, and the evidence
is kept in the audit chain for good. Both keys are derived from the portal's secret (`anonymize_key`,
`evidence_key`), so a rotated secret changes every later hash in one place.
"""
import hashlib
import hmac
import json
from datetime import date, datetime, time
from decimal import Decimal

_ANONYMIZE_PURPOSE = b"privacy-portal/fulfilment/anonymize/v1"
_EVIDENCE_PURPOSE = b"privacy-portal/fulfilment/evidence/v1"


def anonymize_key(secret: str | bytes) -> bytes:
    """The key of `anonymized` values, derived from the portal's SECRET_KEY (or an instance key)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    if not raw:
        raise ValueError("an empty secret cannot key the anonymizing hash")
    return hmac.new(raw, _ANONYMIZE_PURPOSE, hashlib.sha256).digest()


def evidence_key(secret: str | bytes) -> bytes:
    """The key of a correction's before/after hashes, derived from the portal's SECRET_KEY."""
    raw = secret.encode() if isinstance(secret, str) else secret
    if not raw:
        raise ValueError("an empty secret cannot key the evidence hash")
    return hmac.new(raw, _EVIDENCE_PURPOSE, hashlib.sha256).digest()


def anonymized(key: bytes, value, length: int | None = None) -> str:
    """HMAC-SHA256 of the value's text under the key, in hex; cut to a column's length if it has one."""
    digest = hmac.new(key, plain_text(value).encode(), hashlib.sha256).hexdigest()
    return digest[:length] if length else digest


def plain(value):
    """A database value as JSON can hold it (dates in ISO 8601, decimals and bytes as text)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def plain_text(value) -> str:
    value = plain(value)
    return value if isinstance(value, str) else json.dumps(value)


def _canonical(values) -> bytes:
    """The values as one text, sorted first so the order rows came back in does not matter."""
    return json.dumps(sorted(json.dumps([plain(v) for v in item] if isinstance(item, tuple) else plain(item),
                                        sort_keys=True, default=str) for item in values)).encode()


def sha256_of(values) -> str:
    """SHA-256 of a list of values (row keys: the portal's own evidence of which rows it touched)."""
    return hashlib.sha256(_canonical(values)).hexdigest()


def keyed_hash_of(key: bytes, values) -> str:
    """HMAC-SHA256 of a list of values under `evidence_key`: comparable, not guessable."""
    return hmac.new(key, _canonical(values), hashlib.sha256).hexdigest()
