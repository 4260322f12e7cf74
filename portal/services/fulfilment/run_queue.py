"""Queueing a run of an automatic item, and the approvals an erasure waits for (no import of the plan,
so the plan's build can queue the first runs in its own transaction)."""
from sqlalchemy import select
from sqlmodel import Session

from ...models import FulfilmentItem, FulfilmentRun


def queue(session: Session, *, item: FulfilmentItem, action: str, by: str = "system") -> FulfilmentRun:
    """Queue a run of the item in the caller's transaction (an item has one open run at a time)."""
    open_run = session.execute(select(FulfilmentRun).where(
        FulfilmentRun.item_id == item.id, FulfilmentRun.status == "pending")).scalar()
    if open_run is not None:
        return open_run
    run = FulfilmentRun(item_id=item.id, action=action, requested_by=by[:64])
    session.add(run)
    session.flush()
    return run


def enough_approvals(item: FulfilmentItem) -> bool:
    """Whether the erasure has its approvals: one admin, two different ones for health data."""
    detail = item.detail or {}
    return len({a["staff"] for a in detail.get("approvals", [])}) >= int(detail.get("approvals_needed", 1))


def first_action(request_type: str) -> str | None:
    """What an automatic item runs first: access collects, a deletion is previewed; a correction waits
    for staff to choose the fields (a staff task until then)."""
    return {"access": "access", "delete": "preview"}.get(request_type)
