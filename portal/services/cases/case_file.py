"""Everything the console's case page shows about one case, read in one place."""
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlmodel import Session

from ...models import (
    AgentAuthorization,
    AuditEvent,
    CaseNote,
    CaseOutcome,
    ContestedStatement,
    FulfilmentItem,
    IdentityCheck,
    PrivacyRequest,
    RequestMessage,
    StaffUser,
)
from .. import audit
from ..documents import response_files
from ..documents import store as documents
from . import agents
from .transitions import agent_of


@dataclass
class CaseFile:
    req: PrivacyRequest
    events: list[AuditEvent]
    messages: list[RequestMessage]
    notes: list[CaseNote]
    checks: list[IdentityCheck]
    outcome: CaseOutcome | None
    contested: ContestedStatement | None
    files: list
    downloads: list
    evidence: list
    staff: dict[int, StaffUser]
    corrections: list = field(default_factory=list)  # the requester's documents for a correction
    agent: AgentAuthorization | None = None
    authorization: list = field(default_factory=list)

    @property
    def consumer_state(self) -> str | None:
        return agents.consumer_state(self.agent) if self.agent else None

    @property
    def checklist(self) -> list[str]:
        return self.agent.review_checklist.split(",") if self.agent and self.agent.review_checklist else []

    def who(self, actor_value: str) -> str:
        """An audit actor for people: the staff member's email, or the actor as written."""
        staff_id = audit.staff_id(actor_value)
        return self.staff[staff_id].email if staff_id in self.staff else actor_value

    def staff_email(self, staff_id: int | None) -> str:
        member = self.staff.get(staff_id)
        return member.email if member else f"staff:{staff_id}"



def case_file(session: Session, req: PrivacyRequest) -> CaseFile:
    """Everything staff see about one case."""
    def rows(model, order):
        return list(session.execute(select(model).where(model.request_id == req.id).order_by(order)).scalars())

    events = rows(AuditEvent, AuditEvent.id)
    ids = {audit.staff_id(e.actor) for e in events} - {None}
    notes, checks = rows(CaseNote, CaseNote.id), rows(IdentityCheck, IdentityCheck.id)
    ids |= {n.staff_id for n in notes} | {c.staff_id for c in checks}
    staff = {s.id: s for s in session.execute(select(StaffUser).where(StaffUser.id.in_(ids))).scalars()} if ids else {}
    return CaseFile(
        req=req, events=events, messages=rows(RequestMessage, RequestMessage.id), notes=notes, checks=checks,
        outcome=session.execute(select(CaseOutcome).where(CaseOutcome.request_id == req.id)).scalar(),
        contested=session.execute(select(ContestedStatement).where(ContestedStatement.request_id == req.id)).scalar(),
        files=response_files.files_for(session, req), downloads=response_files.downloads_for(session, req),
        evidence=_requesters_evidence(session, req), staff=staff,
        agent=agent_of(session, req),
        authorization=documents.for_request(session, request_id=req.id, purpose="authorization"),
        corrections=documents.for_request(session, request_id=req.id, purpose="correction"))


def _requesters_evidence(session: Session, req: PrivacyRequest) -> list:
    """The requester's documents: evidence files staff attached to a plan item show with the item."""
    staffs = set(session.execute(select(FulfilmentItem.document_id).where(
        FulfilmentItem.request_id == req.id, FulfilmentItem.document_id.is_not(None))).scalars())
    return [d for d in documents.for_request(session, request_id=req.id, purpose="evidence") if d.id not in staffs]
