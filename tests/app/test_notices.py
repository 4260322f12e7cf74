"""Recipients of notices downstream and the notices on a case, through the test client (CSRF on):
who may see and change recipients, bad input, and completion waiting for every notice."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock, db
from portal.models import DownstreamNotice, Recipient, RequestRecord
from portal.services.cases import notices as notice_service
from portal.services.records import annual_metrics

from ..support import (
    answers_within,
    body,
    csrf_from,
    get_case,
    make_staff,
    new_case,
    post_action,
    post_form,
    settle_notice,
    sign_in,
    sqlite_write_lock_held,
)

SECRET = "a shared signing secret of forty chars!!"
DONE = {"outcome": "completed", "message": "We deleted your data.", "deleted_summary": "Everything we held."}


@pytest.fixture
def staff(app):
    return {role: make_staff(app, role) for role in ("admin", "support", "viewer")}


def _recipient(app, **over) -> int:
    data = dict(name="Ledger Cloud", kind="service_provider", request_types=["delete"], method="manual")
    data.update(over)
    with app.app_context():
        return notice_service.save_recipient(db.session(), data=notice_service.RecipientData(**data), actor="test").id


def _notices(app, req) -> list[DownstreamNotice]:
    with app.app_context():
        return db.session().execute(select(DownstreamNotice).where(
            DownstreamNotice.request_id == req.id).order_by(DownstreamNotice.id)).scalars().all()


def _send(client, req):
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    form = page[page.index('action="/staff/requests/' + req.reference + '/notices"'):]
    return client.post(f"/staff/requests/{req.reference}/notices", data={"csrf_token": csrf_from(form)})


def _settle(client, req, notice, how, data):
    return settle_notice(client, req.reference, notice.id, how, data)


# ---- who may see and change recipients ----------------------------------------------------------

@pytest.mark.parametrize("role, expected", [("admin", 200), ("support", 403), ("viewer", 403), (None, 302)])
@pytest.mark.parametrize("url", ["/staff/recipients", "/staff/recipients/new", "/staff/recipients/{id}"])
def test_only_admins_reach_the_recipients_pages(app, client, staff, role, expected, url):
    recipient_id = _recipient(app)
    if role:
        sign_in(client, staff[role])
    assert client.get(url.format(id=recipient_id)).status_code == expected
    if url != "/staff/recipients":
        token = csrf_from(client.get("/staff/account" if role else "/staff/login").get_data(as_text=True))
        resp = client.post(url.format(id=recipient_id), data={"csrf_token": token, "name": "Changed"})
        assert resp.status_code == (422 if expected == 200 else expected)
    with app.app_context():
        assert db.session().get(Recipient, recipient_id).name == "Ledger Cloud"


def test_case_workers_only_send_and_settle_notices(app, client, staff):
    _recipient(app)
    req = new_case(app, "delete", "in_progress")
    sign_in(client, staff["viewer"])
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Notices downstream" in page and "Send the notices" not in page
    token = csrf_from(client.get("/staff/account").get_data(as_text=True))
    assert client.post(f"/staff/requests/{req.reference}/notices", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/staff/requests/{req.reference}/notices/1/record", data={"csrf_token": token}).status_code == 403
    assert _notices(app, req) == []


def test_an_admin_adds_a_webhook_recipient_whose_secret_is_stored_encrypted(app, client, staff):
    app.config["WEBHOOK_ALLOW_HTTP"] = False
    sign_in(client, staff["admin"])
    form = {"name": "Claims Analytics Inc.", "kind": "third_party", "request_types": ["opt_out", "delete"],
            "method": "webhook", "webhook_url": "http://hooks.example/privacy", "webhook_secret": SECRET, "active": "y"}
    resp = post_form(client, "/staff/recipients/new", form)
    assert resp.status_code == 422 and "must start with https://" in resp.get_data(as_text=True)
    resp = post_form(client, "/staff/recipients/new", {**form, "webhook_secret": "short"})
    assert resp.status_code == 422 and "at least 32 characters" in resp.get_data(as_text=True)
    resp = post_form(client, "/staff/recipients/new", {**form, "webhook_url": "https://hooks.example/privacy"})
    assert resp.status_code == 303
    with app.app_context():
        [saved] = db.session().execute(select(Recipient)).scalars()
        assert (saved.request_types, saved.method, saved.kind) == ("delete,opt_out", "webhook", "third_party")
        assert SECRET not in saved.webhook_secret
        from portal.services.delivery import webhooks
        assert webhooks.decrypt_secret(saved.webhook_secret) == SECRET.encode()
    listing = client.get("/staff/recipients").get_data(as_text=True)
    assert "Claims Analytics Inc." in listing and SECRET not in listing
    # Editing keeps the stored secret when none is given, and never shows it.
    edit = client.get(f"/staff/recipients/{saved.id}").get_data(as_text=True)
    assert SECRET not in edit and "A signing secret is stored." in edit
    resp = post_form(client, f"/staff/recipients/{saved.id}", {**form, "webhook_url": "https://hooks.example/v2",
                                                                "webhook_secret": "", "active": ""})
    assert resp.status_code == 303
    with app.app_context():
        again = db.session().get(Recipient, saved.id)
        assert again.webhook_url.endswith("/v2") and not again.active and again.webhook_secret == saved.webhook_secret


@pytest.mark.parametrize("change, message", [
    ({"name": ""}, "Give the recipient"),
    ({"request_types": []}, "Choose at least one kind of request."),
    ({"method": "email", "email": "not an address"}, "Give the email address notices go to."),
    ({"method": "carrier-pigeon"}, "Not a valid choice"),
    ({"name": "<script>x</script>"}, "plain text only"),
])
def test_bad_recipient_input_is_answered_with_a_message(app, client, staff, change, message):
    sign_in(client, staff["admin"])
    form = {"name": "Ledger Cloud", "kind": "contractor", "request_types": ["delete"], "method": "manual", **change}
    resp = post_form(client, "/staff/recipients/new", form)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session().execute(select(Recipient)).first() is None


def test_an_unknown_recipient_is_a_404(app, client, staff):
    sign_in(client, staff["admin"])
    assert client.get("/staff/recipients/999").status_code == 404


# ---- completion waits for the notices ---------------------------------------------------------

def test_the_case_page_marks_a_delivery_once_then_only_reads(app, client, staff, mailbox):
    """The notices panel carries a finished delivery into its notice on the next look at the case (a
    write), and after that only reads: on SQLite the page does not wait for another connection's write."""
    if not app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    _recipient(app, name="Mailroom LLC", method="email", email="privacy@mailroom.example", kind="contractor")
    req = new_case(app, "delete", "in_progress", email="lee@example.org")
    sign_in(client, staff["support"])
    assert _send(client, req).status_code == 303
    mailbox.last("privacy@mailroom.example")  # delivers the outbox
    assert [n.state for n in _notices(app, req)] == ["queued"]
    assert "Delivered" in client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert [n.state for n in _notices(app, req)] == ["delivered"]
    with sqlite_write_lock_held(app):
        [page] = answers_within(10, lambda: client.get(f"/staff/requests/{req.reference}"))
    assert page.status_code == 200 and "Delivered" in page.get_data(as_text=True)


def test_a_deletion_completes_only_after_every_recipient_was_told(app, client, staff, mailbox):
    _recipient(app, name="Ledger Cloud")  # by hand
    _recipient(app, name="Mailroom LLC", method="email", email="privacy@mailroom.example", kind="contractor")
    _recipient(app, name="Only Opt-outs", request_types=["opt_out"], kind="third_party")  # not concerned
    req = new_case(app, "delete", "in_progress", email="dana@example.org", first_name="Dana", last_name="Lee")
    sign_in(client, staff["support"])

    resp = post_action(client, req.reference, "complete", DONE)
    assert resp.status_code == 422 and "Send the notices to the 2 recipients" in resp.get_data(as_text=True)
    assert _send(client, req).status_code == 303
    manual, by_mail = _notices(app, req)
    assert (manual.method, manual.state, by_mail.method, by_mail.state) == ("manual", "awaiting_staff", "email", "queued")

    resp = post_action(client, req.reference, "complete", DONE)
    assert resp.status_code == 422 and "2 notices downstream are not yet delivered" in resp.get_data(as_text=True)
    assert get_case(app, req.reference).status == "in_progress"

    mail = mailbox.last("privacy@mailroom.example")  # delivers the outbox
    assert req.reference in body(mail) and "dana@example.org" in body(mail) and by_mail.notice_key in body(mail)
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Delivered" in page and "To be told by hand" in page

    resp = _settle(client, req, manual, "record", {"told_on": (clock.today() + timedelta(days=2)).isoformat(),
                                                   "method": "Phone call"})
    assert resp.status_code == 422 and "not in the future" in resp.get_data(as_text=True)
    resp = _settle(client, req, manual, "record", {"told_on": clock.today().isoformat(), "method": ""})
    assert resp.status_code == 422 and "Say how the recipient was told." in resp.get_data(as_text=True)
    resp = _settle(client, req, manual, "record", {"told_on": clock.today().isoformat(),
                                                   "method": "Phone call to their privacy lead"})
    assert resp.status_code == 303
    assert _settle_again_refused(client, req, manual)

    assert post_action(client, req.reference, "complete", DONE).status_code == 303
    assert get_case(app, req.reference).status == "completed"
    with app.app_context():
        s = db.session()
        record = s.execute(select(RequestRecord).where(RequestRecord.reference == req.reference)).scalar_one()
        assert record.notice_count == 2
        csv_text = annual_metrics.records_csv(s, start=clock.today() - timedelta(days=1), end=clock.today())
        assert csv_text.splitlines()[0].endswith(",notice_count,client_outcomes") and csv_text.splitlines()[1].endswith(",2,")


def _settle_again_refused(client, req, notice) -> bool:
    """A settled notice stays as it was settled: a late explanation is refused with a message."""
    token = csrf_from(client.get("/staff/account").get_data(as_text=True))
    prefix = f"n{notice.id}-explain"
    resp = client.post(f"/staff/requests/{req.reference}/notices/{notice.id}/explain", data={
        f"{prefix}-csrf_token": token, f"{prefix}-explanation": "Changed our mind about this one, long enough."})
    return resp.status_code == 422 and "already settled" in resp.get_data(as_text=True)


def test_an_impossible_notice_is_explained_instead(app, client, staff):
    _recipient(app, name="Defunct Broker", request_types=["delete"], kind="third_party")
    req = new_case(app, "delete", "in_progress")
    sign_in(client, staff["support"])
    assert _send(client, req).status_code == 303
    [notice] = _notices(app, req)
    resp = _settle(client, req, notice, "explain", {"explanation": "Gone."})
    assert resp.status_code == 422 and "between 20 and 2000" in resp.get_data(as_text=True)
    resp = _settle(client, req, notice, "explain", {
        "explanation": "The broker was dissolved in 2025 and has no successor we can reach."})
    assert resp.status_code == 303
    [notice] = _notices(app, req)
    assert notice.state == "explained" and notice.settled_by == f"staff:{staff['support'].id}"
    assert post_action(client, req.reference, "complete", DONE).status_code == 303


def test_a_notice_of_another_case_is_not_found(app, client, staff):
    _recipient(app)
    one, other = new_case(app, "delete", "in_progress"), new_case(app, "delete", "in_progress", email="o@example.org")
    sign_in(client, staff["support"])
    _send(client, one)
    [notice] = _notices(app, one)
    page = client.get(f"/staff/requests/{one.reference}").get_data(as_text=True)
    prefix = f"n{notice.id}-record"
    form = page[page.index(f'/notices/{notice.id}/record'):]
    resp = client.post(f"/staff/requests/{other.reference}/notices/{notice.id}/record", data={
        f"{prefix}-csrf_token": csrf_from(form.replace(f'name="{prefix}-csrf_token"', 'name="csrf_token"', 1)),
        f"{prefix}-told_on": clock.today().isoformat(), f"{prefix}-method": "Phone"})
    assert resp.status_code == 404
    assert _notices(app, one)[0].state == "awaiting_staff"


def test_no_recipient_no_wait(app, client, staff):
    req = new_case(app, "delete", "in_progress")
    sign_in(client, staff["support"])
    assert "No recipient is configured" in client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert post_action(client, req.reference, "complete", DONE).status_code == 303
