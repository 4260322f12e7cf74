"""Clients (issue 34): the registry (CLI and admin pages), identity rows and map systems held for a
client, and what a case found about clients: forward (a real signed webhook to a loopback receiver, or
a mail with a single-use link), explain (mail, or a letter for a postal requester), handle as the
business; completion and an exempt denial waiting for an outcome; reminders; health information
requests; retention of the client's answer."""
import json
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from portal import clock, db
from portal.lifecycle import IllegalTransition
from portal.models import AuditEvent, ClientReferral, PostalLetter, RequestMessage, RequestRecord, WebhookDelivery
from portal.services.cases import outcomes, submission
from portal.services.clients import referrals
from portal.services.delivery import webhooks
from portal.services.records import retention

from ..clients_support import SECRET, Receiver, add_client, import_index, verified_case
from ..support import body, csrf_from, get_case, link_in, make_staff, sign_in


@pytest.fixture
def app_config(app_config):
    app_config.update(WEBHOOK_ALLOW_HTTP=True, OUTBOUND_ALLOW_HOSTS="127.0.0.1")
    return app_config


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.stop()


def _referrals(app, req):
    with app.app_context():
        return db.session().execute(select(ClientReferral).where(ClientReferral.request_id == req.id)).scalars().all()


def _choose(app, req, outcome, staff):
    with app.app_context():
        s = db.session()
        referral = s.execute(select(ClientReferral).where(ClientReferral.request_id == req.id)).scalar()
        return referrals.choose(s, req=submission.get_by_reference(s, req.reference), referral_id=referral.id,
                                outcome=outcome, staff=staff)


def _blocking(app, req):
    with app.app_context():
        return outcomes.blocking_completion(db.session(), get_case(app, req.reference))


# ---- the registry ---------------------------------------------------------------------------------

def test_the_cli_adds_lists_and_removes_clients_and_refuses_a_private_webhook(app, runner):
    result = runner.invoke(args=["clients", "add", "clinic", "--name", "Valley Clinic", "--kind", "provider",
                                 "--agreement", "baa", "--email", "privacy@clinic.example",
                                 "--webhook", "https://hooks.clinic.example/privacy", "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "Valley Clinic under a BAA" in result.output and "signing secret" in result.output
    secret = result.output.rsplit(": ", 1)[1].strip()
    with app.app_context():
        stored = add_client.__globals__["registry"].by_key(db.session(), "clinic")
        assert stored.webhook_secret and secret not in stored.webhook_secret  # encrypted
        assert webhooks.decrypt_secret(stored.webhook_secret).decode() == secret and stored.days == 7
    result = runner.invoke(args=["clients", "add", "lab", "--name", "Lab", "--kind", "other", "--agreement",
                                 "service_provider", "--email", "p@lab.example", "--webhook", "https://10.0.0.5/h"])
    assert result.exit_code != 0 and "webhook address cannot be used" in result.output
    result = runner.invoke(args=["clients", "add", "clinic", "--name", "Again", "--kind", "provider", "--agreement",
                                 "baa", "--email", "p@clinic.example"])
    assert result.exit_code != 0 and "exists already" in result.output
    result = runner.invoke(args=["clients", "add", "x", "--name", "X", "--kind", "hospital", "--agreement", "baa",
                                 "--email", "p@x.example"])
    assert result.exit_code != 0 and "hospital" in result.output
    listed = runner.invoke(args=["clients", "list"])
    assert "clinic\tValley Clinic\tprovider\tbaa\tprivacy@clinic.example" in listed.output and "lab" not in listed.output
    assert runner.invoke(args=["clients", "remove", "clinic"]).exit_code == 0
    assert runner.invoke(args=["clients", "list"]).output.strip() == "no clients"
    assert "No client has the key" in runner.invoke(args=["clients", "remove", "clinic"]).output


@pytest.mark.parametrize("role,expected", [("admin", 200), ("support", 403), ("viewer", 403)])
def test_only_admins_reach_the_client_pages(app, client, role, expected):
    sign_in(client, make_staff(app, role))
    assert client.get("/staff/clients").status_code == expected
    assert client.get("/staff/clients/new").status_code == expected


def test_an_admin_adds_changes_and_removes_a_client_with_a_message_for_bad_input(app, client):
    sign_in(client, make_staff(app, "admin"))
    page = client.get("/staff/clients/new").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "key": "clinic", "name": "Valley Clinic", "kind": "provider",
            "agreement": "both", "email": "privacy@clinic.example", "days": "10",
            "webhook_url": "http://192.168.1.20/hook", "webhook_secret": "", "verify_key": ""}
    refused = client.post("/staff/clients/new", data=data)
    assert refused.status_code == 422 and "webhook address cannot be used" in refused.get_data(as_text=True)
    bad_key = client.post("/staff/clients/new", data={**data, "webhook_url": "", "verify_key": "not-a-key"})
    assert bad_key.status_code == 422 and "Ed25519" in bad_key.get_data(as_text=True)
    saved = client.post("/staff/clients/new", data={**data, "webhook_url": ""})
    assert saved.status_code == 303
    listing = client.get("/staff/clients").get_data(as_text=True)
    assert "Valley Clinic" in listing and "a BAA and a service-provider contract" in listing
    edit = client.get("/staff/clients/clinic").get_data(as_text=True)
    changed = client.post("/staff/clients/clinic", data={**data, "csrf_token": csrf_from(edit), "webhook_url": "",
                                                         "name": "Valley Clinic Group", "days": "60"})
    assert changed.status_code == 422 and "1 to 45 days" in changed.get_data(as_text=True)
    changed = client.post("/staff/clients/clinic", data={**data, "csrf_token": csrf_from(edit), "webhook_url": "",
                                                         "name": "Valley Clinic Group"})
    assert changed.status_code == 303
    removed = client.post("/staff/clients/clinic/remove", data={"csrf_token": csrf_from(listing)})
    assert removed.status_code == 303 and "No clients yet" in client.get("/staff/clients").get_data(as_text=True)
    assert client.post("/staff/clients/clinic/remove", data={"csrf_token": csrf_from(listing)}).status_code == 404
    assert client.post("/staff/clients/new", data={**data, "csrf_token": ""}).status_code in (400, 422)
    with app.app_context():
        actions = [e.action for e in db.session().execute(select(AuditEvent)).scalars()]
    assert {"client_added", "client_changed", "client_removed"} <= set(actions)


# ---- whose data ---------------------------------------------------------------------------------

def test_the_index_takes_rows_held_for_clients_and_refuses_an_unknown_client_by_name(app, runner, tmp_path):
    add_client(app)
    csv = tmp_path / "index.csv"
    csv.write_text("subject_id,email,client\nS-1,ana.ruiz@example.org,\nS-1,ana.ruiz@example.org,clinic\n"
                   "S-2,bo@example.org,acme\n", encoding="utf-8")
    result = runner.invoke(args=["subjects", "import", str(csv)])
    assert result.exit_code == 0, result.output
    assert "line 4: rejected: client 'acme' is not a registered client" in result.output
    assert "imported 2, rejected 1" in result.output
    with app.app_context():
        from portal.services.identity import subjects
        s = db.session()
        assert subjects.holders(s, "S-1") == ["", "clinic"]
        assert subjects.held_for(s, subject_key="S-1", client_key="clinic")
    again = runner.invoke(args=["subjects", "import", str(csv)])  # a re-import replaces each row, per client
    assert "imported 2" in again.output
    assert runner.invoke(args=["subjects", "status"]).output.startswith("1 subjects")  # one person, two rows
    assert runner.invoke(args=["subjects", "forget", "S-1"]).exit_code == 0
    with app.app_context():
        assert subjects.holders(db.session(), "S-1") == []


def test_datamap_check_reports_a_system_held_for_an_unknown_client(app, runner, tmp_path):
    from ..unit.fulfilment.maps import load_generator
    generator = load_generator()
    generator.build(tmp_path / "example", claimants=4, seed=3)
    generator.write_map(tmp_path / "datamap", databases=tmp_path / "example")
    systems = next(p for p in (tmp_path / "datamap").iterdir() if "systems:" in p.read_text())
    systems.write_text(systems.read_text().replace("    name: Marketing list\n",
                                                   "    name: Marketing list\n    client: clinic\n"))
    app.config["DATAMAP_PATH"] = str(tmp_path / "datamap")
    result = runner.invoke(args=["datamap", "check"])
    assert result.exit_code == 1 and "system billgenix_marketing: client clinic is not a registered client" in result.output
    add_client(app)
    result = runner.invoke(args=["datamap", "check"])
    assert "client clinic" not in result.output


def test_a_person_held_by_the_business_too_may_be_handled_as_the_business(app):
    add_client(app)
    import_index(app, [{"subject_id": "S-1", "email": "ana.ruiz@example.org"},
                       {"subject_id": "S-1", "email": "ana.ruiz@example.org", "client": "clinic"}])
    req = verified_case(app, "S-1")
    (referral,) = _referrals(app, req)
    assert referral.only_client is False and referral.state == "found"
    assert "Valley Clinic" in _blocking(app, req)
    _choose(app, req, "handle", make_staff(app, "support"))
    assert _blocking(app, req) is None
    with app.app_context():
        record = db.session().execute(select(RequestRecord).where(RequestRecord.reference == req.reference)).scalar()
    assert record.client_outcomes == "clinic:handle"
    with app.app_context():
        from portal.services.records import annual_metrics
        today = clock.today()
        csv_text = annual_metrics.records_csv(db.session(), start=today - timedelta(days=1), end=today + timedelta(days=1))
    assert csv_text.splitlines()[0].endswith(",client_outcomes") and csv_text.splitlines()[1].endswith(",clinic:handle")


def test_a_person_only_in_a_clients_data_is_never_silently_exempt(app, client, receiver):
    add_client(app, webhook=receiver.url)
    import_index(app, [{"subject_id": "S-9", "email": "ana.ruiz@example.org", "client": "clinic"}])
    req = verified_case(app, "S-9", request_type="delete")
    (referral,) = _referrals(app, req)
    assert referral.only_client is True
    staff = make_staff(app, "support")
    sign_in(client, staff)
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Held for Valley Clinic under a BAA" in page and "Found only in clients" in page
    with app.app_context():  # no "exempt" while the clinic has no outcome
        with pytest.raises(IllegalTransition, match="Valley Clinic"):
            outcomes.deny(db.session(), req=get_case(app, req.reference), staff=staff, basis="exempt_hipaa_phi",
                          explanation="HIPAA.", categories="Health", expected_version=get_case(app, req.reference).version)
    refused = client.post(f"/staff/requests/{req.reference}/clients/{referral.id}",
                          data={"csrf_token": csrf_from(page), f"c{referral.id}-outcome": "handle",
                                f"c{referral.id}-version": str(get_case(app, req.reference).version)})
    assert refused.status_code == 422 and "holds nothing of this person for itself" in refused.get_data(as_text=True)
    forwarded = client.post(f"/staff/requests/{req.reference}/clients/{referral.id}",
                            data={"csrf_token": csrf_from(page), f"c{referral.id}-outcome": "forward",
                                  f"c{referral.id}-version": str(get_case(app, req.reference).version)})
    assert forwarded.status_code == 303
    assert webhooks.deliver_for_app(app) == 1
    (sent,) = receiver.received  # a real signed POST, checked by the receiver
    assert sent["referral_id"] == referral.referral_key and sent["request_type"] == "delete"
    assert sent["subject"]["email"] == "ana.ruiz@example.org" and sent["answers"] == ["done", "not_ours", "will_act"]
    assert "Valley Clinic" in _blocking(app, req)  # forwarded, not answered
    with app.app_context():
        messages = db.session().execute(select(RequestMessage).where(RequestMessage.request_id == req.id)).scalars().all()
    assert any("We have sent your request to Valley Clinic, who decides on it" in m.body for m in messages)
    reply_body, headers = receiver.signed_reply({"referral_id": referral.referral_key, "answer": "will_act",
                                                 "note": "We will answer the consumer."})
    forged = client.post("/clients/replies", data=reply_body, headers={**headers, webhooks.SIGNATURE_HEADER: "sha256=00"})
    assert forged.status_code == 401
    answered = client.post("/clients/replies", data=reply_body, headers=headers)
    assert answered.status_code == 200 and answered.get_json()["state"] == "will_act"
    assert client.post("/clients/replies", data=reply_body, headers=headers).status_code == 409
    assert _blocking(app, req) is None  # the answer moved the case: completion may go ahead
    with app.app_context():
        messages = db.session().execute(select(RequestMessage).where(RequestMessage.request_id == req.id)).scalars().all()
        record = db.session().execute(select(RequestRecord).where(RequestRecord.reference == req.reference)).scalar()
    assert any("Valley Clinic has told us it will act on your request itself" in m.body for m in messages)
    assert record.client_outcomes == "clinic:forward"
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "The client will act" in page and "We will answer the consumer." in page


def test_a_forward_by_mail_is_answered_once_through_its_link_and_reminded_until_then(app, client, mailbox):
    add_client(app)
    import_index(app, [{"subject_id": "S-9", "email": "ana.ruiz@example.org", "client": "clinic"}])
    req = verified_case(app, "S-9")
    _choose(app, req, "forward", make_staff(app, "support"))
    mail = mailbox.last("privacy@clinic.example")
    assert "Valley Clinic" in body(mail) and req.reference in body(mail)
    assert "who decides on it" in body(mailbox.last("ana.ruiz@example.org"))
    with app.app_context():
        assert referrals.send_reminders(db.session()) == 0  # not yet
    with time_machine.travel(clock.now() + timedelta(days=4), tick=True):
        with app.app_context():
            assert referrals.send_reminders(db.session()) == 1
            assert referrals.send_reminders(db.session()) == 0  # once per interval
        mailbox.deliver()
    (reminder,) = [m for m in mailbox.to("privacy@clinic.example") if "A reminder" in body(m)]
    sign_in(client, make_staff(app, "viewer"))
    assert "Overdue" not in client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    with time_machine.travel(clock.now() + timedelta(days=11), tick=True):
        later = app.test_client()
        sign_in(later, make_staff(app, "viewer", "later@billgenix.example"))
        assert "Overdue" in later.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    old_link, link = link_in(mail, "/clients/answers/"), link_in(reminder, "/clients/answers/")
    assert client.get(old_link).status_code == 404  # the reminder's link replaced it
    page = client.get(link)
    assert page.status_code == 200 and "Valley Clinic" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    assert client.post(link, data={"csrf_token": token}).status_code == 422
    done = client.post(link, data={"csrf_token": token, "answer": "done", "note": "Deleted from our chart."})
    assert done.status_code == 200 and "your answer is recorded" in done.get_data(as_text=True)
    assert client.post(link, data={"csrf_token": token, "answer": "done"}).status_code == 410
    (referral,) = _referrals(app, req)
    assert referral.state == "done" and referral.answered_via == "link"
    assert _blocking(app, req) is None


def _answer_by_link(client, mailbox, answer, note=""):
    link = link_in(mailbox.last("privacy@clinic.example"), "/clients/answers/")
    token = csrf_from(client.get(link).get_data(as_text=True))
    assert client.post(link, data={"csrf_token": token, "answer": answer, "note": note}).status_code == 200


def test_not_ours_sends_the_choice_back_to_staff(app, client, mailbox):
    add_client(app)
    import_index(app, [{"subject_id": "S-1", "email": "a@example.org"},
                       {"subject_id": "S-1", "email": "a@example.org", "client": "clinic"}])
    req = verified_case(app, "S-1")
    staff = make_staff(app, "support")
    _choose(app, req, "forward", staff)
    _answer_by_link(client, mailbox, "not_ours")
    assert "choose again" in _blocking(app, req)
    with pytest.raises(referrals.ReferralError):
        _choose(app, req, "forward", staff)
    _choose(app, req, "handle", staff)
    assert _blocking(app, req) is None


def test_explaining_tells_the_consumer_whom_to_ask_by_mail_in_their_language_or_by_letter(app, mailbox):
    add_client(app, agreement="service_provider")
    import_index(app, [{"subject_id": "S-9", "email": "ana.ruiz@example.org", "client": "clinic"}])
    req = verified_case(app, "S-9")
    with app.app_context():
        s = db.session()
        submission.get_by_reference(s, req.reference).language = "es"
        s.commit()
    _choose(app, req, "explain", make_staff(app, "support"))
    text = body(mailbox.last("ana.ruiz@example.org"))
    assert "Valley Clinic" in text and "privacy@clinic.example" in text and "proveedor de servicios" in text
    assert _blocking(app, req) is None
    # A requester without email (phone intake) gets the same words by letter.
    import_index(app, [{"subject_id": "S-8", "email": "luz@example.org", "client": "clinic"}])
    postal = verified_case(app, "S-8", email="luz@example.org")
    with app.app_context():
        s = db.session()
        submission.get_by_reference(s, postal.reference).email = ""
        s.commit()
    _choose(app, postal, "explain", make_staff(app, "support", "other@billgenix.example"))
    with app.app_context():
        letters = db.session().execute(select(PostalLetter).where(PostalLetter.request_id == postal.id)).scalars().all()
    assert letters and "privacy@clinic.example" in letters[-1].body


def test_a_health_information_request_names_the_covered_entity_and_its_30_days(app, client, mailbox):
    add_client(app)
    import_index(app, [{"subject_id": "S-9", "email": "ana.ruiz@example.org", "client": "clinic"}])
    req = verified_case(app, "S-9", details="Please send me my medical records from my doctor's visits.")
    (referral,) = _referrals(app, req)
    assert referral.health_information is True
    assert referral.due_on == clock.local_date(req.received_at) + timedelta(days=30)
    sign_in(client, make_staff(app, "support"))
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Health information request" in page and "45 CFR 164.524" in page
    _choose(app, req, "explain", make_staff(app, "support", "second@billgenix.example"))
    text = body(mailbox.last("ana.ruiz@example.org"))
    assert "covered entity" in text and "30 days" in text and "Valley Clinic" in text
    plain = verified_case(app, "S-9", details="What do you hold about me?", email="other@example.org")
    assert _referrals(app, plain)[0].health_information is False


def test_the_clients_answer_note_is_purged_with_the_verification_data(app, client, mailbox):
    add_client(app)
    import_index(app, [{"subject_id": "S-9", "email": "ana.ruiz@example.org", "client": "clinic"}])
    req = verified_case(app, "S-9")
    staff = make_staff(app, "admin")
    _choose(app, req, "forward", staff)
    _answer_by_link(client, mailbox, "done", "Chart 44 closed.")
    with app.app_context():
        from portal.services.cases import transitions
        s = db.session()
        transitions.transition(s, submission.get_by_reference(s, req.reference), "denied", actor="test")
        s.commit()
    days = int(app.config["RETENTION_VERIFICATION_DAYS"])
    with time_machine.travel(clock.now() + timedelta(days=days - 1), tick=True), app.app_context():
        retention.purge(db.session())
    assert _referrals(app, req)[0].answer_note == "Chart 44 closed."
    with time_machine.travel(clock.now() + timedelta(days=days + 1), tick=True), app.app_context():
        retention.purge(db.session())
    (kept,) = _referrals(app, req)
    assert kept.answer_note is None and kept.state == "done"  # the outcome stays with the case


def test_a_forward_to_a_webhook_is_queued_once_with_the_referral_as_idempotency_key(app, receiver):
    add_client(app, webhook=receiver.url)
    import_index(app, [{"subject_id": "S-9", "email": "ana.ruiz@example.org", "client": "clinic"}])
    req = verified_case(app, "S-9")
    _choose(app, req, "forward", make_staff(app, "support"))
    (referral,) = _referrals(app, req)
    with app.app_context():
        hooks = db.session().execute(select(WebhookDelivery)).scalars().all()
    assert [h.idempotency_key for h in hooks] == [referral.referral_key] and SECRET not in hooks[0].secret
    assert json.loads(hooks[0].body)["reference"] == req.reference


@pytest.mark.parametrize("language,words", [("en", "Information we hold for other businesses"),
                                            ("es", "Información que guardamos para otras empresas")])
def test_the_policy_paragraph_on_client_data_reads_in_both_languages(app, language, words):
    from flask import render_template

    from portal import i18n
    with app.test_request_context(f"/privacy?lang={language}"), i18n.language(language):
        html = render_template("public/_policy_clients.html")
    assert words in html and "45 CFR 164.524" in html


def test_the_consumers_status_page_says_who_decides(app, mailbox):
    from ..support import status_client
    add_client(app)
    import_index(app, [{"subject_id": "S-9", "email": "ana.ruiz@example.org", "client": "clinic"}])
    req = verified_case(app, "S-9")
    _choose(app, req, "forward", make_staff(app, "support"))
    page = status_client(app, req.reference).get(f"/requests/{req.reference}").get_data(as_text=True)
    assert "We have sent your request to Valley Clinic, who decides on it" in page


@pytest.mark.parametrize("details,asks", [
    ("Please send me my medical records.", True), ("I want a copy of my PHI", True),
    ("Quiero mi historia clínica y mis registros médicos", True), ("my health information please", True),
    ("What personal information do you hold?", False), ("Delete my marketing emails", False), (None, False)])
def test_health_information_requests_are_recognized_in_both_languages(app, details, asks):
    from portal.models import PrivacyRequest
    from portal.services.clients import health
    assert health.asks_for_health_information(PrivacyRequest(request_type="access", details=details)) is asks
    assert health.asks_for_health_information(PrivacyRequest(request_type="delete", details=details)) is False
