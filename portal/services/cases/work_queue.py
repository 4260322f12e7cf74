"""The console's queue: open cases by the due date in force, filters, search, counts, and the
acknowledgement list (§7021(a)).

Keyset pagination on (due, id); every filter has an index that leads with its column (models.cases).
The counts of open cases come from the rows the database triggers keep (open_counts).
"""
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from ... import clock, lifecycle, normalize
from ...i18n import lazy_gettext as _l
from ...input_guards import MAX_ID
from ...lifecycle import FINAL, OPEN
from ...models import (
    DUE_ORDER,
    IS_OPEN,
    SETTLED_ITEM_STATES,
    AgentAuthorization,
    Document,
    FulfilmentItem,
    OpenCaseCount,
    PrivacyRequest,
    RequestMessage,
    StaffUser,
)
from . import open_counts, references

DEADLINE_BANDS = {
    "overdue": _l("Overdue"),
    "due_soon": _l("Due soon"),
    "later": _l("Due later"),
}



def due_soon_days() -> int:
    """How many days ahead an open case counts as due soon (DUE_SOON_DAYS): the queue's mark and
    filter, and the staff digest."""
    return int(current_app.config["DUE_SOON_DAYS"])



@dataclass(frozen=True)
class QueueFilters:
    status: str = "open"  # open | closed | all | one status
    request_type: str = ""
    hold_reason: str = ""
    band: str = ""  # overdue | due_soon | later
    manner: str = ""
    q: str = ""
    items: str = ""  # overdue: cases with a fulfilment plan item past its due date
    after: str = ""  # keyset cursor "YYYY-MM-DD.<id>"
    assignee: str = ""  # mine | unassigned
    staff_id: int | None = None  # who "mine" is



@dataclass
class QueueRow:
    req: PrivacyRequest
    due: date
    days_left: int
    items_overdue: int = 0  # open plan items past their due date
    replied: bool = False  # the requester sent something since staff last read the case
    assignee: str | None = None  # the email of whoever took the case

    @property
    def is_open(self) -> bool:
        return self.req.status in OPEN

    @property
    def overdue(self) -> bool:
        return self.is_open and self.days_left < 0

    @property
    def due_soon(self) -> bool:
        return self.is_open and 0 <= self.days_left <= due_soon_days()



@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    counts: dict[str, int]
    elsewhere: int = 0  # a search's matches in the statuses the filter leaves out



def _cursor(value: str) -> tuple[date, int] | None:
    day, _sep, ident = value.partition(".")
    try:
        cursor = date.fromisoformat(day), int(ident)
    except ValueError:
        return None
    return cursor if 0 < cursor[1] <= MAX_ID else None  # the database cannot compare a larger id



def _search(q: str):
    """Reference (exact); email (in any letter case: the request's, or the consumer's or agent's on an
    agent's request); or name, folded as stored (accents off: "Jose" finds "José"), each word the
    start of a word of the name, in any order."""
    q = q.strip()
    ref = references.normalize(q)
    if ref and q.upper().replace(" ", "").replace("-", "").startswith("PR"):
        return PrivacyRequest.reference == ref
    if "@" in q:
        email = normalize.email(q)
        return or_(PrivacyRequest.email == email, PrivacyRequest.id.in_(select(AgentAuthorization.request_id).where(
            or_(func.lower(AgentAuthorization.consumer_email) == email, AgentAuthorization.agent_email == email))))
    words = normalize.fold(q).split()
    if not words:
        return PrivacyRequest.reference == (ref or "")
    named = and_(*[or_(_prefix(PrivacyRequest.name_folded, w, lower=False),
                       PrivacyRequest.name_folded.like("% " + _escape(w) + "%", escape="\\")) for w in words])
    return or_(named, PrivacyRequest.reference == (ref or ""))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")



def _prefix(column, prefix: str, *, lower: bool = True):
    """lower(column) (or the column, already folded) starts with `prefix`: a range an index serves,
    plus LIKE for exactness."""
    escaped = _escape(prefix)
    lowered = func.lower(column) if lower else column
    like = lowered.like(escaped + "%", escape="\\")
    if ord(prefix[-1]) >= 0x10FFFF:  # the last code point has no successor: no upper bound
        return and_(lowered >= prefix, like)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(lowered >= prefix, lowered < upper, like)



def queue(session: Session, *, filters: QueueFilters, on: date | None = None, page_size: int | None = None) -> QueuePage:
    """One page of the queue, ordered by the due date in force, then id (keyset pagination)."""
    on = on or clock.today()
    size = page_size or current_app.config["QUEUE_PAGE_SIZE"]
    f = filters
    where = []
    if f.status == "open":
        where.append(IS_OPEN)  # the partial indexes' own condition: the page reads open rows only
    elif f.status == "closed":
        where.append(PrivacyRequest.status.in_(sorted(FINAL)))
    elif f.status in lifecycle.TRANSITIONS:
        where.append(PrivacyRequest.status == f.status)
    pr = PrivacyRequest
    where += _filters(f, on, request_type=pr.request_type, hold_reason=pr.hold_reason, manner=pr.manner, due=DUE_ORDER)
    if f.q.strip():
        where.append(_search(f.q))
    where += _assigned(f)
    if f.items == "overdue":
        where.append(PrivacyRequest.id.in_(select(FulfilmentItem.request_id).where(overdue_items(on))))
    cursor = _cursor(f.after) if f.after else None
    page_where = list(where)
    if cursor:
        page_where.append(or_(DUE_ORDER > cursor[0], and_(DUE_ORDER == cursor[0], PrivacyRequest.id > cursor[1])))
    found = session.execute(select(PrivacyRequest, DUE_ORDER).where(*page_where)
                            .order_by(DUE_ORDER, PrivacyRequest.id).limit(size + 1)).all()
    late = dict(session.execute(select(FulfilmentItem.request_id, func.count()).where(
        FulfilmentItem.request_id.in_([req.id for req, _due in found[:size]]), overdue_items(on))
        .group_by(FulfilmentItem.request_id)).all()) if found else {}
    shown = [req for req, _due in found[:size]]
    activity = _requester_activity(session, [req.id for req in shown])
    takers = {req.assignee_id for req in shown} - {None}
    emails = dict(session.execute(select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(takers))).all()) if takers else {}
    rows = [QueueRow(req, _as_date(due), (_as_date(due) - on).days, late.get(req.id, 0),
                     replied=req.staff_read_at is not None and req.id in activity and activity[req.id] > req.staff_read_at,
                     assignee=emails.get(req.assignee_id)) for req, due in found[:size]]
    next_cursor = f"{rows[-1].due.isoformat()}.{rows[-1].req.id}" if len(found) > size else None
    elsewhere = 0
    if f.q.strip() and f.status != "all":  # a search finds any case: say how many the status filter hides
        elsewhere = session.execute(select(func.count()).select_from(PrivacyRequest).where(
            _search(f.q), *_assigned(f), *_filters(f, on, request_type=pr.request_type, hold_reason=pr.hold_reason,
                                                   manner=pr.manner, due=DUE_ORDER))).scalar_one() - \
            session.execute(select(func.count()).select_from(PrivacyRequest).where(*where)).scalar_one()
    return QueuePage(rows, next_cursor, queue_counts(session, filters=f, on=on), max(elsewhere, 0))


def _requester_activity(session: Session, ids: list[int]) -> dict:
    """Per case, when the requester last sent a message or a document (two grouped queries for a page)."""
    if not ids:
        return {}
    latest = dict(session.execute(select(RequestMessage.request_id, func.max(RequestMessage.created_at)).where(
        RequestMessage.request_id.in_(ids), RequestMessage.direction == "from_requester")
        .group_by(RequestMessage.request_id)).all())
    for request_id, at in session.execute(select(Document.request_id, func.max(Document.created_at)).where(
            Document.request_id.in_(ids), Document.purpose.in_(("evidence", "correction", "authorization")))
            .group_by(Document.request_id)).all():
        latest[request_id] = max(at, latest.get(request_id, at))
    return latest


def _assigned(f: QueueFilters) -> list:
    """The "mine" and "unassigned" filters."""
    if f.assignee == "mine" and f.staff_id is not None:
        return [PrivacyRequest.assignee_id == f.staff_id]
    if f.assignee == "unassigned":
        return [PrivacyRequest.assignee_id.is_(None)]
    return []



def queue_counts(session: Session, *, filters: QueueFilters, on: date) -> dict[str, int]:
    """The open cases per status under the queue's filters but status (the counts are how you choose
    it), in lifecycle order. Closed ones are not counted: they grow without end and need no live
    count (the status filter still lists them; §7102 metrics count them). Read from the counts the
    triggers keep (open_counts), or counted live with a search."""
    f = filters
    if f.q.strip() or f.items == "overdue" or _assigned(f):
        pr = PrivacyRequest
        narrowing = ([_search(f.q)] if f.q.strip() else []) + _assigned(f)
        if f.items == "overdue":
            narrowing.append(pr.id.in_(select(FulfilmentItem.request_id).where(overdue_items(on))))
        found = dict(session.execute(select(pr.status, func.count()).where(IS_OPEN, *narrowing, *_filters(
            f, on, request_type=pr.request_type, hold_reason=pr.hold_reason, manner=pr.manner, due=DUE_ORDER)
        ).group_by(pr.status)).all())
    else:
        c = OpenCaseCount
        found = open_counts.per_status(session, *_filters(
            f, on, request_type=c.request_type, hold_reason=c.hold_reason, manner=c.manner, due=c.due_on),
            by_due=f.band in DUE_BANDS)
    return {status: found[status] for status in lifecycle.STATUS_LABELS if status in found}



DUE_BANDS = ("overdue", "due_soon", "later")


def overdue_items(on: date):
    """The condition of a fulfilment plan item still open after its due date (the plan's own
    module is fulfilment's; the queue reads only the table)."""
    return and_(FulfilmentItem.state.not_in(SETTLED_ITEM_STATES), FulfilmentItem.due_on < on)



def _filters(f: QueueFilters, on: date, *, request_type, hold_reason, manner, due) -> list:
    """The queue's filters but status and search, on the given columns (the cases', or the counts')."""
    where = []
    if f.request_type in lifecycle.REQUEST_TYPES:
        where.append(request_type == f.request_type)
    if f.hold_reason in lifecycle.HOLD_REASONS:
        where.append(hold_reason == f.hold_reason)
    if f.manner in lifecycle.MANNERS:
        where.append(manner == f.manner)
    soon = on + timedelta(days=due_soon_days())
    if f.band == "overdue":
        where.append(due < on)
    elif f.band == "due_soon":
        where.append(and_(due >= on, due <= soon))
    elif f.band == "later":
        where.append(due > soon)
    return where



def _as_date(value) -> date:
    # SQLite returns coalesce() of two DATE columns as text; PostgreSQL as a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))



@dataclass(frozen=True)
class Acknowledgements:
    """§7021(a): open cases whose receipt has not been acknowledged, due within 10 business days."""

    due: list[PrivacyRequest]
    overdue: list[PrivacyRequest]



def acknowledgements(session: Session, *, on: date | None = None, limit: int = 20) -> Acknowledgements:
    """Open cases not yet acknowledged: those past their acknowledgement date, and the others."""
    on = on or clock.today()
    rows = session.execute(select(PrivacyRequest).where(
        IS_OPEN, PrivacyRequest.acknowledged_at.is_(None))
        .order_by(PrivacyRequest.acknowledgement_due, PrivacyRequest.id).limit(limit * 2)).scalars().all()
    return Acknowledgements(due=[r for r in rows if r.acknowledgement_due >= on][:limit],
                            overdue=[r for r in rows if r.acknowledgement_due < on][:limit])
