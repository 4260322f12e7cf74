"""Running the plan's automatic items: a channel of the one delivery core (services/delivery/outbox.py).

A FulfilmentRun is queued in the transaction that makes an item ready (the plan's build for access
and for the erasure's preview, the last approval for the erasure itself). A worker claims it through
`outbox.claim_one` (a claim at a time, on PostgreSQL with SKIP LOCKED), does the work in the business's
database outside any portal transaction (services/fulfilment/work.py), and then, in one portal
transaction, ends the claim and records the item's outcome and its audit event: the run is marked
done only if the claim it holds is still its own (the attempt number is unchanged), so two workers
never both record one run. A passing failure (the business's database unreachable) is retried with
backoff (`outbox.record_failure`); a permanent one (a write that failed and was rolled back, a
post-check that did not pass) fails the run and the item at once, naming the system and collection,
for staff to retry from the case page. A worker killed mid-run leaves the claim to run out: the
business's transaction died with its connection, so nothing is half-applied, and the next worker runs
it again. A kill after the business committed and before the portal recorded it is recognised by the
next attempt: before erasing, a run that was tried before reads the preview's collections again
(`erasure.already_applied`, the post-check's tests) and, when the erasure is in place, records it done
with that evidence instead of failing on the changed rows or hashing anonymized values a second time.
"""
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...lifecycle import IN_PROGRESS
from ...models import FulfilmentItem, FulfilmentRun, PrivacyRequest
from .. import audit
from ..delivery import outbox
from . import connections, corrections, work
from .plan import SETTLED, configured_map
from .run_queue import enough_approvals, queue  # noqa: F401  (queue: the callers' entry point)

log = logging.getLogger(__name__)

ACTIONS = {"access": work.access, "preview": work.preview, "erase": work.erase,
           "correct_preview": corrections.preview, "correct": corrections.correct}
APPROVED_ACTIONS = ("erase", "correct")  # they change the business's data: only once approved


class _Permanent(Exception):
    pass


def _classify(exc: Exception, run) -> outbox.Failure:
    # Building the access package is retried with backoff whatever failed: the items are recorded already.
    permanent = not isinstance(exc, connections.ConnectionUnavailable) and run.action != "package"
    return outbox.Failure(permanent, f"{type(exc).__name__}: {exc}" if not isinstance(exc, work.RunFailed) else str(exc))


def _failed_status(session: Session, run, give_up: bool) -> str:
    """A run that fails for good fails its item too, in the same transaction, naming why."""
    if not give_up:
        return "pending"
    item = session.get(FulfilmentItem, run.item_id)
    if run.action == "package":
        audit.record(session, action="access_package_failed", actor="system", request_id=item.request_id,
                     detail=f"the access package could not be built: {(run.last_error or '')[:300]}")
    elif item is not None and item.state not in SETTLED:
        item.state, item.updated_by, item.updated_at = "failed", "connector", clock.now()
        item.outcome_note = f"The {run.action} run failed: {run.last_error}"[:5000]
        audit.record(session, action="fulfilment_run_failed", actor="system", request_id=item.request_id,
                     detail=f"item {item.id}: {run.action} failed: {(run.last_error or '')[:300]}")
    return "failed"


def channel(cfg) -> outbox.Channel:
    return outbox.Channel(
        name="fulfilment run", model=FulfilmentRun, send=lambda run: None, classify=_classify, done_status="done",
        done_at="finished_at", retry_base=cfg["FULFIL_RUN_RETRY_BASE_SECONDS"],
        retry_max=cfg["FULFIL_RUN_RETRY_MAX_SECONDS"], retry_for=cfg["FULFIL_RUN_RETRY_FOR_SECONDS"],
        claim_for=cfg["FULFIL_RUN_CLAIM_SECONDS"], failed_status=_failed_status,
        label=lambda run: f" ({run.action} of item {run.item_id})")


def run_due(engine: Engine, cfg, *, item_ids: list[int] | None = None, limit: int = 20, stop=None, beat=None) -> int:
    """Claim and run due runs (only these items' when given); returns how many succeeded."""
    ch = channel(cfg)
    if item_ids is not None:
        ch.due_extra = lambda: FulfilmentRun.item_id.in_(item_ids)
    succeeded = last = 0
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(limit):
            if stop is not None and stop():
                break
            last, run = outbox.claim_one(session, ch, after=last)
            if last is None:
                break
            if run is None:
                continue
            try:
                item, done = _perform(session, run)
            except Exception as exc:  # noqa: BLE001  one run's failure never stops the pass
                failure = ch.classify(exc, run)
                run.last_error = failure.error[:500]  # detached: read by _failed_status, written by record_failure
                outbox.record_failure(session, ch, run, failure)
            else:
                succeeded += _finish(session, run, done)
                if run.action == "access":
                    _package_when_complete(session, item.request_id)
            if beat is not None:
                beat()
    return succeeded


def _perform(session: Session, run: FulfilmentRun):
    """The run's work, outside any portal transaction: (the item, a work.Done)."""
    item = session.get(FulfilmentItem, run.item_id)
    req = session.get(PrivacyRequest, item.request_id)
    if run.action == "package":  # the access package, built again after it failed
        from . import access_package

        session.rollback()
        access_package.build_when_complete(session, request_id=item.request_id)
        return item, None
    if item.state in SETTLED or req.status != IN_PROGRESS:
        session.rollback()
        return item, None
    if run.action in APPROVED_ACTIONS and not enough_approvals(item):
        raise _Permanent(f"the {run.action} is not approved")
    seeds = work.seeds_for(session, req)
    session.expunge(item)
    session.rollback()
    extra = {"tried_before": run.attempts > 1} if run.action == "erase" else {}  # attempts: this claim's included
    return item, ACTIONS[run.action](configured_map(), item, seeds, **extra)


def _finish(session: Session, run: FulfilmentRun, done: "work.Done | None") -> int:
    """End the claim and record the item's outcome in one transaction; nothing if the claim is lost."""
    now = clock.now()
    try:
        ended = session.execute(update(FulfilmentRun).where(
            FulfilmentRun.id == run.id, FulfilmentRun.status == "pending", FulfilmentRun.attempts == run.attempts)
            .values(status="done", claimed_until=None, finished_at=now, last_error=None))
        if ended.rowcount != 1:
            session.rollback()
            log.warning("fulfilment run %s: its claim was taken over; the outcome is not recorded twice", run.id)
            return 0
        if done is not None:
            item = session.get(FulfilmentItem, run.item_id, populate_existing=True)
            item.state, item.found, item.outcome_note = done.state, done.found, done.note
            item.detail = {**(item.detail or {}), **done.detail}
            if done.instructions:
                item.instructions = "\n".join(filter(None, (item.instructions, done.instructions)))
            item.answered_via, item.updated_by, item.updated_at = "connector", "connector", now
            audit.record(session, action=f"fulfilment_{run.action}", actor="system", request_id=item.request_id,
                         detail=done.audit)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    log.info("fulfilment run %s done (%s of item %s)", run.id, run.action, run.item_id)
    return 1


def _package_when_complete(session: Session, request_id: int) -> None:
    from . import access_package  # the package needs the runs' results; imported late, it imports plan

    try:
        access_package.build_when_complete(session, request_id=request_id)
    except Exception:  # noqa: BLE001  the items are recorded; the package is built again by a run
        session.rollback()
        log.exception("request %s: the access package could not be built; a run builds it again", request_id)
        access_package.queue_rebuild(session, request_id=request_id)


def deliver_for_app(app, **kw) -> int:
    """The worker's deliverer (background.DELIVERERS)."""
    with app.app_context():
        return run_due(app.extensions["db_engine"], app.config, **kw)


@atomic
def expedite(session: Session, *, req: PrivacyRequest) -> list[int]:
    """`fulfil run`: the case's pending runs made due now (a backoff skipped); their items' ids."""
    items = [i.id for i in session.execute(select(FulfilmentItem).where(
        FulfilmentItem.request_id == req.id, FulfilmentItem.kind == "automatic")).scalars()]
    if items:
        session.execute(update(FulfilmentRun).where(FulfilmentRun.item_id.in_(items),
                                                    FulfilmentRun.status == "pending")
                        .values(next_attempt_at=clock.now() - timedelta(seconds=1)))
    session.commit()
    return items


def run_case(session: Session, req: PrivacyRequest) -> int:
    """Run the case's ready automatic items now, in this process; how many runs succeeded."""
    items = expedite(session, req=req)
    if not items:
        return 0
    succeeded = run_due(current_app.extensions["db_engine"], current_app.config, item_ids=items)
    if req.request_type == "access":
        _package_when_complete(session, req.id)  # a package that failed before is built now
    return succeeded
