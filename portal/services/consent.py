"""Cookie consent: categories from configuration, append-only records, GPC, receipts, statistics."""
import base64
import csv
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlmodel import Session

from .. import clock, policy
from ..db import atomic
from ..models import ConsentRecord
from ..urls import external_url
from . import audit

log = logging.getLogger(__name__)

ACTIONS = ("accept_all", "reject_all", "save")
CHOICE_SOURCES = ("banner", "center", "api")
SOURCES = (*CHOICE_SOURCES, "gpc")
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

    @classmethod
    def of(cls, record: ConsentRecord) -> "Snapshot":
        return cls(record_id=record.id, receipt_id=record.receipt_id, choices=dict(record.choices),
                   policy_version=record.policy_version, source=record.source, gpc=record.gpc,
                   created_at=record.created_at)


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
        cached = tuple(Category(key=c["key"], label=c["label"], description=c["description"],
                                required=bool(c.get("required")), sale_or_sharing=bool(c.get("sale_or_sharing")))
                       for c in current_app.config["CONSENT_CATEGORIES"])
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


def state_for(snapshot: Snapshot | None, *, consent_id: str | None, gpc_signal: bool) -> ConsentState:
    """The effective state from the latest record (or none): no record, or an older policy
    version, means no choice yet, so every optional category is off until the visitor chooses."""
    version = policy_version()
    current = snapshot is not None and snapshot.policy_version == version
    recorded = snapshot.choices if current else {}
    choices = {}
    for c in categories():
        on = c.required or bool(recorded.get(c.key, False))
        if c.sale_or_sharing and gpc_signal:
            on = False  # §7025: the signal is an opt-out of sale/sharing, whatever was chosen before
        choices[c.key] = on
    decided = current and all(c.key in recorded for c in categories() if not c.required)
    honored = gpc_signal and current and snapshot.gpc and not any(
        recorded.get(c.key, False) for c in categories() if c.sale_or_sharing)
    return ConsentState(consent_id=consent_id, snapshot=snapshot, policy_version=version, choices=choices,
                        decided=decided, gpc_signal=gpc_signal, gpc_honored=honored)


def latest_record(session: Session, *, consent_id: str) -> ConsentRecord | None:
    """The current record: one indexed query (consent_id, id)."""
    return session.execute(select(ConsentRecord).where(ConsentRecord.consent_id == consent_id)
                           .order_by(ConsentRecord.id.desc()).limit(1)).scalar()


@atomic
def resolve(session: Session, *, consent_id: str | None, gpc_signal: bool, user_agent: str | None) -> ConsentState:
    """The visitor's state; with the GPC signal present it is honored server-side and recorded
    (source "gpc") the first time, before the visitor clicks anything."""
    record = latest_record(session, consent_id=consent_id) if consent_id else None
    state = state_for(Snapshot.of(record) if record else None, consent_id=consent_id, gpc_signal=gpc_signal)
    if not gpc_signal or state.gpc_honored:
        return state
    if consent_id is None:
        raise ValueError("a GPC opt-out needs a consent id to record it under")
    current = state.snapshot is not None and state.snapshot.policy_version == state.policy_version
    kept = dict(state.snapshot.choices) if current else {}
    for c in categories():
        if c.sale_or_sharing:
            kept[c.key] = False
    record = _append(session, consent_id=consent_id, choices=kept, source="gpc", gpc=True, user_agent=user_agent)
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
    if gpc_signal:
        for c in optional:
            if c.sale_or_sharing:
                choices[c.key] = False  # accepting never overrides the opt-out signal
    record = _append(session, consent_id=consent_id, choices=choices, source=source, gpc=gpc_signal,
                     user_agent=user_agent)
    return state_for(Snapshot.of(record), consent_id=consent_id, gpc_signal=gpc_signal)


def _append(session: Session, *, consent_id: str, choices: dict, source: str, gpc: bool,
            user_agent: str | None) -> ConsentRecord:
    record = ConsentRecord(receipt_id=str(uuid.uuid4()), consent_id=consent_id, choices=choices,
                           policy_version=policy_version(), source=source, gpc=gpc,
                           user_agent_family=user_agent_family(user_agent), created_at=clock.now())
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


def policy_url() -> str:
    return current_app.config.get("CONSENT_POLICY_URL") or current_app.config["BASE_URL"].rstrip("/") + "/privacy"


def collection_method(source: str) -> str:
    return {"banner": _("Cookie banner on the privacy portal"),
            "center": _("Cookie-preference center on the privacy portal"),
            "api": _("Cookie banner on the business's website (consent API)"),
            "gpc": _("Global Privacy Control signal sent by the browser (Sec-GPC)")}[source]


def purpose_status(category: Category, record: ConsentRecord | Snapshot) -> str:
    if category.required:
        return "always_on"
    if category.key not in record.choices:
        return "not_chosen"
    return "granted" if record.choices[category.key] else "declined"


def receipt(record: ConsentRecord) -> dict:
    """A consent receipt with the fields of the Kantara Initiative Consent Receipt (v1.1)."""
    cfg = current_app.config
    purposes = []
    for c in categories():
        status = purpose_status(c, record)
        by_signal = c.sale_or_sharing and record.gpc and status == "declined"
        purposes.append({
            "purpose": str(c.label), "purposeCategory": [c.key], "purposeDescription": str(c.description),
            "consentType": "NOT_REQUIRED" if c.required else ("OPT_OUT_PREFERENCE_SIGNAL" if by_signal else "EXPLICIT"),
            "status": status, "primaryPurpose": c.required, "thirdPartyDisclosure": c.sale_or_sharing,
            "termination": _("Until you change your choice or the policy version changes."),
        })
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": cfg["CONSENT_JURISDICTION"],
        "consentTimestamp": int(record.created_at.timestamp()),
        "consentTime": record.created_at.isoformat(),
        "collectionMethod": collection_method(record.source),
        "source": record.source,
        "consentReceiptID": record.receipt_id,
        "language": str(get_locale() or "en"),
        "piiPrincipalId": record.consent_id,
        "piiControllers": [{"piiController": cfg["ORG_NAME"], "contact": _("Privacy team"),
                            "email": cfg["PRIVACY_EMAIL"], "phone": cfg["PRIVACY_PHONE"],
                            "piiControllerUrl": cfg["BASE_URL"]}],
        "policyUrl": policy_url(),
        "policyVersion": record.policy_version,
        "globalPrivacyControl": record.gpc,
        "services": [{"service": _("Cookies and similar technologies on %(org)s websites", org=cfg["ORG_NAME"]),
                      "purposes": purposes}],
        "sensitive": False,
        "spiCat": [],
    }


# --- the signed state cache and the API token ---------------------------------------------------

def _key(purpose: str) -> bytes:
    """A key for one purpose, derived from SECRET_KEY (so rotating the secret resets them all)."""
    name = f"consent_key_{purpose}"
    key = current_app.extensions.get(name)
    if key is None:
        key = current_app.extensions[name] = hashlib.sha256(
            purpose.encode() + b"\0" + str(current_app.config["SECRET_KEY"]).encode()).digest()
    return key


def _mac(purpose: str, data: str) -> str:
    return hmac.new(_key(purpose), data.encode(), hashlib.sha256).hexdigest()


def state_cookie(state: ConsentState) -> str | None:
    """The latest record, signed (HMAC-SHA256) with its issue time, so the hot path can answer
    without a query. Plain hmac rather than itsdangerous: this runs on every page view."""
    s = state.snapshot
    if s is None or state.consent_id is None:
        return None
    payload = [state.consent_id, s.record_id, s.receipt_id, s.choices, s.policy_version, s.source, s.gpc,
               s.created_at.isoformat(), int(clock.timestamp())]
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_mac('consent-state', body)}"


def state_from_cookie(value: str | None, *, consent_id: str, gpc_signal: bool) -> ConsentState | None:
    """The state the cookie holds, when it is ours, fresh, for this consent id and this policy
    version, and does not need a GPC record written; otherwise None (ask the database)."""
    body, _, mac = (value or "").rpartition(".")
    if not body or not hmac.compare_digest(mac.encode(), _mac("consent-state", body).encode()):
        return None
    try:
        cid, record_id, receipt_id, choices, version, source, gpc, created, issued = json.loads(
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        snapshot = Snapshot(record_id=record_id, receipt_id=receipt_id, choices=choices, policy_version=version,
                            source=source, gpc=gpc, created_at=datetime.fromisoformat(created))
    except (ValueError, TypeError):
        return None
    if cid != consent_id or version != policy_version() or \
            not 0 <= clock.timestamp() - issued <= current_app.config["CONSENT_STATE_CACHE_SECONDS"]:
        return None
    state = state_for(snapshot, consent_id=consent_id, gpc_signal=gpc_signal)
    if gpc_signal and not state.gpc_honored:
        return None
    return state


def api_token(consent_id: str) -> str:
    """The token a page obtains from GET /api/consent and sends back with a POST: an HMAC of the
    consent id, so only a page allowed to read the GET answer (CORS) can post for this visitor."""
    return _mac("consent-api-token", consent_id)


def check_api_token(token: str | None, *, consent_id: str) -> bool:
    # Bytes: compare_digest raises TypeError on a str with non-ASCII characters (a header may hold them).
    return bool(token) and hmac.compare_digest(str(token).encode(), api_token(consent_id).encode())


def api_view(state: ConsentState, *, token: str) -> dict:
    """The JSON the business's site reads; banner texts only for a visitor who has not chosen."""
    view = {
        "policy_version": state.policy_version,
        "decided": state.decided,
        "choices": state.choices,
        "gpc": {"signal": state.gpc_signal, "honored": state.gpc_honored,
                "applied_at": state.gpc_applied_at.isoformat() if state.gpc_applied_at else None},
        "updated_at": state.updated_at.isoformat() if state.updated_at else None,
        "receipt_id": state.snapshot.receipt_id if state.snapshot else None,
        "token": token,
    }
    if not state.decided:
        view["banner"] = banner_texts()
    return view


def banner_texts() -> dict:
    labels = [str(c.label) for c in categories() if not c.required]
    return {
        "title": _("Your cookie choices"),
        "intro": _("We use strictly necessary cookies to run our sites. With your permission we would also "
                   "use: %(list)s. Advertising cookies would mean selling or sharing your personal information.",
                   list=", ".join(labels)),
        "accept": _("Accept all"), "reject": _("Reject all"), "customize": _("Choose by category"),
        "gpc_honored": _("Opt-Out Request Honored"),
        "gpc_detail": _("Your browser sent a Global Privacy Control signal. We treat it as your request to opt "
                        "out of the sale and sharing of your personal information, so advertising stays off."),
        "opt_out": _("Do Not Sell or Share My Personal Information"),
        "saved": _("Your cookie choices are saved. You can change them at any time."),
        "error": _("We could not save your choice. Please try again."),
        "links": _banner_links(),
    }


def _banner_links() -> dict:
    """The banner's links open the portal in the language the banner is shown in."""
    lang = str(get_locale())
    extra = {} if lang == current_app.config["LANGUAGES"][0] else {"lang": lang}
    return {"preferences": external_url("consent.preferences", **extra),
            "opt_out": external_url("public.new_request", type="opt_out", **extra)}


# --- for staff ---------------------------------------------------------------------------------

@dataclass
class VersionStats:
    policy_version: str
    records: int
    visitors: int = 0
    decided: int = 0
    gpc: int = 0
    granted: dict | None = None  # category key -> visitors whose latest choice is "on"


def statistics(session: Session) -> list[VersionStats]:
    """Per policy version (newest first): records, visitors, and each visitor's latest choice per category."""
    optional = [c for c in categories() if not c.required]
    per_version = session.execute(
        select(ConsentRecord.policy_version, func.count(), func.max(ConsentRecord.id))
        .group_by(ConsentRecord.policy_version).order_by(func.max(ConsentRecord.id).desc())).all()
    stats = {v: VersionStats(policy_version=v, records=n, granted={c.key: 0 for c in optional})
             for v, n, _ in per_version}
    latest = (select(func.max(ConsentRecord.id))
              .group_by(ConsentRecord.consent_id, ConsentRecord.policy_version).scalar_subquery())
    rows = session.execute(select(ConsentRecord.policy_version, ConsentRecord.choices, ConsentRecord.gpc)
                           .where(ConsentRecord.id.in_(latest)).execution_options(yield_per=2000))
    for version, choices, gpc in rows:
        s = stats[version]
        s.visitors += 1
        s.gpc += bool(gpc)
        s.decided += all(c.key in choices for c in optional)
        for c in optional:
            s.granted[c.key] += bool(choices.get(c.key))
    return list(stats.values())


def export_csv(session: Session, *, actor: str) -> Iterator[str]:
    """Every record as CSV lines, oldest first; the export is audited before the first line."""
    audit.record(session, action="consent_export", actor=actor, detail="consent records CSV")
    session.commit()
    cats = categories()
    header = ["receipt_id", "consent_id", "created_at", "policy_version", "source", "gpc", "user_agent_family",
              *(c.key for c in cats)]

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        stmt = select(ConsentRecord).order_by(ConsentRecord.id).execution_options(yield_per=2000)
        # The stream outlives the request's session, so it reads through its own and closes it.
        with Session(session.get_bind()) as reader:
            yield from _rows(reader, stmt, writer, buffer)

    def _rows(reader: Session, stmt, writer, buffer) -> Iterator[str]:
        for i, record in enumerate(reader.execute(stmt).scalars(), 1):
            writer.writerow([record.receipt_id, record.consent_id, record.created_at.isoformat(), record.policy_version,
                             record.source, "yes" if record.gpc else "no", record.user_agent_family or "",
                             *(purpose_status(c, record) for c in cats)])
            if i % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return lines()
