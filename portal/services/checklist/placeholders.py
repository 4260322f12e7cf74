"""The first-run checklist: each placeholder of a fresh install that is still live, with what to set.

A fresh install runs on the embedded defaults (docs/configuration.md), which are the Billgenix
example's: right for trying the portal, wrong for a business. `items` lists every one still in
force; a configured install lists none. Reads configuration, the policy in force, the heartbeats and
the data map; writes nothing."""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select
from sqlmodel import Session

from ... import clock, policy
from ...config import DEFAULTS
from ...models import DrpAgent, WorkerHeartbeat

log = logging.getLogger(__name__)

# Domains reserved for examples and tests (RFC 2606, RFC 6761): mail to them never arrives.
EXAMPLE_DOMAINS = ("example", "example.com", "example.org", "example.net", "test", "invalid", "localhost")
EXAMPLE_ORG = DEFAULTS["ORG_NAME"]
WORKER_SILENT_AFTER = timedelta(minutes=10)
MAX_DATAMAP_LINES = 20


@dataclass(frozen=True)
class Item:
    """One placeholder still live: a short key, what is wrong, and what to set."""
    key: str
    problem: str
    fix: str


def _example_domain(address: str | None) -> bool:
    domain = (address or "").rpartition("@")[2].strip().lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in EXAMPLE_DOMAINS)


def _host(url: str) -> str:
    """The host and port a URL reaches (the scheme aside: behind a proxy that ends TLS, the portal may
    see plain HTTP for an https BASE_URL)."""
    parts = urlsplit(url or "")
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = parts.port if parts.port not in (None, default) else None
    return f"{(parts.hostname or '').lower()}{f':{port}' if port else ''}"


def configuration_items(*, served_at: str | None = None) -> list[Item]:
    """The placeholders configuration alone tells (no database): `served_at` is the scheme and host
    the portal was reached at (a request's), to compare BASE_URL with."""
    cfg = current_app.config
    items: list[Item] = []
    org = cfg["ORG_NAME"]
    if org == EXAMPLE_ORG:
        items.append(Item("org_name", f"The business's name is still the example's ({EXAMPLE_ORG}).",
                          "Set PORTAL_ORG_NAME, and put your privacy policy in the instance folder (privacy_policy.md)."))
    elif EXAMPLE_ORG in _policy_text():
        items.append(Item("org_name", f"The privacy policy in force still names {EXAMPLE_ORG}.",
                          "Put your own privacy policy in the instance folder as privacy_policy.md "
                          "(and privacy_policy.es.md)."))
    for key in ("MAIL_FROM", "PRIVACY_EMAIL", "SECURITY_CONTACT_EMAIL"):
        if _example_domain(cfg.get(key)):
            items.append(Item(key.lower(), f"{key} ({cfg.get(key)}) is on an example domain: mail from or to it "
                                            "never arrives.", f"Set PORTAL_{key} to an address of your domain."))
    if cfg.get("PRIVACY_PHONE") == DEFAULTS["PRIVACY_PHONE"]:
        items.append(Item("privacy_phone", f"The phone number is still the example's ({cfg['PRIVACY_PHONE']}).",
                          "Set PORTAL_PRIVACY_PHONE to the number your privacy team answers."))
    if not cfg.get("PRIVACY_TOLL_FREE") and not cfg.get("EXCLUSIVELY_ONLINE"):
        items.append(Item("privacy_toll_free", "No toll-free number for privacy requests (Civil Code "
                                               "§1798.130(a)(1)(A)).",
                          "Set PORTAL_PRIVACY_TOLL_FREE, or PORTAL_EXCLUSIVELY_ONLINE=true if the business "
                          "operates only online."))
    base = _host(cfg["BASE_URL"])
    if served_at is not None and base != _host(served_at):
        items.append(Item("base_url", f"BASE_URL is {cfg['BASE_URL']} but this page was served at "
                                      f"{served_at.rstrip('/')}: links in mails would not reach the portal.",
                          "Set PORTAL_BASE_URL to the address people use to reach the portal "
                          "(scheme, host and port)."))
    elif served_at is None and cfg["BASE_URL"] == DEFAULTS["BASE_URL"]:
        items.append(Item("base_url", f"BASE_URL is still the default ({cfg['BASE_URL']}): links in mails reach "
                                      "only this machine.",
                          "Set PORTAL_BASE_URL to the address people use to reach the portal."))
    return items


def _policy_text() -> str:
    try:
        return str(policy.current().html)
    except Exception:  # noqa: BLE001  a policy that cannot be read is reported by its own check
        return ""


def database_items(session: Session, *, now: datetime | None = None) -> list[Item]:
    """The placeholders only the database tells: no worker beating, DRP on without an agent."""
    now = now or clock.now()
    items: list[Item] = []
    last = session.execute(select(func.max(WorkerHeartbeat.beat_at)).where(WorkerHeartbeat.name == "worker")).scalar()
    if last is None or last < now - WORKER_SILENT_AFTER:
        items.append(Item("worker", "No worker is running (`flask --app portal worker`, or `make worker`): no "
                                    "staff digest, no closing of unconfirmed requests at their due date, no "
                                    "retention purge.",
                          "Run the worker beside the web processes (a service of its own; see docs/operations.md)."))
    if current_app.config.get("DRP_ENABLED") and not session.execute(select(func.count()).select_from(DrpAgent)).scalar():
        items.append(Item("drp_agent", "The Data Rights Protocol is on, but no agent is trusted yet.",
                          "Add one with `flask --app portal drp agent add`, or set PORTAL_DRP_ENABLED=false."))
    return items


def datamap_items() -> list[Item]:
    """The data map's problems, as `datamap check` prints them (without reaching the systems)."""
    from ..fulfilment import datamap_check
    try:
        report = datamap_check.check_configured_map(probe_connections=False)
    except Exception as exc:  # noqa: BLE001  an unreadable map is itself the problem to show
        return [Item("datamap", f"The data map cannot be read: {exc}", "Run `flask --app portal datamap check`.")]
    errors = [f for f in report.findings if f.level == "error"]
    return [Item("datamap", f.line(), "Fix the data map (docs/datamap.md); `flask --app portal datamap check` "
                                    "lists the same.") for f in errors[:MAX_DATAMAP_LINES]]


def items(session: Session, *, served_at: str | None = None) -> list[Item]:
    """Every placeholder still live, configuration first."""
    return configuration_items(served_at=served_at) + database_items(session) + datamap_items()


def log_warnings(session: Session, *, skip: frozenset[str] | set[str] = frozenset()) -> int:
    """At start-up: one warning per placeholder still live (but those in `skip`); how many."""
    found = [item for item in items(session) if item.key not in skip]
    for item in found:
        log.warning("first-run checklist: %s %s", item.problem, item.fix)
    return len(found)
