"""Cookie consent: categories from configuration, the visitor's state, append-only records, Global
Privacy Control, and a known person's opt-out recorded on their request (receipts, the signed state
cookie, the banner and the statistics are beside this module)."""
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, select
from sqlmodel import Session

from ... import clock, db, policy
from ...db import atomic
from ...models import AuditEvent, ConsentRecord, PrivacyRequest
from .. import audit

log = logging.getLogger(__name__)

ACTIONS = ("accept_all", "reject_all", "save")
CHOICE_SOURCES = ("banner", "center", "api")
SOURCES = (*CHOICE_SOURCES, "gpc", "request")  # "request": a "Do Not Sell or Share" request sent from this browser
_CONSENT_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# Category keys become form field names; these would collide with the form's own fields.
_RESERVED_KEYS = {"action", "source", "next", "csrf_token", "data", "errors", "meta", "populate_obj"}
_FAMILIES = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Chromium/", "Chrome"), ("Safari/", "Safari"))


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    description: str
    required: bool
    sale_or_sharing: bool


@dataclass(frozen=True)
class Snapshot:
    """What the latest record says, from the database or from the signed state cookie."""

    record_id: int
    receipt_id: str
    choices: dict
    policy_version: str
    source: str
    gpc: bool
    created_at: datetime
    sale_opt_out_at: datetime | None = None

    @classmethod
    def of(cls, record: ConsentRecord) -> "Snapshot":
        return cls(record_id=record.id, receipt_id=record.receipt_id, choices=dict(record.choices),
                   policy_version=record.policy_version, source=record.source, gpc=record.gpc,
                   created_at=record.created_at, sale_opt_out_at=record.sale_opt_out_at)


@dataclass(frozen=True)
class ConsentState:
    """A visitor's effective choices for the current policy version."""

    consent_id: str | None
    snapshot: Snapshot | None
    policy_version: str
    choices: dict  # every category key -> bool, with the GPC signal applied
    decided: bool  # every optional category was chosen under the current policy version
    gpc_signal: bool  # the request carries Sec-GPC: 1
    gpc_honored: bool  # ...and the latest record is the opt-out it asks for
    # §7026(k): opted out of sale/sharing less than 12 months ago: never ask about those categories.
    sale_ask_suppressed: bool = False
    # §7028: opted out at some time: turning sale/sharing back on takes a separate confirmation.
    sale_opted_out: bool = False
    confirmation_needed: bool = False  # the choice just made asked for sale/sharing: confirm it first

    @property
    def asked_categories(self) -> list["Category"]:
        """The optional categories a banner may ask about now."""
        return [c for c in categories() if not c.required and not (c.sale_or_sharing and self.sale_ask_suppressed)]

    @property
    def gpc_applied_at(self) -> datetime | None:
        return self.snapshot.created_at if self.gpc_honored and self.snapshot else None

    @property
    def updated_at(self) -> datetime | None:
        return self.snapshot.created_at if self.snapshot else None


def categories() -> tuple[Category, ...]:
    """The configured categories, checked once per app."""
    cached = current_app.extensions.get("consent_categories")
    if cached is None:
        configured = list(current_app.config["CONSENT_CATEGORIES"])
        if current_app.config.get("SELLS_OR_SHARES"):
            configured.append(current_app.config["SALE_SHARING_CATEGORY"])
        cached = tuple(Category(key=c["key"], label=c["label"], description=c["description"],
                                required=bool(c.get("required")), sale_or_sharing=bool(c.get("sale_or_sharing")))
                       for c in configured)
        bad = [c.key for c in cached if not _KEY.match(c.key) or c.key in _RESERVED_KEYS]
        if bad or len({c.key for c in cached}) != len(cached):
            raise ValueError(f"CONSENT_CATEGORIES: invalid or duplicate keys {bad}")
        current_app.extensions["consent_categories"] = cached
    return cached


def policy_version() -> str:
    """The privacy policy's version: a new one asks every visitor again."""
    return policy.current().version


def new_consent_id() -> str:
    """A random id for the visitor's first-party cookie (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def is_consent_id(value: str | None) -> bool:
    """Only ids we could have issued: a forged cookie never reaches the database or a CSV export."""
    return bool(value) and _CONSENT_ID.match(value) is not None


def user_agent_family(user_agent: str | None) -> str | None:
    """A coarse browser family: enough for statistics, too little to identify anyone."""
    if not user_agent:
        return None
    for marker, family in _FAMILIES:
        if marker in user_agent:
            return family
    return "Other"


REASK_MONTHS = 12  # §7026(k): wait at least 12 months before asking to opt back in to sale/sharing


def reask_after(opted_out_at: datetime) -> datetime:
    """The first moment the visitor may be asked about sale/sharing again: 12 months after the opt-out."""
    try:
        return opted_out_at.replace(year=opted_out_at.year + REASK_MONTHS // 12)
    except ValueError:  # 29 February
        return opted_out_at.replace(year=opted_out_at.year + REASK_MONTHS // 12, day=28)


def state_for(snapshot: Snapshot | None, *, consent_id: str | None, gpc_signal: bool,
              confirmation_needed: bool = False, version: str | None = None) -> ConsentState:
    """The effective state from the latest record (or none): no record, or an older policy
    version, means no choice yet, so every optional category is off until the visitor chooses.
    After an opt-out of sale/sharing, those categories count as decided (off) for 12 months,
    whatever the policy version (§7026(k)): the banner asks only about the others. `version`: the
    policy version when the caller has just read it (each reading stats the policy file)."""
    version = version or policy_version()
    current = snapshot is not None and snapshot.policy_version == version
    recorded = snapshot.choices if current else {}
    opted_out_at = snapshot.sale_opt_out_at if snapshot else None
    suppressed = opted_out_at is not None and clock.now() < reask_after(opted_out_at)
    configured = categories()
    choices = {}
    for c in configured:
        on = c.required or bool(recorded.get(c.key, False))
        if c.sale_or_sharing and gpc_signal:
            on = False  # §7025: the signal is an opt-out of sale/sharing, whatever was chosen before
        choices[c.key] = on
    decided = (current or suppressed) and all(
        c.key in recorded or (c.sale_or_sharing and suppressed) for c in configured if not c.required)
    honored = gpc_signal and snapshot is not None and snapshot.gpc and (current or suppressed) and not any(
        recorded.get(c.key, False) for c in configured if c.sale_or_sharing)
    return ConsentState(consent_id=consent_id, snapshot=snapshot, policy_version=version, choices=choices,
                        decided=decided, gpc_signal=gpc_signal, gpc_honored=honored, sale_ask_suppressed=suppressed,
                        sale_opted_out=opted_out_at is not None, confirmation_needed=confirmation_needed)


def latest_record(session: Session, *, consent_id: str) -> ConsentRecord | None:
    """The current record: one indexed query (consent_id, id)."""
    return session.execute(select(ConsentRecord).where(ConsentRecord.consent_id == consent_id)
                           .order_by(ConsentRecord.id.desc()).limit(1)).scalar()


# The current record's Snapshot, built once: on the read that runs for every visitor without a
# fresh state cookie, building the statement and the ORM's bookkeeping cost more than the query.
_SNAPSHOT_COLUMNS = (ConsentRecord.id, ConsentRecord.receipt_id, ConsentRecord.choices, ConsentRecord.policy_version,
                     ConsentRecord.source, ConsentRecord.gpc, ConsentRecord.created_at, ConsentRecord.sale_opt_out_at)
_LATEST_SNAPSHOT = (select(*_SNAPSHOT_COLUMNS).where(ConsentRecord.consent_id == bindparam("consent_id"))
                    .order_by(ConsentRecord.id.desc()).limit(1))


def latest_snapshot(session: Session, *, consent_id: str) -> Snapshot | None:
    """What the current record says (latest_record's row, without the ORM)."""
    row = session.connection().execute(_LATEST_SNAPSHOT, {"consent_id": consent_id}).first()
    if row is None:
        return None
    record_id, receipt_id, choices, version, source, gpc, created_at, opted_out_at = row
    return Snapshot(record_id=record_id, receipt_id=receipt_id, choices=dict(choices), policy_version=version,
                    source=source, gpc=gpc, created_at=created_at, sale_opt_out_at=opted_out_at)


def resolve(session: Session, *, consent_id: str | None, gpc_signal: bool, user_agent: str | None) -> ConsentState:
    """The visitor's state; with the GPC signal present it is honored server-side and recorded
    (source "gpc") the first time, before the visitor clicks anything. It runs on every page of a
    visitor without a state cookie, so it reads without the write lock, and takes it only to
    record the signal."""
    with db.reading(session):
        latest = latest_snapshot(session, consent_id=consent_id) if consent_id else None
    state = state_for(latest, consent_id=consent_id, gpc_signal=gpc_signal)
    if not gpc_signal or state.gpc_honored:
        return state
    if consent_id is None:
        raise ValueError("a GPC opt-out needs a consent id to record it under")
    return _honor_gpc(session, consent_id=consent_id, user_agent=user_agent)


@atomic
def _honor_gpc(session: Session, *, consent_id: str, user_agent: str | None) -> ConsentState:
    """Record the GPC opt-out, reading the latest record again under the write lock: another
    request of the same visitor may have recorded it since `resolve` read."""
    state = state_for(latest_snapshot(session, consent_id=consent_id), consent_id=consent_id, gpc_signal=True)
    if state.gpc_honored:
        return state
    current = state.snapshot is not None and state.snapshot.policy_version == state.policy_version
    kept = dict(state.snapshot.choices) if current else {}
    for c in categories():
        if c.sale_or_sharing:
            kept[c.key] = False
    record = _append(session, consent_id=consent_id, choices=kept, source="gpc", gpc=True, user_agent=user_agent,
                     previous=state.snapshot, opting_out=True)
    return state_for(Snapshot.of(record), consent_id=consent_id, gpc_signal=True)


@atomic
def record_choice(session: Session, *, consent_id: str, action: str, source: str, gpc_signal: bool,
                  user_agent: str | None, selected: dict | None = None) -> ConsentState:
    """Append the visitor's choice: accept all, reject all, or the categories `selected`."""
    if action not in ACTIONS or source not in CHOICE_SOURCES or not is_consent_id(consent_id):
        raise ValueError("unknown consent action, source or id")
    optional = [c for c in categories() if not c.required]
    selected = selected or {}
    unknown = set(selected) - {c.key for c in optional}
    if action == "save" and unknown:
        raise ValueError(f"unknown consent categories: {sorted(unknown)}")
    choices = {c.key: action == "accept_all" or (action == "save" and bool(selected.get(c.key)))
               for c in optional}
    previous = latest_snapshot(session, consent_id=consent_id)
    before = state_for(previous, consent_id=consent_id, gpc_signal=gpc_signal)
    sale = [c for c in optional if c.sale_or_sharing]
    asked_for_sale = any(choices[c.key] and not before.choices[c.key] for c in sale)
    confirmation_needed = False
    for c in sale:
        if gpc_signal:
            choices[c.key] = False  # accepting never overrides the opt-out signal
        elif before.sale_opted_out and choices[c.key] and not before.choices[c.key]:
            # §7028: after an opt-out, one click never turns sale/sharing back on; "Accept all"
            # covers the other categories, and a separate confirmation is needed for these.
            choices[c.key] = False
            # Offer the confirmation only when the visitor asked for it in the center (a switch, or
            # "Accept all" there); the banner's "Accept all" never leads to a question about sale.
            confirmation_needed = asked_for_sale and (action == "save" or source == "center")
    opting_out = bool(sale) and not any(choices[c.key] for c in sale) and (
        action == "reject_all" or any(before.choices[c.key] for c in sale) or previous is None
        or any(c.key not in (previous.choices or {}) for c in sale))
    record = _append(session, consent_id=consent_id, choices=choices, source=source, gpc=gpc_signal,
                     user_agent=user_agent, previous=previous, opting_out=opting_out)
    return state_for(Snapshot.of(record), consent_id=consent_id, gpc_signal=gpc_signal,
                     confirmation_needed=confirmation_needed)


@atomic
def record_request_opt_out(session: Session, *, consent_id: str, gpc_signal: bool, user_agent: str | None) -> ConsentState:
    """§7026(f)(1), §7025(c)(1): a "Do Not Sell or Share" request also stops sale and sharing in the
    browser that sent it: its sale/sharing categories off, the other choices as they were, and the
    12-month window without asking again starts (§7026(k)). Turning it back on takes §7028's two steps."""
    if not is_consent_id(consent_id):
        raise ValueError("unknown consent id")
    previous = latest_snapshot(session, consent_id=consent_id)
    current = previous is not None and previous.policy_version == policy_version()
    choices = dict(previous.choices) if current else {}
    for c in categories():
        if c.sale_or_sharing:
            choices[c.key] = False
    record = _append(session, consent_id=consent_id, choices=choices, source="request", gpc=gpc_signal,
                     user_agent=user_agent, previous=previous, opting_out=True)
    return state_for(Snapshot.of(record), consent_id=consent_id, gpc_signal=gpc_signal)


class SaleOptInRefused(ValueError):
    """Sale/sharing cannot be turned on now (the GPC signal is present, or nothing to confirm)."""


@atomic
def confirm_sale_opt_in(session: Session, *, consent_id: str, gpc_signal: bool, user_agent: str | None) -> ConsentState:
    """§7028: the second, separate step that turns sale/sharing back on after an opt-out. Never
    while the browser sends the GPC signal (§7025: the signal keeps the switch off)."""
    if gpc_signal:
        raise SaleOptInRefused("the Global Privacy Control signal is on")
    if not is_consent_id(consent_id):
        raise SaleOptInRefused("unknown consent id")
    previous = latest_snapshot(session, consent_id=consent_id)
    current = previous is not None and previous.policy_version == policy_version()
    choices = {c.key: (c.sale_or_sharing or bool(current and previous.choices.get(c.key)))
               for c in categories() if not c.required}
    record = _append(session, consent_id=consent_id, choices=choices, source="center", gpc=False,
                     user_agent=user_agent, previous=previous, opting_out=False, opting_in=True)
    return state_for(Snapshot.of(record), consent_id=consent_id, gpc_signal=False)


def _append(session: Session, *, consent_id: str, choices: dict, source: str, gpc: bool,
            user_agent: str | None, previous: Snapshot | None = None, opting_out: bool = False,
            opting_in: bool = False) -> ConsentRecord:
    now = clock.now()
    if opting_in:
        opted_out_at = None
    elif opting_out:
        opted_out_at = now
    else:
        opted_out_at = previous.sale_opt_out_at if previous else None
    record = ConsentRecord(receipt_id=str(uuid.uuid4()), consent_id=consent_id, choices=choices,
                           policy_version=policy_version(), source=source, gpc=gpc,
                           user_agent_family=user_agent_family(user_agent), sale_opt_out_at=opted_out_at,
                           created_at=now)
    session.add(record)
    session.commit()
    log.info("consent recorded: receipt %s, source %s", record.receipt_id, source)
    return record


def history(session: Session, *, consent_id: str, limit: int = 500) -> list[ConsentRecord]:
    """The visitor's own records, newest first."""
    return list(session.execute(select(ConsentRecord).where(ConsentRecord.consent_id == consent_id)
                                .order_by(ConsentRecord.id.desc()).limit(limit)).scalars())


def record_for(session: Session, *, consent_id: str, receipt_id: str | None = None) -> ConsentRecord | None:
    """One of the visitor's records by receipt id (the latest without one); never someone else's."""
    if receipt_id is None:
        return latest_record(session, consent_id=consent_id)
    return session.execute(select(ConsentRecord).where(ConsentRecord.receipt_id == receipt_id,
                                                       ConsentRecord.consent_id == consent_id)).scalar()


# --- a known person (§7025(c)(1)) -----------------------------------------------------------------

KNOWN_PERSON_ACTIONS = {"gpc": "gpc_opt_out_recorded", "cookie": "cookie_opt_out_recorded"}


def opt_out_kind(state: ConsentState) -> str | None:
    """"gpc" when the browser's signal is honored, "cookie" when the visitor opted out of
    sale/sharing by a cookie choice; None otherwise (or when nothing is sold or shared)."""
    if not any(c.sale_or_sharing for c in categories()) or state.snapshot is None:
        return None
    if state.gpc_honored:
        return "gpc"
    if state.snapshot.sale_opt_out_at is not None and not any(
            state.choices[c.key] for c in categories() if c.sale_or_sharing):
        return "cookie"
    return None


def record_for_known_person(session: Session, *, state: ConsentState, reference: str) -> bool:
    """§7025(c)(1): a GPC signal or a cookie opt-out sent while the person is identified (their
    status session) is recorded on their request record too, once per kind. True when written.
    It runs on every page of that session, so it looks without the write lock, and takes it only
    to write."""
    kind = opt_out_kind(state)
    if kind is None:
        return False
    action = KNOWN_PERSON_ACTIONS[kind]
    with db.reading(session):
        unrecorded = _request_without(session, reference=reference, action=action)
    return unrecorded is not None and _record_for_known_person(session, state=state, reference=reference,
                                                               action=action)


def _request_without(session: Session, *, reference: str, action: str) -> int | None:
    """The id of the request `reference` when `action` is not on its record yet."""
    req_id = session.execute(select(PrivacyRequest.id).where(PrivacyRequest.reference == reference)).scalar()
    if req_id is None or session.execute(select(AuditEvent.id).where(
            AuditEvent.request_id == req_id, AuditEvent.action == action).limit(1)).scalar():
        return None
    return req_id


@atomic
def _record_for_known_person(session: Session, *, state: ConsentState, reference: str, action: str) -> bool:
    req_id = _request_without(session, reference=reference, action=action)  # again, under the write lock
    if req_id is None:
        return False
    audit.record(session, action=action, actor="requester", request_id=req_id,
                 detail=f"receipt {state.snapshot.receipt_id}: sale and sharing off for this person")
    session.commit()
    log.info("%s on request %s", action, reference)
    return True


# --- the signed state cache and the API token ---------------------------------------------------


# --- for staff ---------------------------------------------------------------------------------


