"""Public references: PR-XXXX-XXXX, Crockford base32, random, shared by requests and inquiries."""
import secrets

from sqlalchemy import select
from sqlmodel import Session

from ...models import Inquiry, PrivacyRequest

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new() -> str:
    chars = "".join(secrets.choice(CROCKFORD) for _ in range(8))
    return f"PR-{chars[:4]}-{chars[4:]}"


def unique(session: Session) -> str:
    """A reference no request or inquiry has yet (40 random bits: a retry is practically never needed)."""
    while True:
        reference = new()
        taken = session.execute(select(PrivacyRequest.id).where(PrivacyRequest.reference == reference)).first() or \
            session.execute(select(Inquiry.id).where(Inquiry.reference == reference)).first()
        if not taken:
            return reference


def normalize(value: str) -> str | None:
    """Canonical PR-XXXX-XXXX from what a person typed (case, spaces, O/0 and I/L/1 forgiven)."""
    raw = value.upper().replace(" ", "").replace("-", "")
    if raw.startswith("PR"):
        raw = raw[2:]
    raw = raw.translate(str.maketrans("OIL", "011"))
    if len(raw) != 8 or any(c not in CROCKFORD for c in raw):
        return None
    return f"PR-{raw[:4]}-{raw[4:]}"
