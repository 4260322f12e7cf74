"""Emailed tokens: expiry, reuse, wrong purpose, tampering."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock
from portal.models import VerificationToken
from portal.services.cases import submission
from portal.services.cases.submission import NewRequest
from portal.services.identity import tokens
from portal.services.identity.tokens import TokenError


@pytest.fixture
def request_id(session):
    outcome = submission.submit(session, new=NewRequest(request_type="access", first_name="Ana", last_name="Ruiz",
                                                       email="ana@example.org", access_scope="categories"))
    return outcome.request.id


def test_a_token_is_single_use(session, request_id):
    issued = tokens.issue(session, purpose="status", request_id=request_id, ttl=timedelta(minutes=30))
    assert tokens.check(session, value=issued.value, purpose="status").id == issued.row.id
    tokens.spend(session, value=issued.value, purpose="status")
    with pytest.raises(TokenError) as exc:
        tokens.spend(session, value=issued.value, purpose="status")
    assert exc.value.reason == "used"


def test_only_the_nonce_hash_is_stored(session, request_id):
    issued = tokens.issue(session, purpose="verify", request_id=request_id, ttl=timedelta(hours=48))
    session.commit()
    for row in session.execute(select(VerificationToken)).scalars():
        assert row.nonce_hash not in issued.value and len(row.nonce_hash) == 64


def test_expiry_is_enforced_from_the_stored_row(session, request_id):
    now = clock.now()
    issued = tokens.issue(session, purpose="status", request_id=request_id, ttl=timedelta(minutes=30), now=now)
    assert tokens.check(session, value=issued.value, purpose="status", now=now + timedelta(minutes=29))
    with pytest.raises(TokenError) as exc:
        tokens.check(session, value=issued.value, purpose="status", now=now + timedelta(minutes=30))
    assert exc.value.reason == "expired" and exc.value.token.id == issued.row.id


def test_a_token_is_bound_to_its_purpose(session, request_id):
    issued = tokens.issue(session, purpose="status", request_id=request_id, ttl=timedelta(minutes=30))
    for other in ("verify", "agent_confirm"):
        with pytest.raises(TokenError) as exc:
            tokens.check(session, value=issued.value, purpose=other)
        assert exc.value.reason == "invalid"


@pytest.mark.parametrize("mangle", [
    # signature changed (not its last character, some of whose bits base64 leaves unused)
    lambda v: v[:-10] + ("A" if v[-10] != "A" else "B") + v[-9:],
    lambda v: "x" + v,                                    # payload changed
    lambda v: v.split(".")[0],                            # truncated
    lambda v: "",                                         # empty
])
def test_tampered_tokens_are_invalid(session, request_id, mangle):
    issued = tokens.issue(session, purpose="verify", request_id=request_id, ttl=timedelta(hours=48))
    with pytest.raises(TokenError) as exc:
        tokens.check(session, value=mangle(issued.value), purpose="verify")
    assert exc.value.reason == "invalid"


def test_a_token_signed_with_another_key_is_invalid(app, session, request_id):
    issued = tokens.issue(session, purpose="verify", request_id=request_id, ttl=timedelta(hours=48))
    app.config["SECRET_KEY"] = "another key entirely"
    with pytest.raises(TokenError):
        tokens.check(session, value=issued.value, purpose="verify")
