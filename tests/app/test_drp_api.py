"""The Data Rights Protocol API through the test client, with messages signed by PyNaCl in the tests."""
import base64
import hashlib
import io
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from portal import clock, db
from portal.models import AuditEvent, DrpAgent, DrpRequest, PrivacyRequest
from portal.services.drp import exchange
from portal.services.identity import subjects

from ..drp_agents import DRP_CONFIG, Agent, pair, register, send
from ..support import body

UNKNOWN_ID = "5f0c9a3e-1d2b-4c6a-9e7f-0a1b2c3d4e5f"


@pytest.fixture
def app_config(app_config):
    return {**app_config, **DRP_CONFIG}


@pytest.fixture
def agent(app):
    agent = Agent()
    register(app, agent)
    return agent


@pytest.fixture
def paired(app, client, agent):
    pair(client, agent)
    return agent


RECORDS = ("subject_id,email,phone,first_name,last_name,date_of_birth,postal_code\n"
           "S-1,ana.ruiz@example.org,(909) 555-0100,Ana,Ruiz,1980-04-23,92373\n")


@pytest.fixture
def indexed(app):
    """The business's records hold the consumer the test agent speaks for."""
    with app.app_context():
        subjects.import_csv(db.session(), stream=io.BytesIO(RECORDS.encode()))


def _events(app, req) -> list[str]:
    with app.app_context():
        return list(db.session().execute(select(AuditEvent.action).where(AuditEvent.request_id == req.id)).scalars())


def _case(app, request_uuid) -> PrivacyRequest:
    with app.app_context():
        s = db.session()
        drp = s.execute(select(DrpRequest).where(DrpRequest.request_uuid == request_uuid)).scalar_one()
        return s.get(PrivacyRequest, drp.request_id)


def _count(app, model) -> int:
    with app.app_context():
        return len(db.session().execute(select(model)).scalars().all())


# ---- off by default ---------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("post", "/drp/v1/agent/PERMISSION_SLIP"), ("get", "/drp/v1/agent/PERMISSION_SLIP"),
    ("post", "/drp/v1/data-rights-request"), ("get", f"/drp/v1/data-rights-request/{UNKNOWN_ID}"),
    ("delete", f"/drp/v1/data-rights-request/{UNKNOWN_ID}"),
])
def test_every_route_answers_404_while_drp_is_off(app_config, method, path):
    from portal import create_app
    app = create_app({**app_config, "DRP_ENABLED": False})
    try:
        resp = getattr(app.test_client(), method)(path, data=b"x")
        assert resp.status_code == 404
    finally:
        app.extensions["db_engine"].dispose()


# ---- pairing (§2.05) and agent information (§2.06) -------------------------------------------------

def test_pairing_returns_a_fresh_token_stored_only_as_its_hash(app, client, agent):
    resp = client.post(f"/drp/v1/agent/{agent.agent_id}", data=agent.sign(agent.envelope()),
                       content_type="text/plain")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    answer = resp.get_json()
    assert set(answer) == {"agent-id", "token"} and answer["agent-id"] == agent.agent_id
    token = answer["token"]
    assert len(token) >= 40
    with app.app_context():
        row = db.session().execute(select(DrpAgent)).scalar_one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # A second pairing replaces the first token.
    second = pair(client, agent)
    assert second != token
    assert client.get(f"/drp/v1/agent/{agent.agent_id}", headers=agent.auth(token)).status_code == 403
    assert client.get(f"/drp/v1/agent/{agent.agent_id}", headers=agent.auth(second)).get_json() == {}


def _tamper(agent, other):
    """Every way a pairing message can fail, as (url agent id, body)."""
    now = clock.now()
    return {
        "bad base64": (agent.agent_id, b"!!! not base64 !!!"),
        "bad signature": (agent.agent_id, other.sign(agent.envelope())),
        "truncated": (agent.agent_id, base64.b64encode(b"short")),
        "unknown agent": ("NOBODY", other.sign(other.envelope(**{"agent-id": "NOBODY"}))),
        "agent-id mismatch": (agent.agent_id, agent.sign(agent.envelope(**{"agent-id": "SOMEONE_ELSE"}))),
        "wrong business": (agent.agent_id, agent.sign(agent.envelope(**{"business-id": "ACME"}))),
        "expired": (agent.agent_id, agent.sign(agent.envelope(now - timedelta(minutes=20)))),
        "issued in the future": (agent.agent_id, agent.sign(agent.envelope(now + timedelta(minutes=5)))),
        "window over 15 minutes": (agent.agent_id, agent.sign(agent.envelope(
            **{"expires-at": (now + timedelta(minutes=16)).isoformat()}))),
        "no offset": (agent.agent_id, agent.sign(agent.envelope(
            **{"issued-at": now.replace(tzinfo=None).isoformat()}))),
        "no drp.version": (agent.agent_id, agent.sign({k: v for k, v in agent.envelope().items()
                                                       if k != "drp.version"})),
        "not json": (agent.agent_id, agent.sign(b"agent-id=PERMISSION_SLIP")),
    }


@pytest.mark.parametrize("problem", list(_tamper(Agent(), Agent())))
def test_any_pairing_failure_is_403_naming_its_reason(app, client, agent, problem):
    url_id, message = _tamper(agent, Agent("OTHER"))[problem]
    resp = client.post(f"/drp/v1/agent/{url_id}", data=message, content_type="text/plain")
    assert resp.status_code == 403 and resp.get_json()["code"] == "403" and resp.get_json()["message"]
    if problem == "no drp.version":
        assert resp.get_json()["message"].startswith("drp.version is required")
    with app.app_context():
        assert db.session().execute(select(DrpAgent.token_hash)).scalar() is None
        event = db.session().execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
        assert event.action == "drp_pair_refused"


def test_a_small_clock_skew_is_allowed(app, client, agent):
    ahead = clock.now() + timedelta(seconds=30)  # the agent's clock runs 30 s fast
    resp = client.post(f"/drp/v1/agent/{agent.agent_id}", data=agent.sign(agent.envelope(ahead)))
    assert resp.status_code == 200


def test_agent_information_only_for_the_tokens_own_agent(app, client, paired):
    other = Agent("OTHER_AGENT", "Other")
    register(app, other)
    pair(client, other)
    assert client.get(f"/drp/v1/agent/{paired.agent_id}", headers=paired.auth()).get_json() == {}
    assert client.get(f"/drp/v1/agent/{paired.agent_id}", headers=other.auth()).status_code == 403
    assert client.get(f"/drp/v1/agent/{paired.agent_id}").status_code == 403
    assert client.get(f"/drp/v1/agent/{paired.agent_id}", headers={"Authorization": "Bearer nonsense"}).status_code == 403


def test_a_removed_agents_token_stops_working_at_once(app, client, paired, runner):
    assert runner.invoke(args=["drp", "agent", "remove", paired.agent_id]).exit_code == 0
    assert client.get(f"/drp/v1/agent/{paired.agent_id}", headers=paired.auth()).status_code == 403
    resp = send(client, paired, paired.exercise())
    assert resp.status_code == 403 and resp.get_json()["code"] == "403"
    # and it cannot pair again until an operator adds it back
    assert client.post(f"/drp/v1/agent/{paired.agent_id}", data=paired.sign(paired.envelope())).status_code == 403


# ---- the exercise (§2.01) ---------------------------------------------------------------------

@pytest.mark.parametrize(("exercise", "request_type", "scope"), [
    ("sale:opt-out", "opt_out", None), ("sale:opt_out", "opt_out", None), ("deletion", "delete", None),
    ("access", "access", "categories"), ("access:categories", "access", "categories"),
    ("access:specific", "access", "specific"),
])
def test_every_supported_action_opens_a_case_in_the_same_queue(app, client, paired, mailbox, indexed, exercise,
                                                                request_type, scope):
    resp = send(client, paired, paired.exercise(exercise, address={"postal_code": "92373"}))
    assert resp.status_code == 200, resp.get_json()
    status = resp.get_json()
    req = _case(app, status["request_id"])
    assert (req.request_type, req.manner) == (request_type, "drp")
    assert (req.first_name, req.last_name, req.email, req.phone) == ("Ana", "Ruiz", "ana.ruiz@example.org",
                                                                     "+19095550100")
    if request_type == "delete":  # every point matches, but this business asks deletions for a signed declaration
        assert (req.status, req.hold_reason) == ("on_hold", "high_certainty_required")
        assert (status["status"], status["reason"]) == ("in_progress", "need_user_verification")
        return
    assert status["status"] == "in_progress" and "reason" not in status
    assert req.status == "in_progress"
    if request_type == "opt_out":  # §7026: takes effect at once, no verification gate
        assert req.effective_at is not None and "verified" not in _events(app, req)
        assert "received" in mailbox.last("ana.ruiz@example.org")["Subject"].lower()
    else:  # the agent verified the email: no link; the claims matched our records as a web request's would
        assert req.email_confirmed_at is not None and "verify/" not in body(mailbox.last("ana.ruiz@example.org"))
        assert status["processing_details"] == "Identity verified. We are preparing our response."
        if scope == "specific":  # no declaration under penalty of perjury comes by DRP (§7024(a))
            assert req.access_scope == "categories" and "downgraded_to_categories" in _events(app, req)
        else:
            assert req.access_scope == scope and "identity_verified" in _events(app, req)


def test_claims_that_do_not_match_our_records_ask_the_consumer_for_more(app, client, paired, mailbox, indexed):
    """The same tiers as the web form: a verified email that matches, but a phone that does not, are
    one point of the two a request to know needs. The consumer adds details on the status page."""
    status = send(client, paired, paired.exercise("access", phone_number="+14155550199")).get_json()
    assert (status["status"], status["reason"]) == ("in_progress", "need_user_verification")
    assert status["user_verification_url"] == "http://portal.test/status"
    assert "did not match our records" in status["processing_details"]
    req = _case(app, status["request_id"])
    assert (req.status, req.hold_reason) == ("on_hold", "data_mismatch")
    with app.app_context():
        audit = db.session().execute(select(AuditEvent).where(AuditEvent.action == "verification_hold")).scalar_one()
        assert audit.actor == f"drp:{paired.agent_id}" and "+1415" not in audit.detail
    hold_mail = body(mailbox.last("ana.ruiz@example.org"))  # what would help, and where to add it
    assert "These kinds of detail help us find the records" in hold_mail and "http://portal.test/status" in hold_mail


def test_postal_codes_come_from_either_form_of_the_address_claim():
    assert exchange.postal_code({"postal_code": "92373-1234", "locality": "Redlands"}) == "92373"
    assert exchange.postal_code("12 Main St, Redlands, CA 92373") == "92373"
    assert exchange.postal_code(None) is None


def test_an_email_the_agent_did_not_verify_is_confirmed_by_the_usual_link(app, client, paired, mailbox):
    status = send(client, paired, paired.exercise("deletion", email_verified=False)).get_json()
    assert status["status"] == "in_progress" and status["reason"] == "need_user_verification"
    assert status["user_verification_url"] == "http://portal.test/status"
    assert _case(app, status["request_id"]).status == "awaiting_email"
    assert "/verify/" in body(mailbox.last("ana.ruiz@example.org"))


def test_the_status_object_has_the_specifications_fields_and_formats(app, client, paired, indexed, time_machine):
    time_machine.move_to(datetime(2026, 12, 1, 18, 30, 15, 123456, tzinfo=timezone.utc), tick=False)
    status = send(client, paired, paired.exercise("access", address="12 Main St, Redlands, CA 92373",
                                                  **{"agent-request-id": "ps-123"})).get_json()
    assert uuid.UUID(status["request_id"]).version == 4
    assert status == {
        "request_id": status["request_id"], "agent_request_id": "ps-123", "status": "in_progress",
        "received_at": "2026-12-01T18:30:15+00:00",
        # 45 days from 1 December (California): 15 January, to its last second, in UTC.
        "expected_by": "2027-01-16T07:59:59+00:00",
        "processing_details": "Identity verified. We are preparing our response.",
    }
    assert "Z" not in json.dumps(status)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_the_body_is_read_whatever_content_type_is_declared(app, client, paired, content_type):
    resp = client.post("/drp/v1/data-rights-request", data=paired.sign(paired.exercise()), headers=paired.auth(),
                       content_type=content_type)
    assert resp.status_code == 200


def test_the_same_message_or_agent_request_id_twice_is_one_request(app, client, paired):
    message = paired.exercise("deletion")
    first = send(client, paired, message).get_json()
    again = client.post("/drp/v1/data-rights-request", data=paired.sign(message), headers=paired.auth()).get_json()
    assert again == first
    with_id = paired.exercise("access", **{"agent-request-id": "abc"})
    one = send(client, paired, with_id).get_json()
    two = send(client, paired, {**with_id, "issued-at": clock.now().isoformat()}).get_json()
    assert one["request_id"] == two["request_id"]
    assert _count(app, DrpRequest) == 2 and _count(app, PrivacyRequest) == 2


def _bad_exercises(agent):
    now = clock.now()
    return {
        "unsupported action": (400, agent.exercise("rectification")),
        "opt-in": (400, agent.exercise("sale:opt-in")),
        "opt_in": (400, agent.exercise("sale:opt_in")),
        "no exercise": (400, agent.exercise(None)),
        "other regime": (400, agent.exercise(regime="gdpr")),
        "no name": (400, agent.exercise(name=None)),
        "no email": (400, agent.exercise(email=None)),
        "bad email": (400, agent.exercise(email="not an address")),
        "verified flag not a boolean": (400, agent.exercise(email_verified="yes")),
        "address of the wrong shape": (400, agent.exercise(address=["1 Main St"])),
        "http callback": (400, agent.exercise(status_callback="ftp://agent.example/cb")),
        "relationships not a list": (400, agent.exercise(relationships="customer")),
        "no drp.version": (400, agent.exercise(**{"drp.version": None})),
        "agent-id mismatch": (403, agent.exercise(**{"agent-id": "SOMEONE_ELSE"})),
        "wrong business": (403, agent.exercise(**{"business-id": "ACME"})),
        "expired": (403, agent.exercise(**{"issued-at": (now - timedelta(minutes=20)).isoformat(),
                                           "expires-at": (now - timedelta(minutes=10)).isoformat()})),
        "issued in the future": (403, agent.exercise(**{"issued-at": (now + timedelta(minutes=3)).isoformat(),
                                                        "expires-at": (now + timedelta(minutes=9)).isoformat()})),
    }


@pytest.mark.parametrize("problem", list(_bad_exercises(Agent())))
def test_every_validation_rule_of_the_exercise(app, client, paired, problem):
    code, claims = _bad_exercises(paired)[problem]
    resp = send(client, paired, claims)
    assert resp.status_code == code and resp.mimetype == "application/json"
    answer = resp.get_json()
    assert answer["code"] == str(code) and answer["message"]
    assert _count(app, PrivacyRequest) == 0


def test_an_unusable_envelope_is_403_and_opens_nothing(app, client, paired):
    other = Agent("OTHER")
    cases = [
        client.post("/drp/v1/data-rights-request", data=b"%%%", headers=paired.auth()),
        client.post("/drp/v1/data-rights-request", data=other.sign(paired.exercise()), headers=paired.auth()),
        client.post("/drp/v1/data-rights-request", data=paired.sign(paired.exercise())),
        client.post("/drp/v1/data-rights-request", data=paired.sign(paired.exercise()),
                    headers={"Authorization": "Bearer made-up"}),
        client.post("/drp/v1/data-rights-request", data=paired.sign(paired.exercise()),
                    headers={"Authorization": f"Basic {paired.token}"}),
    ]
    assert [r.status_code for r in cases] == [403] * 5
    assert all(r.get_json()["code"] == "403" for r in cases)
    assert _count(app, PrivacyRequest) == 0


def test_voluntary_requests_follow_the_configuration(app_config, app, client, paired):
    assert send(client, paired, paired.exercise(regime=None)).status_code == 200
    assert send(client, paired, paired.exercise("deletion", regime="voluntary")).status_code == 200
    app.config["DRP_VOLUNTARY"] = "refuse"
    resp = send(client, paired, paired.exercise("access", regime="voluntary"))
    assert resp.status_code == 400 and "ccpa" in resp.get_json()["message"]


def test_a_body_over_the_limit_is_413_in_the_protocols_error_shape(app, client, paired):
    resp = client.post("/drp/v1/data-rights-request", data=b"A" * (70 * 1024), headers=paired.auth())
    assert resp.status_code == 413 and resp.get_json()["code"] == "413"


# ---- status (§2.02) and revoke (§2.04) --------------------------------------------------------

def test_status_only_for_the_agent_that_made_the_request(app, client, paired):
    other = Agent("OTHER_AGENT", "Other")
    register(app, other)
    pair(client, other)
    made = send(client, paired, paired.exercise("deletion")).get_json()
    url = f"/drp/v1/data-rights-request/{made['request_id']}"
    assert client.get(url, headers=paired.auth()).get_json() == made
    refused = client.get(url, headers=other.auth())
    assert refused.status_code == 403 and refused.get_json()["code"] == "403"
    assert client.get(url).status_code == 403
    unknown = client.get(f"/drp/v1/data-rights-request/{UNKNOWN_ID}", headers=paired.auth())
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "404"
    # and another agent cannot revoke it either
    assert client.delete(url, data=other.sign(other.revoke(made["request_id"], "x")), headers=other.auth()).status_code == 403
    assert _case(app, made["request_id"]).status == "on_hold"  # as it was: no records to match, not withdrawn


def test_revoke_withdraws_the_case_and_answers_revoked(app, client, paired, mailbox):
    made = send(client, paired, paired.exercise("deletion")).get_json()
    url = f"/drp/v1/data-rights-request/{made['request_id']}"
    resp = client.delete(url, data=paired.sign(paired.revoke(made["request_id"], "I changed my mind")), headers=paired.auth())
    assert resp.status_code == 200
    revoked = resp.get_json()
    assert revoked["status"] == "revoked" and revoked["request_id"] == made["request_id"]
    assert "expected_by" not in revoked and "reason" not in revoked
    req = _case(app, made["request_id"])
    assert req.status == "withdrawn" and req.closed_at is not None
    assert "withdrawn" in mailbox.last("ana.ruiz@example.org")["Subject"].lower()
    with app.app_context():
        assert db.session().execute(select(DrpRequest.revoke_reason)).scalar() == "I changed my mind"
    # Revoking again answers the same; the status endpoint agrees.
    again = client.delete(url, data=paired.sign(paired.revoke(made["request_id"], "again")), headers=paired.auth())
    assert again.status_code == 200 and again.get_json() == revoked
    assert client.get(url, headers=paired.auth()).get_json() == revoked


def test_revoke_of_an_opt_out_in_progress_keeps_the_opt_out(app, client, paired):
    made = send(client, paired, paired.exercise("sale:opt-out")).get_json()
    resp = client.delete(f"/drp/v1/data-rights-request/{made['request_id']}", data=paired.sign(paired.revoke(made["request_id"])),
                         headers=paired.auth())
    assert resp.get_json()["status"] == "revoked"
    assert "stays in effect" in resp.get_json()["processing_details"]
    assert _case(app, made["request_id"]).effective_at is not None


def test_revoke_needs_the_agents_signature_and_an_open_request(app, client, paired):
    made = send(client, paired, paired.exercise("deletion")).get_json()
    url = f"/drp/v1/data-rights-request/{made['request_id']}"
    assert client.delete(url, data=Agent("X").sign(paired.revoke(made["request_id"], "x")), headers=paired.auth()).status_code == 403
    assert client.delete(url, data=paired.sign(paired.revoke(made["request_id"], 42)), headers=paired.auth()).status_code == 400
    with app.app_context():
        from portal.services.cases import submission
        s = db.session()
        req = s.get(PrivacyRequest, _case(app, made["request_id"]).id)
        submission.transition(s, req, "denied", actor="system")
        s.commit()
    closed = client.delete(url, data=paired.sign(paired.revoke(made["request_id"], "x")), headers=paired.auth())
    assert closed.status_code == 400 and "denied" in closed.get_json()["message"]


# ---- audit and rate limits -------------------------------------------------------------------

def test_every_call_is_audited_without_its_token_or_signature(app, client, paired):
    made = send(client, paired, paired.exercise("deletion")).get_json()
    url = f"/drp/v1/data-rights-request/{made['request_id']}"
    client.get(url, headers=paired.auth())
    client.get(url, headers={"Authorization": "Bearer wrong"})
    client.get(f"/drp/v1/agent/{paired.agent_id}", headers=paired.auth())
    signed = paired.sign(paired.revoke(made["request_id"], "no"))
    client.delete(url, data=signed, headers=paired.auth())
    with app.app_context():
        events = db.session().execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    actions = [e.action for e in events]
    for action in ("drp_agent_added", "drp_agent_paired", "drp_exercise", "drp_status_read",
                   "drp_status_refused", "drp_agent_checked", "drp_revoke", "withdrawn"):
        assert action in actions
    text = json.dumps([[e.actor, e.action, e.detail] for e in events])
    assert paired.token not in text and signed.decode()[:40] not in text
    assert "ana.ruiz" not in text


def test_rate_limits_are_per_agent(app, client, paired):
    app.config["RATELIMIT_DRP"] = "2 per minute"
    other = Agent("OTHER_AGENT", "Other")
    register(app, other)
    pair(client, other)
    for _ in range(2):
        assert client.get(f"/drp/v1/agent/{paired.agent_id}", headers=paired.auth()).status_code == 200
    limited = client.get(f"/drp/v1/agent/{paired.agent_id}", headers=paired.auth())
    assert limited.status_code == 429 and limited.get_json()["code"] == "429"
    assert client.get(f"/drp/v1/agent/{other.agent_id}", headers=other.auth()).status_code == 200


def test_the_service_needs_no_http(app, paired):
    """The same service the API calls, without a request: a status object straight from a message."""
    with app.app_context():
        status = exchange.exercise(db.session(), token=paired.token, body=paired.sign(paired.exercise()))
        assert status["status"] == "in_progress"
