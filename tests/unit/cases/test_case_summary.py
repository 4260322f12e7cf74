"""The case page's summary: what is needed next for each state, "replied" after staff read the case,
and the marks written without touching the case's version."""
import pytest
from sqlalchemy import select

from portal.models import AuditEvent, PrivacyRequest, RequestMessage, StaffUser
from portal.services.cases import case_summary, casework, submission, transitions
from portal.services.cases.submission import NewRequest


@pytest.fixture
def staff(session):
    user = StaffUser(email="summary@billgenix.example", role="support")
    session.add(user)
    session.commit()
    return user


def _case(session, kind="delete", status="verifying", email="ana@example.org", hold=None):
    req = submission.submit(session, new=NewRequest(request_type=kind, first_name="Ana", last_name="Ruiz",
                                                    email=email)).request
    if req.status == "awaiting_email":
        transitions.transition(session, req, "verifying", actor="requester")
    if status == "in_progress" and req.status != "in_progress":
        transitions.transition(session, req, "in_progress", actor="system")
    if status == "on_hold":
        transitions.transition(session, req, "on_hold", actor="system", hold_reason=hold)
    session.commit()
    return req


@pytest.mark.parametrize(("kind", "status", "hold", "expected"), [
    ("delete", "verifying", None, "Verify the requester's identity"),
    ("delete", "on_hold", "agent_authorization", "Review the agent's authorization"),
    ("delete", "on_hold", "fraud_suspected", "Security review"),
    ("access", "in_progress", None, "Complete the request: write the response, check it on the review page"),
    ("opt_out", "in_progress", None, "the case completes by itself"),
])
def test_the_next_step_follows_the_state(session, kind, status, hold, expected):
    req = _case(session, kind, status, hold=hold)
    assert expected in case_summary.next_step(session, req)


def test_a_reply_after_staff_read_is_replied_and_marks_leave_the_version(session, staff):
    req = _case(session)
    version = req.version
    summary = case_summary.summary(session, req, messages=[], staff=staff)
    assert summary.never_read and not summary.replied and summary.assignee is None
    case_summary.assign(session, req=req, staff=staff, take=True)
    case_summary.mark_read(session, req=req)
    fresh = session.execute(select(PrivacyRequest).where(PrivacyRequest.id == req.id)
                            .execution_options(populate_existing=True)).scalar_one()
    assert fresh.version == version and fresh.assignee_id == staff.id and fresh.staff_read_at is not None
    casework.request_information(session, req=fresh, staff=staff, message="Which claim?", expected_version=version)
    case_summary.mark_read(session, req=fresh)  # asking is acting: read up to now
    casework.answer_information(session, req=fresh, body="WC-7")
    fresh = session.get(PrivacyRequest, req.id)
    summary = case_summary.summary(session, fresh, messages=_messages(session, fresh), staff=staff)
    assert summary.replied and summary.mine and summary.newest_message.body == "WC-7"
    assert summary.next_step.startswith("The requester replied")
    assert "case_taken" in [e.action for e in session.execute(select(AuditEvent).where(
        AuditEvent.request_id == req.id)).scalars()]


def _messages(session, req):
    return list(session.execute(select(RequestMessage).where(RequestMessage.request_id == req.id)
                                .order_by(RequestMessage.id)).scalars())
