"""The top of the console's case page: who, what, due when, what is needed next, the newest message
from the requester and any new document, marked "replied" until a member of staff reads the case;
and who took the case (assignees, the queue's "mine" and "unassigned").

The two marks (`assignee_id`, `staff_read_at`) are written with plain UPDATE statements that leave
the case's `version` alone: marking a case read or taking it never makes a colleague's open form
stale. Opening the case page writes nothing (pages that only read never wait for the write lock):
staff mark it read with "Mark as read", or by acting on it.
"""
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlmodel import Session

from ... import clock, lifecycle
from ...db import atomic
from ...lifecycle import FINAL, IN_PROGRESS, ON_HOLD
from ...models import Document, DownstreamNotice, PrivacyRequest, RequestMessage, StaffUser
from .. import audit
from . import notices

# The requester's (or agent's) own documents: what can arrive with a reply.
REQUESTER_DOCUMENTS = ("evidence", "correction", "authorization")

HOLD_STEPS = {
    "information_requested": "Wait for the requester's answer to your request for information (it comes back to "
                             "the queue when they answer).",
    "agent_authorization": "Review the agent's authorization below: accept it, reject it, or ask the agent for more.",
    "data_mismatch": "The details did not match our records: verify identity by hand, or ask the requester for more.",
    "high_certainty_required": "More matching points are needed: verify identity by hand with the sources you "
                               "checked, or ask the requester for more.",
    "fraud_suspected": "Security review: clear the hold once satisfied, or deny with the documented reason.",
}


@dataclass
class Summary:
    """What the top of the case page says."""

    who: str
    reach: str  # how the requester gets our messages: an email address, or by post
    due: date
    days_left: int
    next_step: str
    newest_message: RequestMessage | None
    new_documents: list[Document] = field(default_factory=list)
    replied: bool = False  # something arrived from the requester since staff last read the case
    never_read: bool = False
    assignee: StaffUser | None = None
    mine: bool = False


def _newest_activity(session: Session, req: PrivacyRequest) -> datetime | None:
    """When the requester last sent a message or a document."""
    message = session.execute(select(func.max(RequestMessage.created_at)).where(
        RequestMessage.request_id == req.id, RequestMessage.direction == "from_requester")).scalar()
    document = session.execute(select(func.max(Document.created_at)).where(
        Document.request_id == req.id, Document.purpose.in_(REQUESTER_DOCUMENTS))).scalar()
    moments = [m for m in (message, document) if m is not None]
    return max(moments) if moments else None


def _after(moment: datetime | None, since: datetime | None) -> bool:
    return moment is not None and (since is None or moment > since)


def next_step(session: Session, req: PrivacyRequest, *, plan_open: int = 0, replied: bool = False) -> str:
    """What is needed next on this case, in one sentence for staff."""
    if req.status in FINAL:
        return "Closed: nothing more to do."
    lead = "The requester replied: read their message below, then " if replied else ""
    if req.status == lifecycle.AWAITING_EMAIL:
        step = ("wait for the requester to confirm their email address; the request expires unconfirmed on its "
                "due date.")
    elif req.status == lifecycle.VERIFYING:
        step = "verify the requester's identity: see the matching below, then verify by hand, ask for more, or deny."
    elif req.status == ON_HOLD:
        step = HOLD_STEPS.get(req.hold_reason or "", "resolve the hold.")
        step = step[0].lower() + step[1:]
    elif req.status == IN_PROGRESS:
        waiting = _open_notices(session, req)
        if plan_open:
            step = f"finish the fulfilment plan: {plan_open} item{'s' if plan_open != 1 else ''} still open."
        elif req.request_type in ("opt_out", "limit"):
            step = ("nothing, unless a notice downstream fails: the case completes by itself once every notice "
                    "is delivered, recorded or explained" + (f" ({waiting} still open)." if waiting else "."))
        elif waiting and req.request_type != "correct":
            step = f"settle the notices downstream ({waiting} not yet delivered, recorded or explained), then complete."
        else:
            step = "complete the request: write the response, check it on the review page, then send it."
    else:
        step = "check the case."
    return lead + step if lead else step[0].upper() + step[1:]


def _open_notices(session: Session, req: PrivacyRequest) -> int:
    """Notices to act not yet settled, or recipients not yet told (read only: the notices panel refreshes)."""
    if req.request_type not in notices.NOTICE_TYPES:
        return 0
    told = session.execute(select(DownstreamNotice.recipient_id, DownstreamNotice.state).where(
        DownstreamNotice.request_id == req.id, DownstreamNotice.purpose == notices.ACT)).all()
    missing = len([r for r in notices.concerned(session, req) if r.id not in {t for t, _s in told}])
    return missing + len([s for _t, s in told if s not in notices.SETTLED])


def summary(session: Session, req: PrivacyRequest, *, messages: list[RequestMessage], staff: StaffUser | None,
            plan_open: int = 0, on: date | None = None) -> Summary:
    """The case page's summary, from the case and what it already read (its messages)."""
    on = on or clock.today()
    from_requester = [m for m in messages if m.direction == "from_requester"]
    newest = from_requester[-1] if from_requester else None
    since = req.staff_read_at
    documents = list(session.execute(select(Document).where(
        Document.request_id == req.id, Document.purpose.in_(REQUESTER_DOCUMENTS)).order_by(Document.id)).scalars())
    new_documents = [d for d in documents if since is None or d.created_at > since]
    replied = since is not None and (_after(newest.created_at if newest else None, since) or bool(new_documents))
    assignee = session.get(StaffUser, req.assignee_id) if req.assignee_id else None
    reach = req.email if req.email else "by post (no email address)"
    return Summary(who=f"{req.first_name} {req.last_name}", reach=reach, due=req.due, days_left=(req.due - on).days,
                   next_step=next_step(session, req, plan_open=plan_open, replied=replied), newest_message=newest,
                   new_documents=new_documents, replied=replied, never_read=since is None, assignee=assignee,
                   mine=staff is not None and assignee is not None and assignee.id == staff.id)


def unread(session: Session, req: PrivacyRequest) -> bool:
    """Something arrived since staff last read the case (or staff never read it)."""
    return req.staff_read_at is None or _after(_newest_activity(session, req), req.staff_read_at)


def mark_read(session: Session, *, req: PrivacyRequest) -> None:
    """A member of staff read the case: what the requester sent so far is no longer "replied"."""
    if unread(session, req):
        _mark_read(session, request_id=req.id, at=clock.now())


@atomic
def _mark_read(session: Session, *, request_id: int, at: datetime) -> None:
    session.execute(update(PrivacyRequest).where(PrivacyRequest.id == request_id).values(staff_read_at=at)
                    .execution_options(synchronize_session=False))
    session.commit()


@atomic
def assign(session: Session, *, req: PrivacyRequest, staff: StaffUser, take: bool) -> None:
    """Take the case (it is assigned to `staff`) or give it back (unassigned); on record."""
    session.execute(update(PrivacyRequest).where(PrivacyRequest.id == req.id)
                    .values(assignee_id=staff.id if take else None).execution_options(synchronize_session=False))
    audit.record(session, action="case_taken" if take else "case_unassigned", actor=audit.staff_actor(staff),
                 request_id=req.id, detail=f"assignee staff:{staff.id}" if take else None)
    session.commit()
