"""The queue's counts of open cases per status, from `open_case_count` (models.OpenCaseCount): rows of
+1 and -1 that triggers on privacy_request add as cases open, move and close, folded by the worker.
A count is a sum over a few dozen rows (a few thousand with a due band), whatever the number of
cases; it is exact at every moment, folded or not: each trigger row is written in its case's own
transaction."""
from sqlalchemy import delete, func, insert, select, text
from sqlmodel import Session

from ... import db
from ...models import OpenCaseCount

C = OpenCaseCount
KEY = (C.status, C.request_type, C.hold_reason, C.manner, C.due_on)
COLUMNS = ", ".join(c.key for c in KEY)


def per_status(session: Session, *where, by_due: bool = False) -> dict[str, int]:
    """Open cases per status, among those the conditions on OpenCaseCount's columns select; `by_due`
    when a condition is on the due date (the rows with one), else the undated rows are read."""
    rows = C.due_on.is_not(None) if by_due else C.due_on.is_(None)
    return dict(session.execute(select(C.status, func.sum(C.n)).where(rows, *where).group_by(C.status)
                                .having(func.sum(C.n) > 0)).all())


@db.atomic
def compact(session: Session) -> int:
    """Fold the rows into one per key (none for a key whose cases have all moved on); returns how
    many rows there were. On PostgreSQL one statement deletes and re-adds what it saw, so rows that
    triggers add meanwhile stay as they are; on SQLite the transaction holds the write lock."""
    before = session.execute(select(func.count()).select_from(C)).scalar()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"""
            WITH moved AS (DELETE FROM open_case_count RETURNING {COLUMNS}, n)
            INSERT INTO open_case_count ({COLUMNS}, n)
            SELECT {COLUMNS}, sum(n) FROM moved GROUP BY {COLUMNS} HAVING sum(n) <> 0"""))
    else:
        folded = session.execute(select(*KEY, func.sum(C.n)).group_by(*KEY).having(func.sum(C.n) != 0)).all()
        session.execute(delete(C))
        if folded:
            session.execute(insert(C), [dict(zip([*(c.key for c in KEY), "n"], row)) for row in folded])
    session.commit()
    return before
