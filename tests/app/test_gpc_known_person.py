"""§7025(c)(1): a Global Privacy Control signal during the status session of a known person is their
opt-out request too: an opt-out case is opened for them (receipt, notices downstream), once, and their
request's page says so; an agent's session, or a person whose opt-out is open or in effect, opens none."""
import pytest
from sqlalchemy import select

from portal import db
from portal.models import AgentAuthorization, PrivacyRequest
from portal.services.cases import notices as notice_service

from ..support import body, new_case, status_client

GPC = {"Sec-GPC": "1"}


@pytest.fixture(autouse=True)
def _sells_or_shares(app_config):
    app_config["SELLS_OR_SHARES"] = True


def _opt_outs(app, email="ana.ruiz@example.org") -> list[PrivacyRequest]:
    with app.app_context():
        return list(db.session().execute(select(PrivacyRequest).where(
            PrivacyRequest.email == email, PrivacyRequest.request_type == "opt_out")).scalars())


def test_the_signal_in_a_status_session_opens_one_opt_out_case_with_its_notices(app, mailbox):
    with app.app_context():
        notice_service.save_recipient(db.session(), data=notice_service.RecipientData(
            name="Adnet", kind="third_party", request_types=["opt_out"], method="manual"), actor="test")
    req = new_case(app, "access", language="es")
    client = status_client(app, req.reference)
    assert client.get(f"/requests/{req.reference}").status_code == 200
    assert _opt_outs(app) == []  # no signal, no case
    page = client.get(f"/requests/{req.reference}", headers=GPC).get_data(as_text=True)
    client.get("/", headers=GPC)
    client.get(f"/requests/{req.reference}", headers=GPC)
    [opt_out] = _opt_outs(app)
    assert opt_out.status == "in_progress" and opt_out.manner == "gpc" and opt_out.effective_at is not None
    assert opt_out.language == "es" and (opt_out.first_name, opt_out.last_name) == ("Ana", "Ruiz")
    # The page in the session says so, in the request's language, naming the new case.
    assert "Control Global de Privacidad" in page and opt_out.reference in page
    receipt = mailbox.last(req.email)
    assert opt_out.reference in receipt["Subject"] and opt_out.reference in body(receipt)
    with app.app_context():
        case = db.session().get(PrivacyRequest, opt_out.id)
        assert [r.name for r in notice_service.concerned(db.session(), case)] == ["Adnet"]
        assert notice_service.blocking_completion(db.session(), case) is not None  # the notice is owed first


def test_no_case_while_an_opt_out_is_in_effect_and_none_for_an_agent(app):
    new_case(app, "opt_out", "in_progress")
    req = new_case(app, "access")
    status_client(app, req.reference).get(f"/requests/{req.reference}", headers=GPC)
    assert len(_opt_outs(app)) == 1
    # An agent follows the consumer's request in the agent's own browser: its signal is not the consumer's.
    agents_case = new_case(app, "access", email="agent@example.org")
    with app.app_context():
        s = db.session()
        s.add(AgentAuthorization(request_id=agents_case.id, agent_kind="person", agent_name="Eva Agent",
                                 agent_email="agent@example.org", authorization_kind="signed_permission"))
        s.commit()
    status_client(app, agents_case.reference).get(f"/requests/{agents_case.reference}", headers=GPC)
    assert _opt_outs(app, "agent@example.org") == []


def test_no_case_without_the_signal_or_when_nothing_is_sold(app_config, request):
    app_config["SELLS_OR_SHARES"] = False
    app = request.getfixturevalue("app")
    req = new_case(app, "access")
    status_client(app, req.reference).get(f"/requests/{req.reference}", headers=GPC)
    assert _opt_outs(app) == []
