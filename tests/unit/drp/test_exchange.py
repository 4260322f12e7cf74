"""The DRP services without HTTP: the envelope's clock rules, the claims, the state mapping, the
purge of claims at close, the operators' agent commands."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from portal.lifecycle import TRANSITIONS
from portal.models import DrpAgent, DrpRequest, PrivacyRequest
from portal.services.cases import submission, transitions
from portal.services.drp import exchange as drp
from portal.services.drp import status as drp_status

from ...drp_agents import DRP_CONFIG, Agent

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)


@pytest.fixture
def app_config(app_config):
    return {**app_config, **DRP_CONFIG}


@pytest.fixture
def agent(session):
    agent = Agent()
    drp.add_agent(session, agent_id=agent.agent_id, verify_key=agent.verify_key, name=agent.name)
    agent.token = drp.pair(session, agent_id=agent.agent_id, body=agent.sign(agent.envelope(NOW)), now=NOW)["token"]
    return agent


def _row(session, agent) -> DrpAgent:
    return session.execute(select(DrpAgent).where(DrpAgent.agent_id == agent.agent_id)).scalar_one()


@pytest.mark.parametrize(("issued_offset", "expires_offset", "ok"), [
    (-600, 300, True),  # a 15-minute window, now inside it
    (-300, -50, True),  # expired 50 s ago: inside the 60 s allowance
    (-300, -61, False),  # expired 61 s ago
    (55, 600, True),  # issued 55 s ahead (a fast clock)
    (61, 600, False),  # issued 61 s ahead
    (-600, 301, False),  # a window over 15 minutes
    (0, 0, False),  # expires-at not after issued-at
])
def test_the_envelopes_clock_rules(session, agent, issued_offset, expires_offset, ok):
    claims = agent.envelope(**{"issued-at": (NOW + timedelta(seconds=issued_offset)).isoformat(),
                               "expires-at": (NOW + timedelta(seconds=expires_offset)).isoformat()})
    if ok:
        drp.check_envelope(claims, agent=_row(session, agent), now=NOW)
    else:
        with pytest.raises(drp.Refused):
            drp.check_envelope(claims, agent=_row(session, agent), now=NOW)


def test_timestamps_with_z_and_fractions_are_read(session, agent):
    claims = agent.envelope(**{"issued-at": "2026-12-01T19:59:00.123456Z", "expires-at": "2026-12-01T20:05:00Z"})
    drp.check_envelope(claims, agent=_row(session, agent), now=NOW)


def test_no_business_id_configured_refuses_everything(app, session, agent):
    app.config["DRP_BUSINESS_ID"] = None
    with pytest.raises(drp.Refused):
        drp.check_envelope(agent.envelope(NOW, **{"business-id": None}), agent=_row(session, agent), now=NOW)


@pytest.mark.parametrize(("name", "first", "last"), [
    ("Ana Ruiz", "Ana", "Ruiz"), ("Ruiz, Ana", "Ana", "Ruiz"), ("Ana María de la Cruz", "Ana", "María de la Cruz"),
    ("Cher", "Cher", ""),
])
def test_names_are_split_into_first_and_last(name, first, last):
    assert drp.split_name(name) == (first, last)


def test_only_the_identity_claims_are_kept(app, session):
    ex = drp.parse_exercise(Agent().exercise("deletion", address={"street_address": "1 Main St", "locality": "Ontario"},
                                             address_verified=True, favourite_colour="blue",
                                             relationships=["customer"]))
    assert set(ex.claims) == {"name", "email", "email_verified", "phone_number", "phone_number_verified",
                              "address", "address_verified", "relationships"}
    assert ex.email_verified and ex.request_type == "delete"


def _drp_case(session, agent, exercise="deletion", **claims) -> tuple[PrivacyRequest, DrpRequest]:
    status = drp.exercise(session, token=agent.token, body=agent.sign(agent.exercise(exercise, **claims)))
    row = session.execute(select(DrpRequest).where(DrpRequest.request_uuid == status["request_id"])).scalar_one()
    return session.get(PrivacyRequest, row.request_id), row


@pytest.mark.parametrize(("status", "hold", "outcome", "expected"), [
    ("awaiting_email", None, None, ("in_progress", "need_user_verification")),
    ("verifying", None, None, ("in_progress", None)),
    ("on_hold", "information_requested", None, ("in_progress", "need_user_verification")),
    ("on_hold", "fraud_suspected", None, ("in_progress", None)),
    ("in_progress", None, None, ("in_progress", None)),
    ("completed", None, None, ("fulfilled", None)),
    ("partially_completed", None, "exempt_cmia", ("fulfilled", None)),
    ("denied", None, "unverifiable", ("denied", "insuf_verification")),
    ("denied", None, "exempt_cmia", ("denied", "claim_not_covered")),
    ("denied", None, "fraud_suspected", ("denied", "suspected_fraud")),
    ("denied", None, "duplicate", ("denied", "too_many_requests")),
    ("denied", None, "not_california_resident", ("denied", "outside_jurisdiction")),
    ("denied", None, "agent_not_authorized", ("denied", "other")),
    ("withdrawn", None, None, ("revoked", None)),
    ("expired", None, None, ("expired", None)),
])
def test_every_status_of_ours_maps_onto_a_drp_state(session, status, hold, outcome, expected):
    req = PrivacyRequest(status=status, hold_reason=hold, outcome_code=outcome)
    assert drp_status.state(req) == expected
    assert expected[0] in drp_status.STATUSES and (expected[1] is None or expected[1] in drp_status.REASONS)


def test_every_lifecycle_status_has_a_drp_state():
    assert set(TRANSITIONS) == set(drp_status._STATES)


def test_the_claims_values_are_dropped_when_the_case_closes(session, agent):
    req, row = _drp_case(session, agent, address="1 Main St", address_verified=True, relationships=["customer"])
    assert row.claims["address"] == "1 Main St"
    submission.withdraw(session, req=req, actor="drp:test")
    session.refresh(row)
    assert row.claims == {"email_verified": True, "phone_number_verified": False, "address_verified": True,
                          "relationships": ["customer"]}


def test_status_objects_carry_no_fields_beyond_the_specification(session, agent):
    allowed = {"request_id", "agent_request_id", "status", "reason", "received_at", "expected_by",
               "processing_details", "user_verification_url"}
    req, row = _drp_case(session, agent, email_verified=False)
    for to_status, kw in (("verifying", {}), ("on_hold", {"hold_reason": "information_requested"}), ("denied", {})):
        transitions.transition(session, req, to_status, actor="system", **kw)
        obj = drp_status.status_object(req, row)
        assert set(obj) <= allowed and obj["received_at"].endswith("+00:00")
        assert ("expected_by" in obj) == (obj["status"] == "in_progress")
    session.rollback()


# ---- operators' commands ---------------------------------------------------------------------

def test_adding_an_agent_checks_the_id_and_the_key(session):
    with pytest.raises(drp.AgentError, match="base64"):
        drp.add_agent(session, agent_id="AGENT", verify_key="not a key")
    with pytest.raises(drp.AgentError, match="32-byte"):
        drp.add_agent(session, agent_id="AGENT", verify_key="c2hvcnQ=")
    with pytest.raises(drp.AgentError, match="letters"):
        drp.add_agent(session, agent_id="has spaces", verify_key=Agent().verify_key)


def test_a_removed_agent_can_be_added_back_with_a_new_key(session, agent):
    with pytest.raises(drp.AgentError, match="already registered"):
        drp.add_agent(session, agent_id=agent.agent_id, verify_key=agent.verify_key)
    drp.remove_agent(session, agent_id=agent.agent_id)
    assert drp.agent_for_token(session, agent.token) is None
    with pytest.raises(drp.AgentError):
        drp.remove_agent(session, agent_id=agent.agent_id)
    fresh = Agent(agent.agent_id)
    drp.add_agent(session, agent_id=agent.agent_id, verify_key=fresh.verify_key)
    assert _row(session, agent).verify_key == fresh.verify_key and _row(session, agent).token_hash is None


def test_a_numeric_business_id_from_the_environment_still_matches(app, session, agent):
    app.config["DRP_BUSINESS_ID"] = 12345  # PORTAL_DRP_BUSINESS_ID=12345, parsed as JSON
    drp.check_envelope(agent.envelope(NOW, **{"business-id": "12345"}), agent=_row(session, agent), now=NOW)


def test_a_callback_is_queued_with_the_change_or_not_at_all(session, agent):
    from portal.models import DrpCallback
    req, row = _drp_case(session, agent, status_callback="https://agent.example/cb")
    transitions.transition(session, req, "in_progress", actor="system")
    session.rollback()  # the change did not happen: neither did its callback
    assert session.execute(select(DrpCallback)).scalars().all() == []
    transitions.transition(session, req, "in_progress", actor="system")
    session.commit()
    (queued,) = session.execute(select(DrpCallback)).scalars().all()
    assert (queued.url, queued.status, queued.kind) == ("https://agent.example/cb", "pending", "drp_status")
