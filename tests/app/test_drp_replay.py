"""Signed DRP messages are good for one purpose, one business and a few minutes: a revoke carries
the envelope of every signed message and names the request it revokes, and a pairing message is
accepted once, however often it is sent within its time window."""
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock, db
from portal.models import AuditEvent, DrpAgent, DrpRequest, PrivacyRequest
from portal.services import audit

from ..drp_agents import DRP_CONFIG, Agent, pair, register, send


@pytest.fixture
def app_config(app_config):
    return {**app_config, **DRP_CONFIG}


@pytest.fixture
def agent(app):
    agent = Agent()
    register(app, agent)
    return agent


def _status(app, request_uuid) -> str:
    with app.app_context():
        s = db.session()
        drp = s.execute(select(DrpRequest).where(DrpRequest.request_uuid == request_uuid)).scalar_one()
        return s.get(PrivacyRequest, drp.request_id).status


def _last_refusal(app) -> AuditEvent:
    with app.app_context():
        return db.session().execute(select(AuditEvent).where(AuditEvent.action.like("%_refused"))
                                    .order_by(AuditEvent.id.desc())).scalars().first()


# ---- revoke ----------------------------------------------------------------------------------

@pytest.fixture
def made(app, client, agent):
    pair(client, agent)
    return send(client, agent, agent.exercise("deletion")).get_json()


def _revoke(client, agent, request_id, claims):
    return client.delete(f"/drp/v1/data-rights-request/{request_id}", data=agent.sign(claims), headers=agent.auth())


def test_an_old_pairing_message_made_out_to_another_business_does_not_revoke(app, client, agent, made):
    month_ago = clock.now() - timedelta(days=30)
    old_pairing = agent.envelope(month_ago, **{"business-id": "ACME_HOSTING"})  # signed by the agent, for ACME
    resp = _revoke(client, agent, made["request_id"], old_pairing)
    assert resp.status_code == 403 and resp.get_json()["code"] == "403"
    assert _status(app, made["request_id"]) != "withdrawn"
    assert _last_refusal(app).action == "drp_revoke_refused"


@pytest.mark.parametrize("problem", ["stale", "other business", "other agent id", "no envelope", "other request",
                                     "no request", "issued in the future"])
def test_a_revoke_message_outside_its_envelope_or_for_another_request_is_refused(app, client, agent, made, problem):
    now = clock.now()
    claims = {
        "stale": agent.revoke(made["request_id"], "x", now - timedelta(minutes=20)),
        "other business": agent.revoke(made["request_id"], "x", **{"business-id": "ACME_HOSTING"}),
        "other agent id": agent.revoke(made["request_id"], "x", **{"agent-id": "SOMEONE_ELSE"}),
        "no envelope": {"request_id": made["request_id"], "reason": "x"},
        "other request": agent.revoke("5f0c9a3e-1d2b-4c6a-9e7f-0a1b2c3d4e5f", "x"),
        "no request": agent.revoke(None, "x"),
        "issued in the future": agent.revoke(made["request_id"], "x", now + timedelta(minutes=5)),
    }[problem]
    resp = _revoke(client, agent, made["request_id"], claims)
    assert resp.status_code == 403 and resp.get_json()["message"]
    assert _status(app, made["request_id"]) != "withdrawn"


def test_a_revoke_for_one_request_cannot_be_replayed_on_another(app, client, agent, made):
    second = send(client, agent, agent.exercise("access")).get_json()
    message = agent.revoke(made["request_id"], "changed my mind")
    assert _revoke(client, agent, made["request_id"], message).get_json()["status"] == "revoked"
    assert _revoke(client, agent, second["request_id"], message).status_code == 403
    assert _status(app, second["request_id"]) != "withdrawn"
    # The same message again on its own request answers the same, as revoking twice always did.
    again = _revoke(client, agent, made["request_id"], message)
    assert again.status_code == 200 and again.get_json()["status"] == "revoked"


# ---- pairing ---------------------------------------------------------------------------------

def _pair(client, agent, body: bytes):
    return client.post(f"/drp/v1/agent/{agent.agent_id}", data=body, content_type="text/plain")


def test_a_pairing_message_replayed_within_its_window_mints_no_second_token(app, client, agent):
    body = agent.sign(agent.envelope())
    first = _pair(client, agent, body)
    assert first.status_code == 200
    token = first.get_json()["token"]
    replayed = _pair(client, agent, body)
    assert replayed.status_code == 403 and "used already" in replayed.get_json()["message"]
    with app.app_context():
        assert db.session().execute(select(DrpAgent.token_hash)).scalar() == hashlib.sha256(token.encode()).hexdigest()
    assert client.get(f"/drp/v1/agent/{agent.agent_id}", headers=agent.auth(token)).get_json() == {}
    assert "used already" in _last_refusal(app).detail
    # A new message, signed a moment later, pairs again as before (and replaces the token).
    fresh = _pair(client, agent, agent.sign(agent.envelope(clock.now() + timedelta(seconds=1))))
    assert fresh.status_code == 200 and fresh.get_json()["token"] != token


def test_a_replay_is_caught_among_many_later_events(app, client, agent):
    body = agent.sign(agent.envelope())
    assert _pair(client, agent, body).status_code == 200
    with app.app_context():  # more events since than one batch of the look-back holds
        s = db.session()
        for i in range(1200):
            audit.record(s, action="consent_recorded", actor="visitor", detail=f"event {i}")
        s.commit()
    assert _pair(client, agent, body).status_code == 403


def test_a_stale_pairing_message_is_refused(app, client, agent):
    stale = agent.sign(agent.envelope(clock.now() - timedelta(days=30)))
    assert _pair(client, agent, stale).status_code == 403
    with app.app_context():
        assert db.session().execute(select(DrpAgent.token_hash)).scalar() is None
