"""Approving a previewed erasure or correction, and retrying a failed run: staff with the admin role
only; a system with `health_data: true` needs two different people. The last approval queues the
erasure's (or correction's) run in the same transaction; nothing in the business's database changes
before it."""
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
    waiting = [i for i in items if _previewed(i) and i.state == "pending"]
    if item_id is not None and not items:
        raise LookupError(item_id)
    if not waiting:
        raise ApprovalRefused("No previewed erasure or correction waits for approval in this case.")
    return waiting[0]


def _previewed(item: FulfilmentItem) -> str | None:
    """What the item's preview awaits: "erase", "correct", or None."""
    detail = item.detail or {}
    return "erase" if detail.get("preview") else "correct" if detail.get("correction_preview") else None


@atomic
def approve(session: Session, *, req: PrivacyRequest, staff: StaffUser, item_id: int | None = None) -> FulfilmentItem:
    """Record one admin's approval of an item's previewed erasure or correction (the first waiting one
    when no id)."""
    if staff.role != "admin" or not staff.active:
        raise ApprovalRefused("Only an active staff member with the admin role approves an erasure or a correction.")
    item = _item(session, req, item_id)
    detail = dict(item.detail or {})
    approvals = list(detail.get("approvals", []))
    if any(a["staff"] == staff.email for a in approvals):
        raise ApprovalRefused("You approved this already: the system holds health data, so a second person must.")
    approvals.append({"staff": staff.email, "at": clock.now().isoformat()})
    item.detail = {**detail, "approvals": approvals}
    action = _previewed(item)
    audit.record(session, action="fulfilment_erasure_approved" if action == "erase" else "fulfilment_correction_approved", actor=audit.staff_actor(staff), request_id=req.id,
                 detail=f"item {item.id} in {item.system}: approval {len(approvals)} of {detail.get('approvals_needed', 1)}")
    if enough_approvals(item):
        item.state = "in_progress"
        queue(session, item=item, action=action, by=audit.staff_actor(staff))
    session.commit()
    return item


@atomic
def retry(session: Session, *, req: PrivacyRequest, staff: StaffUser, item_id: int) -> FulfilmentItem:
    """Run a failed automatic item again: an erasure is previewed again and approved again (the rows may
    have changed since), an access collection simply runs again, a correction waits for staff to choose
    its fields again (the values typed before are dropped)."""
    item = session.get(FulfilmentItem, item_id)
    if item is None or item.request_id != req.id or item.kind != "automatic":
        raise LookupError(item_id)
    if item.state != "failed":
        raise ApprovalRefused("Only a failed item is retried.")
    action = {"access": "access", "delete": "preview"}.get(req.request_type)
    item.state = "pending"
    item.detail = {k: v for k, v in (item.detail or {}).items() if k not in (
        "preview", "approvals", "correction_preview", "correction_values", "staff_tasks", "carried_values")}
    if action:
        queue(session, item=item, action=action, by=audit.staff_actor(staff))
    audit.record(session, action="fulfilment_retried", actor=audit.staff_actor(staff), request_id=req.id,
                 detail=f"item {item.id} in {item.system}: {action or 'the choice of fields'} again")
    session.commit()
    return item
