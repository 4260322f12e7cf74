"""The notices service without HTTP: who is concerned, what a recipient receives, the completion rule,
and signing secrets across a key rotation."""
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from portal.lifecycle import IllegalTransition
from portal.models import PrivacyRequest, Recipient, WebhookDelivery
from portal.services.cases import notices, outcomes
from portal.services.cases.notices import NoticeError, RecipientData
from portal.services.delivery import webhooks

from ...support import make_staff, new_case

SECRET = "x" * 40


def _add(session, **over):
    data = dict(name="Ledger Cloud", kind="contractor", request_types=["delete", "correct"], method="manual")
    data.update(over)
    return notices.save_recipient(session, data=RecipientData(**data), actor="test")


def test_only_active_recipients_of_the_request_type_are_concerned(app, session):
    _add(session, name="Deletes")
    _add(session, name="Opt-outs", request_types=["opt_out"])
    _add(session, name="Retired", active=False)
    req, access = new_case(app, "delete", "in_progress"), new_case(app, "access", "in_progress", email="a@example.org")
    req, access = session.merge(req), session.merge(access)
    assert [r.name for r in notices.concerned(session, req)] == ["Deletes"]
    assert notices.concerned(session, access) == [] and notices.blocking_completion(session, access) is None


def test_sending_is_idempotent_and_only_while_in_progress(app, session):
    _add(session)
    req = session.merge(new_case(app, "delete", "in_progress"))
    assert notices.send(session, req=req, actor="test") == 1
    assert notices.send(session, req=req, actor="test") == 0  # one notice per recipient, ever
    _add(session, name="Added later")
    assert notices.blocking_completion(session, req).startswith("Send the notices to the 1 recipients")
    assert notices.send(session, req=req, actor="test") == 1
    session.rollback()  # SQLite: the case below is written by another session
    held = session.merge(new_case(app, "delete", "verifying", email="v@example.org"))
    with pytest.raises(NoticeError):
        notices.send(session, req=held, actor="test")
    session.rollback()
    correction = session.merge(new_case(app, "correct", "in_progress", email="w@example.org"))
    with pytest.raises(NoticeError, match="once you complete it"):  # §7023(c): only once decided
        notices.send(session, req=correction, actor="test")
    assert notices.blocking_completion(session, correction) is None


def test_the_payload_names_the_consumer_and_what_to_do(app, session):
    _add(session, method="webhook", webhook_url="https://hooks.example/n", webhook_secret=SECRET)
    req = session.merge(new_case(app, "delete", "in_progress", email="c@example.org", first_name="Cy", last_name="Ng"))
    notices.send(session, req=req, actor="test")
    row = session.execute(select(WebhookDelivery)).scalar_one()
    import json
    body = json.loads(row.body)
    assert body["action"] == "delete" and body["reference"] == req.reference
    assert body["subject"] == {"first_name": "Cy", "last_name": "Ng", "email": "c@example.org",
                               "identified_by": "as_given_by_the_requester"}
    assert "correction" not in body
    assert row.idempotency_key == body["notice_id"] and SECRET not in row.secret


def test_the_service_refuses_completion_while_a_notice_is_open(app, session):
    _add(session)
    staff, req = make_staff(app, "support"), new_case(app, "delete", "in_progress")
    staff, req = session.merge(staff), session.merge(req)
    notices.send(session, req=req, actor="test")
    done = outcomes.Completion(message="Deleted.", deleted_summary="All of it.")
    with pytest.raises(IllegalTransition, match="not yet delivered, recorded or explained"):
        outcomes.complete(session, req=req, staff=staff, completion=done, expected_version=req.version)
    session.rollback()
    assert session.get(PrivacyRequest, req.id).status == "in_progress"


def test_signing_secrets_survive_a_key_rotation(app, session, runner):
    _add(session, method="webhook", webhook_url="https://hooks.example/n", webhook_secret=SECRET)
    req = session.merge(new_case(app, "delete", "in_progress"))
    notices.send(session, req=req, actor="test")
    session.close()
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and "re-encrypted 2 webhook signing secrets" in result.output
    newest = (Path(app.instance_path) / "encryption_keys").read_text().split()[0]
    recipient = session.execute(select(Recipient)).scalar_one()
    delivery = session.execute(select(WebhookDelivery)).scalar_one()
    assert Fernet(newest.encode()).decrypt(recipient.webhook_secret.encode()) == SECRET.encode()  # newest key alone
    assert Fernet(newest.encode()).decrypt(delivery.secret.encode()) == SECRET.encode()


def test_a_secret_no_key_can_read_fails_the_delivery_for_good(app, session):
    _add(session, method="webhook", webhook_url="https://hooks.example/n", webhook_secret=SECRET)
    req = session.merge(new_case(app, "delete", "in_progress"))
    notices.send(session, req=req, actor="test")
    row = session.execute(select(WebhookDelivery)).scalar_one()
    row.secret = Fernet(Fernet.generate_key()).encrypt(b"lost").decode()
    session.commit()
    assert webhooks.deliver_for_app(app) == 0
    session.expire_all()
    row = session.execute(select(WebhookDelivery)).scalar_one()
    assert row.status == "failed" and "cannot be decrypted" in row.last_error
    notices.refresh_states(session)
    assert notices.for_request(session, req)[0][0].state == "failed"
