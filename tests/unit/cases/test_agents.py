"""The agent review service without HTTP: accept, reject, ask; the lifecycle around them."""
import io

import pytest
from flask import current_app

from portal import lifecycle
from portal.lifecycle import IllegalTransition
from portal.models import StaffUser
from portal.services.cases import agents, casework, outcomes, verification
from portal.services.cases.transitions import StaleCase, agent_of

from ... import files
from ...support import Mailbox, link_in

ALL = list(agents.REVIEW_CHECKLIST)


@pytest.fixture
def staff(session):
    user = StaffUser(email="reviewer@billgenix.example", role="support")
    session.add(user)
    session.commit()
    return user


def _in_review(session, request_type="delete", kind="signed_permission", consumer_email="ana@example.org"):
    new = agents.NewAgentRequest(request_type=request_type, agent_kind="person", agent_name="Maria Lopez",
                                 agent_email="maria@example.org", consumer_first_name="Ana", consumer_last_name="Ruiz",
                                 authorization_kind=kind, consumer_email=consumer_email)
    upload = agents.Upload(io.BytesIO(files.pdf()), "letter.pdf", "application/pdf")
    req = agents.submit(session, new=new, upload=upload)
    if request_type in ("opt_out", "limit"):
        return req  # in effect on upload, in review at once: no email link (§7026(j))
    token = link_in(Mailbox(current_app).last("maria@example.org"), "/verify/").rpartition("/")[2]
    return verification.confirm_email(session, token=token)


def test_the_review_replaces_verify_and_clear_hold(session, staff):
    req = _in_review(session)
    assert casework.available_actions(req)[:3] == ["accept_agent", "reject_agent", "ask_agent"]
    assert "verify" not in casework.available_actions(req) and "clear_hold" not in casework.available_actions(req)
    assert agents.consumer_state(agent_of(session, req)) == "waiting"


@pytest.mark.parametrize("request_type,to_status,hold", [
    # Accepted, know/delete/correct go to identity matching (here, an empty index: held for details).
    ("delete", "on_hold", "data_mismatch"), ("access", "on_hold", "data_mismatch"),
    ("correct", "on_hold", "data_mismatch"), ("opt_out", "in_progress", None), ("limit", "in_progress", None)])
def test_accept_moves_the_case_on(session, staff, request_type, to_status, hold):
    req = _in_review(session, request_type=request_type)
    with pytest.raises(IllegalTransition):
        agents.accept_authorization(session, req=req, staff=staff, checklist=ALL[:-1], note=None,
                                    expected_version=req.version)
    with pytest.raises(StaleCase):
        agents.accept_authorization(session, req=req, staff=staff, checklist=ALL, note=None,
                                    expected_version=req.version - 1)
    agents.accept_authorization(session, req=req, staff=staff, checklist=ALL, note=" ok ", expected_version=req.version)
    auth = agent_of(session, req)
    assert (req.status, req.hold_reason) == (to_status, hold)
    assert (auth.review_decision, auth.review_reason) == ("accepted", "ok")
    assert auth.reviewed_by == f"staff:{staff.id}"
    assert (req.effective_at is not None) == (to_status == "in_progress")
    with pytest.raises(IllegalTransition):  # once only
        agents.reject_authorization(session, req=req, staff=staff, reason="x", expected_version=req.version)


def test_reject_needs_a_reason_and_denies(session, staff):
    req = _in_review(session, kind="power_of_attorney")
    with pytest.raises(IllegalTransition):
        agents.reject_authorization(session, req=req, staff=staff, reason="  ", expected_version=req.version)
    agents.reject_authorization(session, req=req, staff=staff, reason="Not signed.", expected_version=req.version)
    assert (req.status, req.outcome_code, req.response_message) == ("denied", "agent_authorization_rejected",
                                                                    "Not signed.")
    assert outcomes.outcome_bases()["agent_authorization_rejected"]["citation"] == req.outcome_citation


def test_asking_the_agent_keeps_the_review_and_the_answer_resumes_it(session, staff):
    req = _in_review(session, consumer_email=None)
    assert agents.consumer_state(agent_of(session, req)) == "not_asked"
    agents.ask_agent(session, req=req, staff=staff, message="The whole page, please.", expected_version=req.version)
    assert (req.status, req.hold_reason) == ("on_hold", "information_requested")
    assert "verify" not in casework.available_actions(req)
    assert "clear_hold" not in casework.available_actions(req) and "accept_agent" not in casework.available_actions(req)
    page = (io.BytesIO(files.png()), "page.png", "image/png")
    casework.answer_information(session, req=req, body="Here.", attachment=page)
    assert (req.status, req.hold_reason) == ("on_hold", "agent_authorization")
    assert [d.purpose for d in casework.documents.for_request(session, request_id=req.id)] == ["authorization"] * 2


def test_a_hold_may_change_its_reason_but_not_lose_it():
    lifecycle.check_transition("on_hold", "on_hold", "information_requested")
    with pytest.raises(IllegalTransition):
        lifecycle.check_transition("on_hold", "on_hold")
