"""Agents who cannot ask the consumer to sign (§7063(b), §7062, §7024(a)): with a power of attorney, or a
signed permission without the consumer's email, the agent's declared authority accepted by staff stands
in for the consumer's declaration; matching still runs on the points the agent gives; no mail or page
ever asks an agent to swear to be the consumer. A business agent needs no California registration."""
import pytest
from sqlalchemy import select

from portal import db
from portal.models import AgentAuthorization, PrivacyRequest
from portal.services.cases import submission

from ..support import body, days_ago, make_staff, post_action, sign_in, status_client
from .test_agent_journey import AGENT, confirm_agent_email, submit
from .test_agent_parity import CHECKLIST, index

POINTS = {"consumer_phone": "909 555 0142", "date_of_birth": "1980-04-23", "claim_number": "WC20240017"}
SWEAR = "that you are the person the request is about"


def the_case(app):
    with app.app_context():
        return db.session().execute(select(PrivacyRequest)).scalar_one()


def accept(app, req):
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    assert post_action(staff, req.reference, "accept_agent", {"checklist": CHECKLIST}).status_code == 303
    return the_case(app)


def agent_mails(mailbox):
    return [body(m) for m in mailbox.to(AGENT["agent_email"])]


@pytest.mark.parametrize(("kind", "consumer_email"), [("power_of_attorney", "ana.ruiz@example.org"),
                                                      ("power_of_attorney", ""), ("signed_permission", "")])
@pytest.mark.parametrize(("request_type", "scope"), [("delete", "categories"), ("access", "specific")])
def test_matching_points_verify_without_any_consumer_declaration(client, app, mailbox, kind, consumer_email,
                                                                request_type, scope):
    index(app)
    assert submit(client, authorization_kind=kind, consumer_email=consumer_email, request_type=request_type,
                  access_scope=scope, **POINTS).status_code == 303
    confirm_agent_email(client, mailbox.last(AGENT["agent_email"]))
    assert not mailbox.to("ana.ruiz@example.org")  # the consumer is neither asked to confirm nor to verify
    req = accept(app, the_case(app))
    assert (req.status, req.hold_reason, req.declaration_signature) == ("in_progress", None, None)
    assert req.access_scope == (scope if request_type == "access" else None)  # specific pieces, not downgraded
    # Day 45 comes: nothing is denied as unverifiable.
    with app.app_context():
        s = db.session()
        case = s.get(PrivacyRequest, req.id)
        case.received_at = days_ago(46)
        s.commit()
        submission.expire_unconfirmed(s)
    assert the_case(app).status == "in_progress"
    assert not any(SWEAR in text for text in agent_mails(mailbox))


def test_matching_still_runs_on_the_agents_points_and_never_asks_the_agent_to_swear(client, app, mailbox):
    index(app)
    assert submit(client, authorization_kind="power_of_attorney", consumer_email="",
                  consumer_phone="909 555 0199").status_code == 303
    confirm_agent_email(client, mailbox.last(AGENT["agent_email"]))
    req = accept(app, the_case(app))
    assert (req.status, req.hold_reason) == ("on_hold", "data_mismatch")
    hold = agent_mails(mailbox)[-1]
    assert "consumer you act for" in hold and SWEAR not in hold and "declaration" not in hold
    page = status_client(app, req.reference).get(f"/requests/{req.reference}").get_data(as_text=True)
    assert 'name="claim_number"' in page and 'name="declaration_signature"' not in page


def test_a_reachable_consumer_signs_their_own_declaration_never_the_agent(client, app, mailbox):
    index(app)
    assert submit(client, **POINTS).status_code == 303  # deletion, signed permission, consumer's email given
    confirm_agent_email(client, mailbox.last(AGENT["agent_email"]))
    req = accept(app, the_case(app))
    assert (req.status, req.hold_reason) == ("on_hold", "high_certainty_required")
    hold = agent_mails(mailbox)[-1]
    assert SWEAR not in hold and "consumer's own signed declaration" in hold
    page = status_client(app, req.reference).get(f"/requests/{req.reference}").get_data(as_text=True)
    assert 'name="declaration_signature"' not in page


@pytest.mark.parametrize("number", ["", "TX-0801234567", "DE 7654321"])
def test_a_business_agent_needs_no_california_registration(client, app, number):
    page = client.get("/agent/requests/new").get_data(as_text=True)
    assert "Secretary of State" not in page and "Business registration number (optional)" in page
    assert submit(client, agent_sos_number=number).status_code == 303
    with app.app_context():
        auth = db.session().execute(select(AgentAuthorization)).scalar_one()
    assert auth.agent_sos_number == (number.replace("-", "").replace(" ", "") or None)
