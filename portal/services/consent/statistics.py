"""For staff: the choices per policy version, and every record as CSV (the export is audited)."""
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session

from ... import db
from ...models import ConsentRecord
from .. import audit
from .choices import categories
from .receipts import purpose_status


@dataclass
class VersionStats:
    policy_version: str
    records: int
    visitors: int = 0
    decided: int = 0
    gpc: int = 0
    granted: dict | None = None  # category key -> visitors whose latest choice is "on"


def statistics(session: Session) -> list[VersionStats]:
    """Per policy version (newest first): records, visitors, and each visitor's latest choice per category."""
    optional = [c for c in categories() if not c.required]
    per_version = session.execute(
        select(ConsentRecord.policy_version, func.count(), func.max(ConsentRecord.id))
        .group_by(ConsentRecord.policy_version).order_by(func.max(ConsentRecord.id).desc())).all()
    stats = {v: VersionStats(policy_version=v, records=n, granted={c.key: 0 for c in optional})
             for v, n, _ in per_version}
    latest = (select(func.max(ConsentRecord.id))
              .group_by(ConsentRecord.consent_id, ConsentRecord.policy_version).scalar_subquery())
    rows = session.execute(select(ConsentRecord.policy_version, ConsentRecord.choices, ConsentRecord.gpc)
                           .where(ConsentRecord.id.in_(latest)).execution_options(yield_per=2000))
    for version, choices, gpc in rows:
        s = stats[version]
        s.visitors += 1
        s.gpc += bool(gpc)
        s.decided += all(c.key in choices for c in optional)
        for c in optional:
            s.granted[c.key] += bool(choices.get(c.key))
    return list(stats.values())


def export_csv(session: Session, *, actor: str) -> Iterator[str]:
    """Every record as CSV lines, oldest first; the export is audited before the first line."""
    audit.record(session, action="consent_export", actor=actor, detail="consent records CSV")
    session.commit()
    cats = categories()
    header = ["receipt_id", "consent_id", "created_at", "policy_version", "source", "gpc", "user_agent_family",
              *(c.key for c in cats)]

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        stmt = select(ConsentRecord).order_by(ConsentRecord.id).execution_options(yield_per=2000)
        # The stream outlives the request's session, so it reads through its own and closes it;
        # read-only, so on SQLite it never holds the write lock while the visitor downloads.
        with Session(session.get_bind().execution_options(**{db.READ_ONLY: True})) as reader:
            yield from _rows(reader, stmt, writer, buffer)

    def _rows(reader: Session, stmt, writer, buffer) -> Iterator[str]:
        for i, record in enumerate(reader.execute(stmt).scalars(), 1):
            writer.writerow([record.receipt_id, record.consent_id, record.created_at.isoformat(), record.policy_version,
                             record.source, "yes" if record.gpc else "no", record.user_agent_family or "",
                             *(purpose_status(c, record) for c in cats)])
            if i % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return lines()
