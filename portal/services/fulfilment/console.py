"""What the console shows of fulfilment: the case page's plan (and `fulfil show`), and the read-only
page of the data map (systems, collections, rules, `datamap check`'s findings). Connection strings
are never shown: only what kind of connection a system has."""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from ... import clock
from ...models import Document, DownstreamNotice, FulfilmentItem, PrivacyRequest, Recipient, StaffUser
from ..cases import notices, outcomes
from . import access_package, corrections, datamap_check
from .answers import staff_may_record
from .ccpa_categories import CATEGORIES
from .datamap import DataMap
from .plan import KINDS, SETTLED, STATES, items_for


@dataclass
class PlanRow:
    item: FulfilmentItem
    assignee: str | None  # the staff member's email; None: unassigned
    recipient: Recipient | None
    notice: DownstreamNotice | None
    document: Document | None
    overdue: bool
    staff_records: bool  # staff record its outcome here
    choices: list = field(default_factory=list)  # a correction's fields staff may choose (corrections.Choice)

    @property
    def kind_label(self) -> str:
        return KINDS[self.item.kind]

    @property
    def state_label(self) -> str:
        return STATES[self.item.state]

    def evidence(self) -> dict:
        """The item's evidence as `fulfil show --json` prints it (no personal data)."""
        i = self.item
        return {"found": i.found, "note": i.outcome_note, "answered_via": i.answered_via,
                "document_id": i.document_id, "recorded_by": i.updated_by,
                "recorded_at": i.updated_at.isoformat() if i.updated_at else None}


@dataclass
class PlanPanel:
    rows: list[PlanRow]
    map_recipients: list[tuple[str, bool]] = field(default_factory=list)  # (name, configured)
    package: Document | None = None  # the access package the connectors built, for staff to review

    @property
    def open_count(self) -> int:
        return sum(1 for r in self.rows if r.item.state not in SETTLED)


def plan_panel(session: Session, req: PrivacyRequest, *, today: date | None = None) -> PlanPanel:
    today = today or clock.today()
    items = items_for(session, req)
    staff_ids = {i.assignee_id for i in items} - {None}
    staff = {s.id: s.email for s in session.execute(select(StaffUser).where(StaffUser.id.in_(staff_ids))).scalars()} \
        if staff_ids else {}
    rows, datamap = [], None
    for i in items:
        recipient = session.get(Recipient, i.recipient_id) if i.recipient_id else None
        rows.append(PlanRow(
            item=i, assignee=staff.get(i.assignee_id), recipient=recipient,
            notice=session.get(DownstreamNotice, i.notice_id) if i.notice_id else None,
            document=session.get(Document, i.document_id) if i.document_id else None,
            overdue=i.state not in SETTLED and i.due_on < today,
            staff_records=staff_may_record(i, recipient.method if recipient else None)))
        if req.request_type == "correct" and i.kind == "automatic" and i.state == "pending" and not i.detail.get(
                "correction_preview"):
            datamap = datamap or corrections.configured_map()
            rows[-1].choices = corrections.choices(datamap, i.system)
    configured = {r.name for r in notices.list_recipients(session) if r.active}
    names = list(dict.fromkeys((i.detail or {}).get("recipient") for i in items if (i.detail or {}).get("recipient")))
    return PlanPanel(rows, [(n, n in configured) for n in names],
                     access_package.stored(session, req) if req.request_type == "access" and items else None)


def show(session: Session, req: PrivacyRequest) -> dict:
    """`fulfil show --json`: the reference and one object per item."""
    panel = plan_panel(session, req)
    return {"reference": req.reference, "items": [
        {"system": r.item.system, "name": r.item.system_name, "kind": r.item.kind, "state": r.item.state,
         "owner": r.item.owner, "assignee": r.assignee, "due": r.item.due_on.isoformat(), "overdue": r.overdue,
         "evidence": r.evidence()} for r in panel.rows]}


# ---- the map's page --------------------------------------------------------------------------------

def connection_kind(system) -> list[str]:
    kinds = []
    if system.connection:
        kinds.append("read-only connection")
    if system.write_connection:
        kinds.append("write connection")
    if not kinds:
        kinds.append("staff searches by hand")
    return kinds


@dataclass
class MapPage:
    datamap: DataMap
    report: datamap_check.CheckReport
    bases: dict
    categories: dict = field(default_factory=lambda: CATEGORIES)

    @property
    def policy_findings(self):
        return [f for f in self.report.findings if f.file == datamap_check.POLICY_FILE]

    @property
    def other_findings(self):
        return [f for f in self.report.findings if f.file != datamap_check.POLICY_FILE]


def map_page() -> MapPage:
    """The configured map and `datamap check`'s findings (connections not opened: a page must not
    wait on a database; `flask datamap check` opens them)."""
    report = datamap_check.check_configured_map(probe_connections=False)
    return MapPage(report.datamap, report, outcomes.all_bases())


def policy_gaps() -> list[str]:
    """The CCPA categories the map holds that the privacy policy does not name (datamap check's warnings)."""
    return [f.message for f in map_page().policy_findings]
