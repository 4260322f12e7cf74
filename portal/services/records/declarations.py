"""Signed declarations (§7062(c)): a declaration under penalty of perjury is part of the business's
§7101 record-keeping. When retention strips a closed case's verification data (§7060(d)) or deletes
the case (a completed deletion, 30 days on), its declaration is first copied beside the case's
§7101 record, and goes with that record (RETENTION_RECORD_MONTHS, 24 at least)."""
from sqlalchemy import exists, select
from sqlmodel import Session

from ...models import PrivacyRequest, RequestRecord, SignedDeclaration

CHUNK = 5000  # ids per statement, as in retention


def keep(session: Session, request_ids) -> int:
    """Copy the declarations of these cases beside their §7101 records (once), in the caller's
    transaction; how many were copied."""
    ids, kept = sorted(request_ids), 0
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(RequestRecord.id, PrivacyRequest.declaration_signature, PrivacyRequest.declaration_signed_at)
            .join(RequestRecord, RequestRecord.reference == PrivacyRequest.reference)
            .where(PrivacyRequest.id.in_(ids[start:start + CHUNK]), PrivacyRequest.declaration_signature.is_not(None),
                   ~exists().where(SignedDeclaration.record_id == RequestRecord.id))).all()
        session.add_all(SignedDeclaration(record_id=record_id, signature=signature, signed_at=signed_at)
                        for record_id, signature, signed_at in rows)
        kept += len(rows)
    session.flush()
    return kept


def for_reference(session: Session, reference: str) -> SignedDeclaration | None:
    """The declaration kept with a request's §7101 record, if any."""
    return session.execute(select(SignedDeclaration).join(RequestRecord, RequestRecord.id == SignedDeclaration.record_id)
                           .where(RequestRecord.reference == reference)).scalar()
