"""Correction runs: staff choose the fields of a connected system that the rules let be updated and
type the corrected values; a run previews it read-only (rows found, fields, statements), admins
approve it like an erasure (two people for health data), and a run corrects it on the write
connection with its post-check, the evidence being before/after hashes, never values.

The values staff type are the one thing a correction cannot do without between the choice and the
run: they are kept encrypted with the instance keys (services/documents/keys.py) in the item's
detail, and dropped when the correcting run ends, when the person is not found, or when staff retry.
They are never in the preview, the evidence, the notes or the audit chain. A field whose rule says
`refer` (or that the connector cannot address) becomes a staff task on the item, with instructions.
"""
import json
from dataclasses import dataclass

from flask import current_app
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...lifecycle import IN_PROGRESS
from ...models import FulfilmentItem, PrivacyRequest, StaffUser
from .. import audit
from ..documents import keys
from . import work
from .approvals import ApprovalRefused
from .connectors import correction, hashing, sql
from .datamap import DataMap
from .plan import configured_map
from .run_queue import queue

MAX_VALUE = 500
SEALED = "correction_values"


@dataclass(frozen=True)
class Choice:
    """A field staff may choose: `update` (the connector corrects it) or `refer` (a staff task)."""

    collection: str
    field: str
    action: str
    basis: str | None

    @property
    def name(self) -> str:
        return f"{self.collection}.{self.field}"


def choices(datamap: DataMap, dataset: str) -> list[Choice]:
    """The fields of a system the rules let staff correct (`update`) or refer (`refer`); never keys."""
    mapped = datamap.dataset(dataset)
    found = []
    for collection in mapped.collections if mapped else ():
        if collection.skip_processing:
            continue
        for f in collection.fields:
            rule = f.rule
            if not f.is_structure and rule is not None and rule.correct in ("update", "refer"):
                found.append(Choice(collection.name, f.name, rule.correct, rule.basis))
    return found


def _seal(changes: dict) -> str:
    return keys.keyring().fernet.encrypt(json.dumps(changes).encode()).decode()


def _unseal(item: FulfilmentItem) -> dict:
    token = (item.detail or {}).get(SEALED)
    if not token:
        raise work.RunFailed(f"{item.system}: the corrected values are gone: choose the fields again")
    return json.loads(keys.keyring().fernet.decrypt(token.encode()))


@atomic
def choose(session: Session, *, req: PrivacyRequest, staff: StaffUser, item_id: int, values: dict[str, str],
           refer: list[str]) -> FulfilmentItem:
    """Staff's choice for one item (`values`: "collection.field" -> the corrected value; `refer`: fields
    to refer); queues the read-only preview. Nothing in the business's database changes."""
    item = session.get(FulfilmentItem, item_id)
    if item is None or item.request_id != req.id or item.kind != "automatic":
        raise LookupError(item_id)
    detail = dict(item.detail or {})
    if req.request_type != "correct" or req.status != IN_PROGRESS or item.state != "pending" or detail.get(SEALED) \
            or detail.get("correction_preview"):
        raise ApprovalRefused("This item is not waiting for the fields to correct.")
    allowed = {c.name: c for c in choices(configured_map(), item.system)}
    values = {k: v.strip() for k, v in values.items() if v and v.strip()}
    wrong = [n for n in values if n not in allowed or allowed[n].action != "update"] + \
            [n for n in refer if n not in allowed]
    if wrong:
        raise ApprovalRefused(f"Not fields the map lets you correct here: {', '.join(sorted(wrong))}.")
    if any(len(v) > MAX_VALUE for v in values.values()):
        raise ApprovalRefused(f"A corrected value has at most {MAX_VALUE} characters.")
    if not values and not refer:
        raise ApprovalRefused("Enter a corrected value or choose a field to refer.")
    changes: dict[str, dict] = {}
    for name in [*values, *refer]:
        collection, _, field = name.partition(".")
        changes.setdefault(collection, {})[field] = values.get(name)
    item.detail = {**detail, SEALED: _seal(changes), "correction_fields": sorted(set(values) | set(refer))}
    item.state, item.updated_by, item.updated_at = "in_progress", audit.staff_actor(staff), clock.now()
    queue(session, item=item, action="correct_preview", by=audit.staff_actor(staff))
    audit.record(session, action="fulfilment_correction_chosen", actor=audit.staff_actor(staff), request_id=req.id,
                 detail=f"item {item.id} in {item.system}: update {', '.join(sorted(values)) or 'nothing'}; "
                        f"refer {', '.join(sorted(refer)) or 'nothing'}")
    session.commit()
    return item


def _tasks(shown: correction.CorrectionPreview) -> list[str]:
    return [f"Correct {key.partition(':')[2]}.{field} by hand, or refer the correction to where the data comes "
            f"from ({why}); the requester's correction is on the case." for key, field, why in shown.staff_tasks]


def preview(datamap: DataMap, item: FulfilmentItem, seeds: dict) -> work.Done:
    """The correction's preview, read-only: the item then waits for approval (or is a staff task)."""
    changes = _unseal(item)
    from_others = work.carried(datamap, item.system, seeds)
    reader = work.engine(datamap, item.system, write=False)
    try:
        with reader.connect() as connection:
            shown = correction.preview_correction(datamap=datamap, dataset=item.system, seeds=seeds, changes=changes,
                                                  connection=connection, timeout_ms=work.timeout_ms(),
                                                  carried=from_others)
    except sql.ConnectorError as exc:
        raise work.RunFailed(f"{item.system}: {exc}") from None
    finally:
        reader.dispose()
    rows = sum(c.rows_found for c in shown.collections)
    fields = [f"{c.key.partition(':')[2]}.{f}" for c in shown.collections if c.rows_found for f in c.update]
    tasks = _tasks(shown)
    audit_line = f"item {item.id}: correction previewed in {item.system}: {rows} rows; update {', '.join(fields) or 'nothing'}; " \
                 f"{len(tasks)} staff tasks"
    if not rows:
        return work.Done("not_found", False, "Previewed: the person was not found here; nothing to correct.",
                         audit_line, {SEALED: None})
    instructions = "\n".join(tasks) or None
    if not fields:
        return work.Done("in_progress", True, "Nothing to correct automatically: do the staff tasks in the "
                         "instructions and record the outcome.", audit_line, {SEALED: None, "staff_tasks": tasks},
                         instructions)
    return work.Done("pending", True, f"Previewed: {rows} rows found; to correct: {', '.join(fields)}; awaiting "
                     "approval." + (f" {len(tasks)} staff tasks." if tasks else ""), audit_line,
                     {"correction_preview": shown.as_json(), "approvals": [], "staff_tasks": tasks}, instructions)


def correct(datamap: DataMap, item: FulfilmentItem, seeds: dict) -> work.Done:
    """Correct as previewed and approved, on the system's own write connection, proven by the post-check."""
    approved = correction.CorrectionPreview.from_json(item.detail["correction_preview"])
    changes = _unseal(item)
    from_others = work.carried(datamap, item.system, seeds)
    writer = work.engine(datamap, item.system, write=True)
    try:
        with writer.connect() as connection:
            outcome = correction.execute_correction(datamap=datamap, preview=approved, seeds=seeds, changes=changes,
                                                    connection=connection, instance_path=work.instance(),
                                                    evidence_key=hashing.evidence_key(current_app.config["SECRET_KEY"]),
                                                    timeout_ms=work.timeout_ms(), carried=from_others)
    except sql.ConnectorError as exc:
        raise work.RunFailed(f"{item.system}: {exc}") from None
    finally:
        writer.dispose()
    if not outcome.ok:
        f = outcome.failure
        raise work.RunFailed(f"{f.system}, {f.collection}: {f.message}")
    approvers = ", ".join(a["staff"] for a in item.detail.get("approvals", []))
    done = "; ".join(f"{c.key}: {c.rows_updated} updated, keys {c.rows_sha256[:16]}, " + ", ".join(
        f"{f.field} before {f.before_hash} after {f.after_hash}" for f in c.fields)
        for c in outcome.collections if c.fields)
    tasks = item.detail.get("staff_tasks") or []
    return work.Done("in_progress" if tasks else "done", True,
                     f"Corrected automatically, post-check passed: {done or 'nothing'}. Approved by {approvers}."
                     + (" The staff tasks remain: record the outcome once done." if tasks else ""),
                     f"item {item.id}: correction in {item.system}: {done or 'nothing'}; approved by {approvers}",
                     {"evidence": outcome.as_json(), SEALED: None})
