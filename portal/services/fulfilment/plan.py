"""The plan: one item per system the map's rules touch for a case's request type, built when the case
reaches in_progress (a status listener registered in create_app), and completion refused until every
item is settled (a completion check registered in create_app).

Kinds. An *automatic* item is a system with a connection (for a deletion or a correction: a
`write_connection`); until a connector runs it, staff record its outcome by hand. A *staff* item is a
system nobody can reach from here: assigned to the map's `owner`, with instructions from the map and
a due date FULFIL_ITEM_LEAD_DAYS before the response due date (never in the past). A *processor* item
is a system whose `recipient:` names a configured Recipient, and, for opt-out and limit requests,
every recipient the notices concern (`notices.concerned`: those that receive sale/sharing or
sensitive data, §7026(f), §7027(g)).

One message, not two. A processor item goes out *as* the recipient's notice downstream: the plan
creates that recipient's notice to act (`notices.notify_recipient`), with the answer link and the
webhook reply address in its payload, so when staff press "Send notices" that recipient is already
told and gets nothing twice. The notice tracks the delivery; the item tracks the answer. A recipient
told by hand gets no link: staff record its answer on the item.

A plan exists only where a data map is configured with at least one system: without one, cases go
on as before (notices alone), so a portal with no map loses nothing.

Whose data. A system marked `client: KEY` holds data the business keeps for a client, as its service
provider or business associate: a consumer's request never reaches it (the clients package forwards
or explains instead); a client's own request reaches only its systems. Which one a case is, a scope
registered in create_app says (`register_scope`: the client's key, or None for the business's own).
"""
import logging
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from ... import clock
from ...lifecycle import COMPLETED, FINAL, IN_PROGRESS, PARTIALLY_COMPLETED
from ...models import SETTLED_ITEM_STATES, FulfilmentItem, PrivacyRequest, Recipient, StaffUser
from .. import audit
from ..cases import notices, outcomes
from . import answers, datamap_loader, run_queue
from .datamap import DataMap
from .instructions import for_system

log = logging.getLogger(__name__)

MAP_TYPES = ("access", "delete", "correct")
RECIPIENT_TYPES = ("opt_out", "limit")
KINDS = {"automatic": "Automatic", "staff": "Staff task", "processor": "Processor"}
STATES = {"pending": "Pending", "in_progress": "In progress", "done": "Done", "not_found": "Not found",
          "not_held": "Not held", "failed": "Failed"}
SETTLED = frozenset(SETTLED_ITEM_STATES)
OPEN_STATES = tuple(s for s in STATES if s not in SETTLED)


def configured_map() -> DataMap:
    """The data map at DATAMAP_PATH as loaded now (a file with problems contributes what it can)."""
    return datamap_loader.load(Path(current_app.config["DATAMAP_PATH"])).datamap


def items_for(session: Session, req: PrivacyRequest) -> list[FulfilmentItem]:
    return list(session.execute(select(FulfilmentItem).where(FulfilmentItem.request_id == req.id)
                                .order_by(FulfilmentItem.id)).scalars())


def item_due(req: PrivacyRequest, today: date | None = None) -> date:
    """FULFIL_ITEM_LEAD_DAYS before the response due date in force, never before today."""
    today = today or clock.today()
    due = req.extended_due or req.response_due
    return max(today, due - timedelta(days=int(current_app.config["FULFIL_ITEM_LEAD_DAYS"])))


Scope = Callable[[Session, PrivacyRequest], "str | None"]
_SCOPES = "fulfilment_plan_scopes"


def register_scope(app, scope: Scope) -> None:
    """Have the plan ask `scope(session, req)` whose data a case may reach: a client's key, or None."""
    scopes = app.extensions.setdefault(_SCOPES, [])
    if scope not in scopes:
        scopes.append(scope)


def data_scope(session: Session, req: PrivacyRequest) -> str | None:
    """The client whose data this case reaches (None: the business's own data)."""
    for scope in current_app.extensions.get(_SCOPES, ()):
        found = scope(session, req)
        if found:
            return found
    return None


# Values an item keeps, encrypted, only for a run to come: a correction's typed values, the values other
# systems carried into an erasure's preview.
SEALED_UNTIL_CLOSED = ("correction_values", "carried_values")


def status_changed(session: Session, req: PrivacyRequest) -> None:
    """The status listener: a case that reaches in_progress gets its plan, once; a correction completed
    asks its processors now, with what was decided (§7023(c): never before the decision); a case that
    closes (completed, denied, withdrawn, ...) drops what its items kept for runs that can no longer come."""
    if req.request_type == "correct" and req.status in (COMPLETED, PARTIALLY_COMPLETED):
        ask_decided_correction(session, req)
    if req.status in FINAL:
        for item in session.execute(select(FulfilmentItem).where(FulfilmentItem.request_id == req.id)).scalars():
            if any((item.detail or {}).get(key) for key in SEALED_UNTIL_CLOSED):
                item.detail = {k: v for k, v in item.detail.items() if k not in SEALED_UNTIL_CLOSED}
        return
    if req.status != IN_PROGRESS or req.request_type not in MAP_TYPES + RECIPIENT_TYPES:
        return
    if session.execute(select(FulfilmentItem.id).where(FulfilmentItem.request_id == req.id).limit(1)).first():
        return
    datamap = configured_map()
    if not datamap.systems:
        return
    build(session, req, datamap=datamap)


def ask_decided_correction(session: Session, req: PrivacyRequest) -> None:
    """The processors of a correction, asked once it is decided (their notice says what was corrected)."""
    for item in items_for(session, req):
        if item.kind == "processor" and item.notice_id is None and item.recipient_id is not None:
            answers.ask(session, req=req, item=item, recipient=session.get(Recipient, item.recipient_id))


def _deferred(req: PrivacyRequest, item: FulfilmentItem) -> bool:
    """A correction's processor item waits for the decision: it is asked at completion, not before."""
    return req.request_type == "correct" and item.kind == "processor" and item.notice_id is None


def build(session: Session, req: PrivacyRequest, *, datamap: DataMap) -> list[FulfilmentItem]:
    """The case's plan from the map, in the caller's transaction (the status change's)."""
    bases = outcomes.all_bases()
    bases = {code: {**b, "citation": outcomes.basis_citation(b, req.request_type)} for code, b in bases.items()}
    recipients = {r.name: r for r in session.execute(select(Recipient).where(Recipient.active.is_(True))).scalars()}
    staff = {s.email.lower(): s for s in session.execute(select(StaffUser).where(StaffUser.active.is_(True))).scalars()}
    due, made = item_due(req), []
    scope = data_scope(session, req)
    if req.request_type in MAP_TYPES:
        for system in datamap.systems:
            if (system.client or None) != scope:
                continue  # held for a client (or, for a client's request, not held for it)
            dataset = datamap.dataset(system.dataset)
            if dataset is None:
                continue
            work = for_system(system, dataset, req.request_type, bases)
            if not work.touched:
                continue
            connected = system.connection if req.request_type == "access" else system.write_connection
            recipient = recipients.get(system.recipient or "")
            kind = "automatic" if connected else "processor" if recipient else "staff"
            lines = list(work.lines)
            if system.recipient and recipient is None and kind == "staff":
                lines.append(f"The map names {system.recipient} as holding this data, but no active recipient of "
                             "that name is configured (Recipients): ask them yourself and record their answer.")
            if kind == "processor" and req.request_type == "correct":
                lines.append("Asked once you complete the correction: the notice carries what was corrected.")
            if kind == "automatic" and req.request_type == "correct":
                lines.append("Choose on the case page the fields to correct and their corrected values: the "
                             "connector previews it, admins approve it, then it runs.")
            owner = staff.get((system.owner or "").lower())
            made.append(FulfilmentItem(
                item_key=str(uuid.uuid4()), request_id=req.id, system=system.dataset, system_name=system.name,
                kind=kind, owner=system.owner, assignee_id=owner.id if owner else None, due_on=due,
                instructions="\n".join(lines), detail={**work.detail(), "recipient": system.recipient,
                                                        "approvals_needed": 2 if system.health_data else 1},
                recipient_id=recipient.id if kind == "processor" else None))
    else:
        for recipient in notices.concerned(session, req):
            made.append(FulfilmentItem(
                item_key=str(uuid.uuid4()), request_id=req.id, system=recipient.name, system_name=recipient.name,
                kind="processor", due_on=due, recipient_id=recipient.id, detail={"recipient": recipient.name},
                instructions=str(notices.INSTRUCTIONS[req.request_type])))
    for item in made:
        session.add(item)
    session.flush()
    for item in made:
        if item.kind == "automatic" and run_queue.first_action(req.request_type):
            run_queue.queue(session, item=item, action=run_queue.first_action(req.request_type))
        if item.kind == "processor" and not _deferred(req, item):
            answers.ask(session, req=req, item=item, recipient=session.get(Recipient, item.recipient_id))
    if made:
        audit.record(session, action="fulfilment_plan_built", actor="system", request_id=req.id,
                     detail=", ".join(f"{i.kind}:{i.id}" for i in made))
        log.info("request %s: plan of %s items", req.reference, len(made))
    return made


def blocking_completion(session: Session, req: PrivacyRequest) -> str | None:
    """The completion check: the items not yet done, not found or not held, by name; else None."""
    open_ = [i for i in items_for(session, req) if i.state not in SETTLED and not _deferred(req, i)]
    if not open_:
        return None
    return ("The plan's items must be done, not found or not held first: "
            + "; ".join(f"{i.system_name} ({KINDS[i.kind].lower()}, {STATES[i.state].lower()})" for i in open_) + ".")


def overdue(item: FulfilmentItem, today: date | None = None) -> bool:
    return item.state not in SETTLED and item.due_on < (today or clock.today())
