"""Approving a previewed erasure, and retrying a failed run: staff with the admin role only; a system
with `health_data: true` needs two different people. The last approval queues the erasure's run in
the same transaction; nothing in the business's database changes before it."""
from sqlalchemy import select
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...models import FulfilmentItem, PrivacyRequest, StaffUser
from .. import audit
from .run_queue import enough_approvals, queue


class ApprovalRefused(Exception):
    """Why this approval or retry is not recorded (for people)."""


def _item(session: Session, req: PrivacyRequest, item_id: int | None) -> FulfilmentItem:
    found = session.execute(select(FulfilmentItem).where(
        FulfilmentItem.request_id == req.id, FulfilmentItem.kind == "automatic").order_by(FulfilmentItem.id)).scalars()
    items = [i for i in found if item_id is None or i.id == item_id]
    waiting = [i for i in items if (i.detail or {}).get("preview") and i.state == "pending"]
    if item_id is not None and not items:
        raise LookupError(item_id)
    if not waiting:
        raise ApprovalRefused("No previewed erasure waits for approval in this case.")
    return waiting[0]


@atomic
def approve(session: Session, *, req: PrivacyRequest, staff: StaffUser, item_id: int | None = None) -> FulfilmentItem:
    """Record one admin's approval of an item's previewed erasure (the first waiting one when no id)."""
    if staff.role != "admin" or not staff.active:
        raise ApprovalRefused("Only an active staff member with the admin role approves an erasure.")
    item = _item(session, req, item_id)
    detail = dict(item.detail or {})
    approvals = list(detail.get("approvals", []))
    if any(a["staff"] == staff.email for a in approvals):
        raise ApprovalRefused("You approved this already: the system holds health data, so a second person must.")
    approvals.append({"staff": staff.email, "at": clock.now().isoformat()})
    item.detail = {**detail, "approvals": approvals}
    audit.record(session, action="fulfilment_erasure_approved", actor=audit.staff_actor(staff), request_id=req.id,
                 detail=f"item {item.id} in {item.system}: approval {len(approvals)} of {detail.get('approvals_needed', 1)}")
    if enough_approvals(item):
        item.state = "in_progress"
        queue(session, item=item, action="erase", by=audit.staff_actor(staff))
    session.commit()
    return item


@atomic
def retry(session: Session, *, req: PrivacyRequest, staff: StaffUser, item_id: int) -> FulfilmentItem:
    """Run a failed automatic item again: an erasure is previewed again and approved again (the rows may
    have changed since), an access collection simply runs again."""
    item = session.get(FulfilmentItem, item_id)
    if item is None or item.request_id != req.id or item.kind != "automatic":
        raise LookupError(item_id)
    if item.state != "failed":
        raise ApprovalRefused("Only a failed item is retried.")
    action = "access" if req.request_type == "access" else "preview"
    item.state = "pending"
    item.detail = {k: v for k, v in (item.detail or {}).items() if k not in ("preview", "approvals")}
    queue(session, item=item, action=action, by=audit.staff_actor(staff))
    audit.record(session, action="fulfilment_retried", actor=audit.staff_actor(staff), request_id=req.id,
                 detail=f"item {item.id} in {item.system}: {action} queued again")
    session.commit()
    return item
