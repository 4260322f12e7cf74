"""Signed DRP messages of every wrong shape are answered with a 4xx and a reason, never a 500, and
their claims pass the same guards as the forms: one line where the forms want one line, no
control characters, bounded lengths."""
import json

import pytest
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent, OutboxMessage, PrivacyRequest

from ..drp_agents import DRP_CONFIG, Agent, pair, register, send
from ..support import body


@pytest.fixture
def app_config(app_config):
    return {**app_config, **DRP_CONFIG, "PROPAGATE_EXCEPTIONS": False}


@pytest.fixture
def agent(app, client):
    agent = Agent()
    register(app, agent)
    pair(client, agent)
    return agent


def _cases(app) -> int:
    with app.app_context():
        return len(db.session().execute(select(PrivacyRequest)).all())


SHAPES = {
    "exercise is a list": {"exercise": ["deletion"]},
    "exercise is an object": {"exercise": {"right": "deletion"}},
    "exercise is a number": {"exercise": 7},
    "regime is a list": {"regime": ["ccpa"]},
    "name is an object": {"name": {"given": "Ana"}},
    "name is a list": {"name": ["Ana", "Ruiz"]},
    "email is a number": {"email": 12},
    "relationships is an object": {"relationships": {"a": 1}},
    "relationships holds objects": {"relationships": [{"a": 1}]},
    "address is a list": {"address": ["1 Main St"]},
    "address holds numbers": {"address": {"postal_code": 92373}},
    "verified flag is a string": {"email_verified": "yes"},
    "agent-request-id is an object": {"agent-request-id": {"id": 1}},
    "status_callback is a list": {"status_callback": ["https://agent.example/cb"]},
    "drp.version is a number": {"drp.version": 1.0},
    "issued-at is a number": {"issued-at": 1764000000},
    "issued-at in the year 9999": {"issued-at": "9999-12-31T23:59:59+00:00", "expires-at": "9999-12-31T23:59:59+00:00"},
    "expires-at in the year 9999": {"expires-at": "9999-12-31T23:59:59+00:00"},
    "a window at the end of time": {"issued-at": "9999-12-31T23:50:00+00:00", "expires-at": "9999-12-31T23:59:00+00:00"},
    "a window at the start of time": {"issued-at": "0001-01-01T00:00:00+00:00", "expires-at": "0001-01-01T00:05:00+00:00"},
    "agent-id is a list": {"agent-id": ["PERMISSION_SLIP"]},
    "business-id is an object": {"business-id": {"id": "BILLGENIX"}},
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_claim_of_the_wrong_shape_is_a_4xx_with_a_reason(app, client, agent, shape):
    resp = send(client, agent, {**agent.exercise("deletion"), **SHAPES[shape]})
    assert 400 <= resp.status_code < 500, resp.status_code
    assert resp.get_json()["code"] == str(resp.status_code) and resp.get_json()["message"]
    assert _cases(app) == 0


@pytest.mark.parametrize("message", [
    b"[" * 10_000 + b"]" * 10_000,  # nested far past Python's recursion limit
    json.dumps({"exercise": "deletion", "x": [[[[[]]]]]}).replace("[[[[[]]]]]", "[" * 10_000 + "]" * 10_000).encode(),
    b'{"exercise": "deletion", "n": ' + b"9" * 5000 + b"}",  # an integer longer than Python converts
    b"\xff\xfe{}", b"", b"null", b"[]", b'"deletion"', b"1e999",
])
def test_a_signed_body_that_is_not_a_usable_json_object_is_a_400(app, client, agent, message):
    resp = client.post("/drp/v1/data-rights-request", data=agent.sign(message), content_type="text/plain",
                       headers=agent.auth())
    assert resp.status_code == 400 and resp.get_json()["message"]
    pairing = client.post(f"/drp/v1/agent/{agent.agent_id}", data=agent.sign(message), content_type="text/plain")
    assert pairing.status_code == 403 and pairing.get_json()["message"] == resp.get_json()["message"]  # its reason


@pytest.mark.parametrize(("claim", "value"), [
    ("name", "Ana\r\nBcc: eve@example.org"), ("name", "Ana\nRuiz"), ("name", "Ana\x00Ruiz"), ("name", "Ana\u2028Ruiz"),
    ("name", "<script>alert(1)</script> Ruiz"), ("name", "Ana " + "R" * 150), ("name", "Ana R2D2"),
    ("email", "ana.ruiz@example.org\r\nBcc: eve@example.org"), ("phone_number", "+1 909\n555 0100"),
    ("phone_number", "call me maybe"), ("agent-request-id", "req-1\x00"), ("agent-request-id", "req\r\n1"),
    ("drp.version", "1.0\x00"), ("status_callback", "https://agent.example/cb\r\nX-Injected: 1"),
    ("relationships", ["customer\r\nfriend"]), ("address", {"postal_code": "92373\x00"}),
    ("address", "1 Main St\x1b[2J Ontario CA"), ("power_of_attorney", "on file\x00"),
])
def test_claims_pass_the_same_guards_as_the_forms(app, client, agent, mailbox, claim, value):
    resp = send(client, agent, agent.exercise("deletion", **{claim: value}))
    assert resp.status_code == 400, resp.status_code
    message = resp.get_json()["message"]
    assert claim in message and "\n" not in message and (not isinstance(value, str) or value not in message)
    assert _cases(app) == 0
    with app.app_context():
        assert db.session().execute(select(OutboxMessage)).first() is None
        refused = db.session().execute(select(AuditEvent.detail).where(
            AuditEvent.action == "drp_exercise_refused")).scalar()
    assert "\n" not in refused and "\x00" not in refused


def test_a_name_with_a_line_break_never_writes_a_line_into_a_mail(app, client, agent, mailbox):
    resp = send(client, agent, agent.exercise("sale:opt-out", name="Ana\r\nBcc: eve@example.org Ruiz"))
    assert resp.status_code == 400 and _cases(app) == 0
    assert not any("Bcc: eve" in line for m in mailbox.messages for line in body(m).splitlines())
    good = send(client, agent, agent.exercise("sale:opt-out", name="Ana María O'Brien-Ruiz"))
    assert good.status_code == 200 and _cases(app) == 1  # what the request form accepts, an agent may send
    assert body(mailbox.last("ana.ruiz@example.org")).startswith("Hello Ana,")


def test_an_address_may_span_lines_as_openid_connect_says(app, client, agent):
    resp = send(client, agent, agent.exercise("deletion", address={"formatted": "1 Main St\nOntario, CA 91761",
                                                                   "postal_code": "91761"}))
    assert resp.status_code == 200


@pytest.mark.parametrize("request_id", ["%00", "x" * 300, "5f0c9a3e-1d2b-4c6a-9e7f-0a1b2c3d4e5%00", "%E2%80%A8"])
def test_a_request_id_of_any_shape_is_a_404(client, agent, request_id):
    assert client.get(f"/drp/v1/data-rights-request/{request_id}", headers=agent.auth()).status_code == 404
    revoke = client.delete(f"/drp/v1/data-rights-request/{request_id}", data=agent.sign(agent.revoke(request_id)),
                           headers=agent.auth())
    assert revoke.status_code == 404 and revoke.get_json()["code"] == "404"
