"""The agent's public journey: the form with its upload, the agent's email, the consumer's answer."""
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import AgentAuthorization, AuditEvent, Document, PrivacyRequest
from portal.services.documents import store as documents

from .. import files
from ..support import body, csrf_from, link_in

AGENT = {"agent_kind": "business", "agent_name": "Maria Lopez", "agent_email": "maria@lienpartners.example",
         "agent_business_name": "Lien Partners LLC", "agent_sos_number": "2019-1234-5678",
         "consumer_first_name": "Ana", "consumer_last_name": "Ruiz", "consumer_email": "ana.ruiz@example.org",
         "consumer_phone": "", "request_type": "delete", "authorization_kind": "signed_permission",
         "declaration": "y", "access_scope": "categories", "lookback": "12_months"}


def submit(client, data=None, upload=None, **overrides):
    page = client.get("/agent/requests/new")
    content, name, mimetype = upload or (files.pdf(), "signed letter.pdf", "application/pdf")
    form = {"csrf_token": csrf_from(page.get_data(as_text=True)), **(data or AGENT), **overrides}
    if content is not None:
        form["authorization"] = (io.BytesIO(content), name, mimetype)
    return client.post("/agent/requests/new", data=form, content_type="multipart/form-data")


def rows(app, model):
    with app.app_context():
        return db.session().execute(select(model).order_by(model.id)).scalars().all()


def count(app, model) -> int:
    with app.app_context():
        return db.session().execute(select(func.count()).select_from(model)).scalar()


def confirm_agent_email(client, mail):
    verify = link_in(mail, "/verify/")
    page = client.get(verify)
    assert page.status_code == 200
    resp = client.post(verify, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 303
    return resp


def test_form_uses_the_contract_field_names(client):
    page = client.get("/agent/requests/new").get_data(as_text=True)
    for name in ("agent_name", "agent_email", "agent_business_name", "agent_sos_number", "consumer_first_name",
                 "consumer_last_name", "consumer_email", "consumer_phone", "request_type", "authorization_kind",
                 "authorization"):
        assert f'name="{name}"' in page
    assert 'enctype="multipart/form-data"' in page and 'type="file"' in page
    assert 'value="signed_permission"' in page and 'value="power_of_attorney"' in page


def test_signed_permission_through_the_real_smtp_server(smtp_server, app, client):
    from portal.services.delivery import mail as mail_service

    resp = submit(client)
    assert resp.status_code == 303 and resp.headers["Location"] == "/agent/requests/sent?type=delete"
    assert "Check your email" in client.get(resp.headers["Location"]).get_data(as_text=True)
    [req] = rows(app, PrivacyRequest)
    [auth] = rows(app, AgentAuthorization)
    [doc] = rows(app, Document)
    assert (req.status, req.email, req.first_name, req.last_name) == (
        "awaiting_email", "maria@lienpartners.example", "Ana", "Ruiz")
    assert (auth.agent_kind, auth.agent_business_name, auth.agent_sos_number, auth.consumer_email) == (
        "business", "Lien Partners LLC", "201912345678", "ana.ruiz@example.org")
    assert auth.document_id == doc.id and doc.request_id == req.id and doc.purpose == "authorization"
    assert doc.original_name == "signed letter.pdf"
    raw = (Path(app.instance_path) / "documents" / doc.storage_name).read_bytes()
    assert b"Lien Partners" not in raw and b"%PDF" not in raw
    with app.app_context():
        assert documents.read(db.session(), document=doc) == files.kept(files.pdf())

    assert mail_service.deliver_for_app(app) == 1
    [verify_mail] = smtp_server.wait_for(1)
    assert verify_mail["To"] == "maria@lienpartners.example"
    assert "Hello Maria Lopez" in body(verify_mail) and "Ana Ruiz" in body(verify_mail)
    confirm_agent_email(client, verify_mail)
    [req] = rows(app, PrivacyRequest)
    assert (req.status, req.hold_reason) == ("on_hold", "agent_authorization")

    mail_service.deliver_for_app(app)
    received = smtp_server.wait_for(3)
    ack = next(m for m in received if m["To"] == "maria@lienpartners.example" and m is not verify_mail)
    ask = next(m for m in received if m["To"] == "ana.ruiz@example.org")
    assert req.reference in body(ack) and "asked the consumer" in body(ack)
    assert "Maria Lopez (Lien Partners LLC)" in body(ask)
    confirm = link_in(ask, "/agent/confirm/")

    for _ in range(2):  # a GET (a mail scanner's pre-fetch) spends nothing
        page = client.get(confirm)
        assert page.status_code == 200 and "Lien Partners LLC" in page.get_data(as_text=True)
    assert "What we collect here: the details you add" in page.get_data(as_text=True)  # §7012
    resp = client.post(confirm, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": "confirm"})
    assert resp.status_code == 200 and "you confirmed your agent" in resp.get_data(as_text=True)
    [auth] = rows(app, AgentAuthorization)
    [req] = rows(app, PrivacyRequest)
    assert auth.consumer_decision == "confirmed" and auth.consumer_decided_at
    assert (req.status, req.hold_reason) == ("on_hold", "agent_authorization")  # staff review next
    assert "agent_confirmed_by_consumer" in [e.action for e in rows(app, AuditEvent)]
    again = client.post(confirm, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": "reject"})
    assert again.status_code == 410
    app.extensions["db_engine"].dispose()


def test_consumer_rejection_ends_the_request_and_tells_the_agent(client, app, mailbox):
    submit(client)
    confirm_agent_email(client, mailbox.last("maria@lienpartners.example"))
    confirm = link_in(mailbox.last("ana.ruiz@example.org"), "/agent/confirm/")
    page = client.get(confirm)
    resp = client.post(confirm, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": "reject"})
    assert resp.status_code == 200 and "we closed the request" in resp.get_data(as_text=True)
    [req] = rows(app, PrivacyRequest)
    assert req.status == "denied" and req.closed_at and req.outcome_code == "agent_not_authorized"
    assert "7063" in req.outcome_citation
    closed = mailbox.last("maria@lienpartners.example")
    assert "not confirmed by the consumer" in closed["Subject"] and "did not authorize" in body(closed)
    assert client.get(confirm).status_code == 410


@pytest.mark.parametrize("consumer_email", ["ana.ruiz@example.org", ""])
def test_power_of_attorney_skips_the_consumer_confirmation(client, app, mailbox, consumer_email):
    submit(client, authorization_kind="power_of_attorney", consumer_email=consumer_email, agent_kind="person",
           agent_business_name="", agent_sos_number="")
    confirm_agent_email(client, mailbox.last("maria@lienpartners.example"))
    [req] = rows(app, PrivacyRequest)
    [auth] = rows(app, AgentAuthorization)
    assert (req.status, req.hold_reason) == ("on_hold", "agent_authorization")
    assert auth.agent_business_name is None and auth.agent_sos_number is None
    assert mailbox.to("ana.ruiz@example.org") == []
    assert "reviews the authorization you uploaded" in body(mailbox.last("maria@lienpartners.example"))


def test_signed_permission_without_a_consumer_email_waits_for_staff(client, app, mailbox):
    submit(client, consumer_email="")
    confirm_agent_email(client, mailbox.last("maria@lienpartners.example"))
    [req] = rows(app, PrivacyRequest)
    assert (req.status, req.hold_reason) == ("on_hold", "agent_authorization")
    assert [m["To"] for m in mailbox.messages] == ["maria@lienpartners.example"] * 2


@pytest.mark.parametrize("upload,message", [
    ((files.ELF, "letter.pdf", "application/pdf"), "We accept PDF, PNG or JPEG files only"),
    ((files.HTML, "letter.pdf", "application/pdf"), "We accept PDF, PNG or JPEG files only"),
    ((b"", "letter.pdf", "application/pdf"), "The file is empty"),
    ((files.pdf()[:200], "letter.pdf", "application/pdf"), "damaged or incomplete"),
    ((files.png(), "letter.pdf", "application/pdf"), "does not match its content"),
])
def test_a_refused_upload_keeps_the_form_and_saves_nothing(client, app, upload, message):
    resp = submit(client, upload=upload)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert message in page and 'id="authorization-error"' in page and 'value="Maria Lopez"' in page
    assert (count(app, PrivacyRequest), count(app, Document), count(app, AgentAuthorization)) == (0, 0, 0)
    folder = Path(app.instance_path) / "documents"
    assert not folder.exists() or not [p for p in folder.iterdir()]


def test_missing_file_and_business_details_are_asked_for(client, app):
    resp = submit(client, upload=(None, None, None), agent_business_name="", agent_sos_number="")
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert "Attach the signed permission or power of attorney." in page
    assert "Please enter the business name." in page and "s entity number.</p>" not in page
    resp = submit(client, agent_sos_number="not a number!", declaration="")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Use letters and digits only" in page and "Tick the box" in page
    assert count(app, PrivacyRequest) == 0


def test_a_file_over_the_cap_gets_413_with_the_form(app_config):
    app_config["DOCUMENT_MAX_BYTES"] = 4096
    from portal import create_app
    app = create_app(app_config)
    resp = submit(app.test_client(), upload=(files.pdf(text="x" * 8000), "letter.pdf", "application/pdf"))
    assert resp.status_code == 413
    assert "larger than 4 KB" in resp.get_data(as_text=True)
    assert count(app, PrivacyRequest) == 0
    app.extensions["db_engine"].dispose()


def test_invalid_confirmation_link(client):
    assert client.get("/agent/confirm/not-a-token").status_code == 404


def test_agent_tracks_the_request_with_reference_and_their_email(client, app, mailbox):
    submit(client)
    confirm_agent_email(client, mailbox.last("maria@lienpartners.example"))
    [req] = rows(app, PrivacyRequest)
    other = app.test_client()  # a later visit, without the session the confirmation opened
    page = other.get("/status")
    resp = other.post("/status", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                       "reference": req.reference, "email": "maria@lienpartners.example"})
    assert resp.status_code == 303
    link_mail = mailbox.last("maria@lienpartners.example")
    assert req.reference in link_mail["Subject"]
    text = body(link_mail)
    assert text.startswith("Hello Maria Lopez,") and "Hello Ana" not in text  # the agent is greeted, not the consumer
    open_page = other.get(link_in(link_mail, "/status/"))
    resp = other.post(link_in(link_mail, "/status/"), data={"csrf_token": csrf_from(open_page.get_data(as_text=True))})
    detail = other.get(resp.headers["Location"]).get_data(as_text=True)
    assert req.reference in detail
    assert re.search(r"Checking the agent(&#39;|')s authorization", detail)


def test_a_100_mb_upload_is_refused_before_it_is_read(client, app):
    body = files.CountingStream(100 * 1024 * 1024)
    resp = client.post("/agent/requests/new", content_type="multipart/form-data; boundary=x",
                       environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(100 * 1024 * 1024)})
    assert resp.status_code == 413 and "That upload is too large" in resp.get_data(as_text=True)
    assert body.read_bytes < 1024 * 1024
    assert count(app, PrivacyRequest) == 0


def test_a_resubmission_points_to_the_open_case(client, app, mailbox):
    submit(client)
    again = submit(client, consumer_first_name="ana", consumer_last_name="RUIZ")  # a double click, or a retry
    assert again.status_code == 303 and again.headers["Location"] == "/agent/requests/sent?type=delete"
    assert (count(app, PrivacyRequest), count(app, Document)) == (1, 1)
    assert len([p for p in (Path(app.instance_path) / "documents").iterdir()]) == 1
    # Still unconfirmed: the agent gets a fresh confirmation link for the same case.
    assert [m["Subject"] for m in mailbox.to("maria@lienpartners.example")] == [
        "Confirm the request you made for Ana Ruiz"] * 2
    confirm_agent_email(client, mailbox.last("maria@lienpartners.example"))
    submit(client)
    [req] = rows(app, PrivacyRequest)
    assert mailbox.last("maria@lienpartners.example")["Subject"] == "You already have an open request for Ana Ruiz"
    assert req.reference in body(mailbox.last("maria@lienpartners.example"))
    # Another consumer, or another kind of request, is a new case.
    submit(client, consumer_first_name="Luis")
    submit(client, request_type="access", access_scope="categories", lookback="12_months")
    assert count(app, PrivacyRequest) == 3
    # A refused file gets its message even when a case is open.
    assert submit(client, upload=(files.ELF, "letter.pdf", "application/pdf")).status_code == 422


def test_opt_out_through_an_agent_waits_only_for_the_signed_permission(client, app, mailbox):
    from portal import lifecycle
    submit(client, request_type="opt_out")
    [req] = rows(app, PrivacyRequest)
    # §7026(f): 15 business days from receipt, whatever the authorization review takes.
    assert req.response_due == lifecycle.add_business_days(lifecycle.local_date(req.received_at), 15)
    # In effect on upload (§7026(j), §7060(b)): no email link to wait for; staff review afterwards.
    assert req.effective_at == req.received_at and req.acknowledged_at is not None
    assert (req.status, req.hold_reason) == ("on_hold", "agent_authorization")
    receipt = mailbox.last("maria@lienpartners.example")
    assert "in effect now" in body(receipt) and "/verify/" not in body(receipt)
    assert req.declaration_signature is None  # §7026(j): no identity verification of the consumer
    assert link_in(mailbox.last("ana.ruiz@example.org"), "/agent/confirm/")
