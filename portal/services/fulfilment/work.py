"""What one run of an automatic item does in the business's database, outside any portal transaction:
the access collection, the erasure's preview, the erasure itself. Each returns a `Done` (what the item
records: counts, hashes, who approved; never a value) or raises `RunFailed` (permanent: the item is
marked failed, naming the system and the collection) or `connections.ConnectionUnavailable` (passing:
retried with backoff).

Seeds come from the verified identity only: the request's confirmed email, its phone, and the
identity index's subject_id the verification matched (VerificationAttempt.subject_key), so a shared or
recycled email typed in a form never pulls in someone else's records.
"""
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from ...models import ClientRequest, FulfilmentItem, PrivacyRequest, VerificationAttempt
from ..documents import keys
from . import connections
from .connectors import across, erasure, hashing, sql, traversal
from .datamap import DataMap


class RunFailed(Exception):
    """A run that cannot succeed by being tried again: the message names the system and collection."""


@dataclass
class Done:
    state: str  # the item's state afterwards: done | not_found | pending (a preview awaiting approval)
    found: bool | None
    note: str  # shown on the case page: counts, never values
    audit: str  # the audit event's detail: counts and hashes, never values
    detail: dict = field(default_factory=dict)  # merged into the item's detail
    instructions: str | None = None  # added to the item's instructions (a correction's staff tasks)


def seeds_for(session: Session, req: PrivacyRequest) -> dict[str, str]:
    """The verified identity: confirmed email, phone, and the identity index's matched subject_id. A
    client's own request is seeded with the consumer's email and phone as the client named them (the
    case's email is the client's contact, never a seed)."""
    seeds = {}
    named = session.execute(select(ClientRequest.identifiers).where(ClientRequest.request_id == req.id)).scalar()
    if named is not None:
        if named.get("email"):
            seeds["email"] = named["email"].strip().lower()
    elif req.email_confirmed_at is not None and req.email:
        seeds["email"] = req.email.strip()
    if req.phone:
        seeds["phone_number"] = req.phone.strip()
    subject = session.execute(select(VerificationAttempt.subject_key).where(
        VerificationAttempt.request_id == req.id, VerificationAttempt.outcome == "verified",
        VerificationAttempt.subject_key.is_not(None)).order_by(VerificationAttempt.id.desc()).limit(1)).scalar()
    if subject:
        seeds["subject_id"] = subject
    return seeds


def instance() -> Path:
    """The instance folder, where relative SQLite paths of the map are read from."""
    return Path(current_app.instance_path)


def timeout_ms() -> int:
    """FULFIL_STATEMENT_TIMEOUT_MS: every statement in a business database gives up after it."""
    return int(current_app.config["FULFIL_STATEMENT_TIMEOUT_MS"])


def engine(datamap: DataMap, dataset: str, *, write: bool):
    """The system's read (or write) connection, made from the map; ConnectionUnavailable otherwise."""
    system = datamap.system_for(dataset)
    spec = (system.write_connection if write else system.connection) if system else None
    if not spec:
        raise RunFailed(f"{dataset}: the map gives no {'write_' if write else ''}connection")
    return connections.probe(connections.resolve(spec, instance_path=instance()))


@contextmanager
def _reading(datamap: DataMap, dataset: str):
    reader = engine(datamap, dataset, write=False)
    try:
        with reader.connect() as connection:
            yield connection
    finally:
        reader.dispose()


def carried(datamap: DataMap, dataset: str, seeds: dict) -> across.Carried:
    """The values other systems' references carry into this one for the person, read through their own
    read-only connections (empty, without a connection made, when no reference crosses into it)."""
    if not across.incoming(datamap, dataset):
        return {}
    try:
        return across.carried_values(datamap=datamap, dataset=dataset, seeds=seeds, timeout_ms=timeout_ms(),
                                     reader=lambda other: _reading(datamap, other))
    except sql.ConnectorError as exc:
        raise RunFailed(f"{dataset}: following a reference from another system: {exc}") from None


CARRIED = "carried_values"  # the item's detail key: what other systems carried in at the preview, sealed


def seal_carried(values: across.Carried) -> str | None:
    """The values other systems carried in at an erasure's preview, encrypted with the instance keys: the
    execution reaches the same rows though an erasure there (of the email that led to them, say) ran
    first. Dropped when the erasure's run ends, when staff retry the item, and with the case."""
    if not values:
        return None
    plain = [[collection, name, sorted((v if isinstance(v, int) else str(v) for v in found), key=str)]
             for (collection, name), found in sorted(values.items())]
    return keys.keyring().fernet.encrypt(json.dumps(plain).encode()).decode()


def unseal_carried(item: FulfilmentItem) -> across.Carried:
    token = (item.detail or {}).get(CARRIED)
    if not token:
        return {}
    return {(collection, name): set(found)
            for collection, name, found in json.loads(keys.keyring().fernet.decrypt(token.encode()))}


def collect(datamap: DataMap, dataset: str, seeds: dict) -> traversal.AccessResult:
    """The person's rows in one system, on its read-only connection."""
    from_others = carried(datamap, dataset, seeds)
    reader = engine(datamap, dataset, write=False)
    try:
        with reader.connect() as connection:
            return traversal.collect_access(datamap=datamap, dataset=dataset, seeds=seeds, connection=connection,
                                            timeout_ms=timeout_ms(), carried=from_others)
    except sql.ConnectorError as exc:
        raise RunFailed(f"{dataset}: {exc}") from None
    finally:
        reader.dispose()


def access(datamap: DataMap, item: FulfilmentItem, seeds: dict) -> Done:
    """Found or not, and rows per collection: the values stay in the business's database until the package."""
    result = collect(datamap, item.system, seeds)
    counts = {c.key: len(c.rows) for c in result.collections}
    rows = sum(counts.values())
    summary = ", ".join(f"{k}: {n}" for k, n in counts.items() if n) or "no rows"
    capped = list(result.capped)
    return Done("done" if rows else "not_found", bool(rows),
                f"Collected automatically: {summary}" + (f" (capped: {', '.join(capped)})" if capped else "") + ".",
                f"item {item.id}: access in {item.system}: {rows} rows in {sum(1 for n in counts.values() if n)} "
                "collections", {"access": {"rows": counts, "capped": capped}})


def preview(datamap: DataMap, item: FulfilmentItem, seeds: dict) -> Done:
    """The erasure's preview, read-only: it changes nothing; the item waits for approval."""
    from_others = carried(datamap, item.system, seeds)
    reader = engine(datamap, item.system, write=False)
    try:
        with reader.connect() as connection:
            shown = erasure.preview_erasure(datamap=datamap, dataset=item.system, seeds=seeds, connection=connection,
                                            timeout_ms=timeout_ms(), carried=from_others)
    except sql.ConnectorError as exc:
        raise RunFailed(f"{item.system}: {exc}") from None
    finally:
        reader.dispose()
    rows = sum(c.rows_found for c in shown.collections)
    return Done("pending", bool(rows), f"Previewed: {rows} rows found; awaiting approval.",
                f"item {item.id}: erasure previewed in {item.system}: {rows} rows",
                {"preview": shown.as_json(), "approvals": [], CARRIED: seal_carried(from_others)})


def erase(datamap: DataMap, item: FulfilmentItem, seeds: dict, *, tried_before: bool = False) -> Done:
    """Erase as previewed and approved, on the system's own write connection, proven by the post-check.
    Tried before (a worker died holding this run): first look whether that attempt committed in the
    business's database before the portal could record it, and record it then instead of erasing again."""
    approved = erasure.ErasurePreview.from_json(item.detail["preview"])
    from_others = carried(datamap, item.system, seeds)
    for place, values in unseal_carried(item).items():
        from_others.setdefault(place, set()).update(values)
    writer = engine(datamap, item.system, write=True)
    key = hashing.anonymize_key(current_app.config["SECRET_KEY"])
    try:
        with writer.connect() as connection:
            outcome = erasure.execute_erasure(datamap=datamap, preview=approved, seeds=seeds, connection=connection,
                                              instance_path=instance(), key=key, timeout_ms=timeout_ms(),
                                              tried_before=tried_before, carried=from_others)
    except sql.ConnectorError as exc:
        raise RunFailed(f"{item.system}: {exc}") from None
    finally:
        writer.dispose()
    if not outcome.ok:
        f = outcome.failure
        raise RunFailed(f"{f.system}, {f.collection}: {f.message}")
    approvers = ", ".join(a["staff"] for a in item.detail.get("approvals", []))
    counts = "; ".join(f"{c.key}: {c.rows_updated} updated, {c.rows_deleted} deleted, keys {c.rows_sha256[:16]}"
                       for c in outcome.collections if c.rows_found)
    rows = sum(c.rows_found for c in outcome.collections)
    if outcome.found_applied:
        counts = "; ".join(f"{c.key}: {c.rows_found} rows, keys {c.rows_sha256[:16]}" for c in outcome.collections
                           if c.rows_found)
        return Done("done", True, f"Erased: a previous run had committed it before stopping; the post-check of the "
                    f"previewed rows passed: {counts}. Approved by {approvers}.",
                    f"item {item.id}: erasure in {item.system} found applied on a re-run, post-check passed: {counts}; "
                    f"approved by {approvers}", {"evidence": outcome.as_json(), CARRIED: None})
    return Done("done" if rows else "not_found", bool(rows),
                f"Erased automatically, post-check passed: {counts or 'no rows'}. Approved by {approvers}.",
                f"item {item.id}: erasure in {item.system}: {counts or 'no rows'}; approved by {approvers}",
                {"evidence": outcome.as_json(), CARRIED: None})
