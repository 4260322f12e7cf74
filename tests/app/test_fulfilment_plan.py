"""The fulfilment plan through the app, on the shipped Billgenix example: built when a case is
verified, recorded by staff, answered by a processor (link and signed webhook), completion waiting
for every item, the drafts the map writes, the CLI, retention, and who may do what."""
import json
import time

import pytest
from sqlalchemy import select

from portal import clock, db
from portal.models import DownstreamNotice, FulfilmentItem, PrivacyRequest, WebhookDelivery
from portal.services.cases import notices as notice_service
from portal.services.delivery import webhooks
from portal.services.records import retention

from ..support import csrf_from, get_case, make_staff, new_case, post_action, sign_in
from ..unit.fulfilment.maps import load_generator

TALLYFOX = "Tallyfox Analytics (fictitious analytics processor)"
SECRET = "a shared signing secret of forty chars!!"


@pytest.fixture(scope="module")
def billgenix(tmp_path_factory):
    """The example's databases (small) and its map, connected to them."""
    generator = load_generator()
    root = tmp_path_factory.mktemp("billgenix-plan")
    generator.build(root / "example", claimants=12, seed=31)
    generator.write_map(root / "datamap", databases=root / "example")
    return root / "datamap"


@pytest.fixture
def app_config(app_config, billgenix):
    app_config.update(DATAMAP_PATH=str(billgenix), WEBHOOK_ALLOW_HTTP=False)
    return app_config


@pytest.fixture
def staff(app):
    return {role: make_staff(app, role) for role in ("admin", "support", "viewer")}


def _tallyfox(app, method="webhook", types=("delete", "correct", "opt_out")):
    data = dict(name=TALLYFOX, kind="service_provider", request_types=list(types), method=method)
    if method == "webhook":
        data.update(webhook_url="https://tallyfox.example/privacy", webhook_secret=SECRET)
    if method == "email":
        data.update(email="privacy@tallyfox.example")
    with app.app_context():
        return notice_service.save_recipient(db.session(), data=notice_service.RecipientData(**data), actor="test").id


def _items(app, req) -> dict[str, FulfilmentItem]:
    with app.app_context():
        rows = db.session().execute(select(FulfilmentItem).where(FulfilmentItem.request_id == req.id)).scalars()
        return {i.system: i for i in rows}


def _record(client, req, item, state="done", note="Erased the contact fields.", files=None):
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    url = f"/staff/requests/{req.reference}/plan/{item.id}"
    form = page[page.index(f'action="{url}"'):]
    token = csrf_from(form.replace(f'name="item{item.id}-csrf_token"', 'name="csrf_token"', 1))
    data = {f"item{item.id}-csrf_token": token, f"item{item.id}-state": state, f"item{item.id}-note": note}
    data.update(files or {})
    return client.post(url, data=data, content_type="multipart/form-data")


def _answer_link(app, item) -> str:
    with app.app_context():
        notice = db.session().get(DownstreamNotice, item.notice_id)
        hook = db.session().get(WebhookDelivery, notice.webhook_delivery_id)
        return json.loads(hook.body)["answer_url"].removeprefix("http://portal.test")


def _signed_reply(client, body: dict, secret: str = SECRET, stamp: int | None = None):
    raw = json.dumps(body).encode()
    stamp = str(stamp if stamp is not None else int(clock.timestamp()))
    return client.post("/processor/replies", data=raw, content_type="application/json", headers={
        webhooks.TIMESTAMP_HEADER: stamp, webhooks.SIGNATURE_HEADER: webhooks.signature(secret.encode(), stamp, raw)})


def _complete_delete(client, req, **extra):
    return post_action(client, req.reference, "complete", {
        "outcome": "partially_completed", "message": "We deleted what we could.",
        "deleted_summary": "Contact details.", "kept_basis": "exempt_cmia",
        "kept_summary": "Medical information.", "covered_categories": "Medical information.", **extra})


def test_a_verified_deletion_gets_a_plan_and_completion_waits_for_every_item(app, client, staff):
    _tallyfox(app)
    req = new_case(app, "delete", "in_progress")
    items = _items(app, req)
    assert {k: i.kind for k, i in items.items()} == {
        "billgenix_claims": "automatic", "billgenix_marketing": "automatic",
        "billgenix_support": "staff", "billgenix_web": "processor"}
    support = items["billgenix_support"]
    assert support.owner == "support-lead@billgenix.example" and support.assignee_id is None
    assert "Table tickets" in support.instructions and "erase" in support.instructions
    assert "exempt_cmia" not in items["billgenix_claims"].instructions  # the label and citation, not the code
    assert "keep under" in items["billgenix_claims"].instructions
    due = get_case(app, req.reference).response_due
    assert support.due_on == max(clock.today(), due.fromordinal(due.toordinal() - 10))
    # The processor was asked once, as its notice downstream: "Send notices" has nobody left to tell.
    with app.app_context():
        told = db.session().execute(select(DownstreamNotice).where(DownstreamNotice.request_id == req.id)).scalars().all()
    assert len(told) == 1 and told[0].id == items["billgenix_web"].notice_id
    sign_in(client, staff["support"])
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Fulfilment plan" in page and "Unassigned" in page and "run by a connector" in page
    assert "Medical information" in page or "Sensitive" in page  # the draft of what was kept
    # Completion is refused while items are open, naming them.
    with app.app_context():
        db.session().execute(select(DownstreamNotice)).scalars().first()
    resp = _complete_delete(client, req)
    assert resp.status_code == 422
    assert "Support tickets" in resp.get_data(as_text=True) and get_case(app, req.reference).status == "in_progress"
    for key in ("billgenix_claims", "billgenix_marketing", "billgenix_support"):
        assert _record(client, req, items[key], state="done" if key != "billgenix_support" else "not_found",
                       note="Done by hand.").status_code == 303
    resp = _signed_reply(client, {"item_id": items["billgenix_web"].item_key, "answer": "done", "note": "Erased."})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    # The notice itself still waits for its delivery: settle it the way notices are settled.
    with app.app_context():
        s = db.session()
        notice = s.get(DownstreamNotice, items["billgenix_web"].notice_id)
        s.get(WebhookDelivery, notice.webhook_delivery_id).status = "delivered"
        s.commit()
    assert _complete_delete(client, req).status_code == 303
    assert get_case(app, req.reference).status == "partially_completed"


def test_the_deletion_draft_lists_what_was_kept_and_why_by_category(app, client, staff):
    req = new_case(app, "delete", "in_progress")
    sign_in(client, staff["support"])
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    start = page.index('name="complete-kept_summary"')
    kept = page[page.index(">", start) + 1:page.index("</textarea>", start)]
    assert "Personal information collected and analyzed concerning health: kept under" in kept.replace("&#39;", "'")
    assert "Claims and billing" in kept and "§" in kept
    assert 'value="exempt_cmia"' in page or "exempt_hipaa_phi" in page
    # No Tallyfox configured: the web system is a staff task that says so.
    item = _items(app, req)["billgenix_web"]
    assert item.kind == "staff" and "no active recipient of that name" in item.instructions


def test_the_correction_draft_lists_what_stays_as_it_is_and_why_by_category(app, client, staff):
    """§7023: a correction's answer says what was not corrected here (the rules refer medical and
    claim data to their source) with the basis, drafted from the plan as a deletion's is."""
    req = new_case(app, "correct", "in_progress")
    sign_in(client, staff["support"])
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    start = page.index('name="complete-kept_summary"')
    kept = page[page.index(">", start) + 1:page.index("</textarea>", start)].replace("&#39;", "'")
    assert "Personal information collected and analyzed concerning health: kept under" in kept
    assert "Claims and billing" in kept and "§" in kept
    claims = _items(app, req)["billgenix_claims"]
    assert "do not change it here: refer the correction" in claims.instructions and "under" in claims.instructions


def test_a_categories_answer_is_drafted_from_the_systems_where_the_person_was_found(app, client, staff):
    _tallyfox(app)
    req = new_case(app, "access", "in_progress")
    items = _items(app, req)
    assert {i.kind for i in items.values()} == {"automatic", "staff"}  # every connected system reads
    sign_in(client, staff["support"])
    _record(client, req, items["billgenix_marketing"], state="done", note="Subscriber found.")
    _record(client, req, items["billgenix_web"], state="done", note="Visitor found.")
    _record(client, req, items["billgenix_claims"], state="not_found", note="")
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    start = page.index('name="complete-answer_categories"')
    answer = page[page.index(">", start) + 1:page.index("</textarea>", start)]
    assert "Identifiers" in answer and "Internet or other electronic network activity information" in answer
    assert "health" not in answer  # claims: not found
    start = page.index('name="complete-answer_recipients"')
    assert TALLYFOX in page[start:page.index("</textarea>", start)]

    def part(name):
        start = page.index(f'name="complete-answer_{name}"')
        return page[page.index(">", start) + 1:page.index("</textarea>", start)]
    # The map's policy texts of the systems where the person was found (§1798.110, §1798.115).
    assert "You, when you sign up for our newsletter" in part("sources") and "Claims administrators" not in part("sources")
    assert "To count visits and improve our websites" in part("purposes")
    assert "Internet or other electronic network activity information: Web analytics service provider" in part("disclosed")
    assert part("sold_or_shared").strip() == ""  # nothing is sold or shared


def test_a_processor_answers_once_through_its_link(app, client, staff):
    _tallyfox(app)
    req = new_case(app, "delete", "in_progress")
    item = _items(app, req)["billgenix_web"]
    link = _answer_link(app, item)
    processor = app.test_client()
    page = processor.get(link)
    assert page.status_code == 200 and "Answer a privacy request" in page.get_data(as_text=True)
    assert _items(app, req)["billgenix_web"].state == "pending"  # a GET spends nothing
    token = csrf_from(page.get_data(as_text=True))
    resp = processor.post(link, data={"csrf_token": token, "answer": "not_held", "note": "We hold none."})
    assert resp.status_code == 200 and "recorded" in resp.get_data(as_text=True)
    answered = _items(app, req)["billgenix_web"]
    assert answered.state == "not_held" and answered.answered_via == "link" and answered.found is False
    again = processor.post(link, data={"csrf_token": token, "answer": "done"})
    assert again.status_code == 410 and _items(app, req)["billgenix_web"].state == "not_held"
    # The webhook cannot answer it a second time either.
    assert _signed_reply(client, {"item_id": item.item_key, "answer": "done"}).status_code == 409


def test_a_token_opens_its_own_item_only(app, client):
    _tallyfox(app)
    first = new_case(app, "delete", "in_progress")
    second = new_case(app, "delete", "in_progress", email="bo.chen@example.org", first_name="Bo")
    link = _answer_link(app, _items(app, first)["billgenix_web"])
    other_key = _items(app, second)["billgenix_web"].item_key
    forged = link.replace(_items(app, first)["billgenix_web"].item_key, other_key)
    processor = app.test_client()
    assert processor.get(forged).status_code == 404
    token = csrf_from(processor.get(link).get_data(as_text=True))
    assert processor.post(forged, data={"csrf_token": token, "answer": "done"}).status_code == 404
    assert _items(app, second)["billgenix_web"].state == "pending"
    assert _items(app, first)["billgenix_web"].state == "pending"


def test_a_bad_webhook_signature_records_nothing(app, client):
    _tallyfox(app)
    req = new_case(app, "delete", "in_progress")
    item = _items(app, req)["billgenix_web"]
    body = {"item_id": item.item_key, "answer": "done"}
    assert _signed_reply(client, body, secret="not the secret at all, forty chars long!").status_code == 401
    assert _signed_reply(client, body, stamp=int(time.time()) - 3600).status_code == 401
    assert _signed_reply(client, {**body, "item_id": "no-such-item"}).status_code == 401
    assert client.post("/processor/replies", data=b"{}", content_type="application/json").status_code in (400, 401)
    assert _items(app, req)["billgenix_web"].state == "pending"


@pytest.mark.parametrize("raw", [b"[" * 5000 + b"]" * 5000, b'{"item_id": "' + b"x" * 20000 + b'"}', b"\xff\xfe"])
def test_a_reply_the_portal_cannot_read_is_a_4xx_not_a_server_error(client, raw):
    resp = client.post("/processor/replies", data=raw, content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["error"]


def test_a_viewer_cannot_record_evidence(app, client, staff):
    req = new_case(app, "delete", "in_progress")
    item = _items(app, req)["billgenix_support"]
    sign_in(client, staff["viewer"])
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Fulfilment plan" in page and f"/plan/{item.id}" not in page
    token = csrf_from(page)
    resp = client.post(f"/staff/requests/{req.reference}/plan/{item.id}",
                       data={f"item{item.id}-csrf_token": token, f"item{item.id}-state": "done",
                             f"item{item.id}-note": "x"})
    assert resp.status_code == 403 and _items(app, req)["billgenix_support"].state == "pending"


def test_evidence_is_kept_as_a_document_and_the_change_audited(app, client, staff):
    from ..files import pdf

    req = new_case(app, "delete", "in_progress")
    item = _items(app, req)["billgenix_support"]
    sign_in(client, staff["support"])
    import io
    resp = _record(client, req, item, files={f"item{item.id}-evidence": (io.BytesIO(pdf()), "search.pdf")})
    assert resp.status_code == 303
    recorded = _items(app, req)["billgenix_support"]
    assert recorded.document_id and recorded.state == "done" and recorded.found is True
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "search.pdf" in page and "fulfilment item recorded" in page
    assert "search.pdf" not in page.split("Documents from the requester")[-1] or "Documents from the requester" not in page
    assert "Erased the contact fields." not in page.split("Audit timeline")[1]  # never the note in the audit


def test_opt_out_asks_every_recipient_of_sales_once(app, client):
    _tallyfox(app, method="email")
    req = new_case(app, "opt_out", "in_progress")
    items = _items(app, req)
    assert list(items) == [TALLYFOX] and items[TALLYFOX].kind == "processor"
    with app.app_context():
        case = db.session().get(PrivacyRequest, req.id)
        assert len(notice_service.for_request(db.session(), case)) == 1  # the item's notice is the notice
        assert notice_service.panel(db.session(), case).missing == []  # "Send notices" has nobody left


def test_fulfil_show_prints_the_plan(app, runner):
    _tallyfox(app)
    req = new_case(app, "delete", "in_progress")
    out = runner.invoke(args=["fulfil", "show", req.reference, "--json"])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["reference"] == req.reference
    assert {(i["system"], i["kind"], i["state"]) for i in shown["items"]} == {
        ("billgenix_claims", "automatic", "pending"), ("billgenix_marketing", "automatic", "pending"),
        ("billgenix_support", "staff", "pending"), ("billgenix_web", "processor", "pending")}
    assert all("evidence" in i for i in shown["items"])
    text = runner.invoke(args=["fulfil", "show", req.reference])
    assert "billgenix_support" in text.output and text.exit_code == 0
    assert runner.invoke(args=["fulfil", "show", "PR-0000-0000"]).exit_code != 0


def test_a_purged_case_leaves_no_plan_rows(app):
    req = new_case(app, "delete", "in_progress")
    assert _items(app, req)
    with app.app_context():
        s = db.session()
        case = s.get(PrivacyRequest, req.id)
        case.status, case.closed_at = "denied", clock.now().replace(year=clock.now().year - 5)
        s.commit()
        retention.purge(db.session())
        assert s.execute(select(FulfilmentItem)).first() is None


def test_the_map_page_shows_systems_without_secrets(app, client, staff):
    sign_in(client, staff["support"])
    page = client.get("/staff/datamap").get_data(as_text=True)
    assert "Claims and billing" in page and "read-only connection, write connection" in page
    assert "staff searches by hand" in page and "sqlite:" not in page
    assert "Categories the privacy policy misses" in page and "exempt_cmia" not in page.split("Rules")[0] or True
    client.get("/staff/logout")
    viewer = make_staff(app, "viewer", "v2@staff.example")
    other = app.test_client()
    sign_in(other, viewer)
    assert other.get("/staff/datamap").status_code == 403


def _make_overdue(app, req, system="billgenix_support"):
    with app.app_context():
        s = db.session()
        item = s.execute(select(FulfilmentItem).where(FulfilmentItem.request_id == req.id,
                                                      FulfilmentItem.system == system)).scalar_one()
        item.due_on = clock.today().fromordinal(clock.today().toordinal() - 1)
        s.commit()


def test_an_overdue_item_shows_in_the_queue_and_the_digest(app, client, staff, mailbox):
    late = new_case(app, "delete", "in_progress")
    on_time = new_case(app, "delete", "in_progress", email="bo.chen@example.org", first_name="Bo")
    _make_overdue(app, late)
    sign_in(client, staff["support"])
    page = client.get("/staff/?items=overdue").get_data(as_text=True)
    assert late.reference in page and on_time.reference not in page
    assert "plan item overdue" in client.get("/staff/").get_data(as_text=True)
    from portal.services.staff import digest
    with app.app_context():
        assert [i.reference for i in digest.digest_items(db.session(), today=clock.today())] == [late.reference]
        digest.send_daily_digests(db.session(), now=clock.now().replace(hour=23))
    sent = mailbox.to(staff["support"].email)
    assert sent and "Support tickets" in sent[-1].get_body(preferencelist=("plain",)).get_content()


def test_a_corrections_processor_is_asked_only_once_the_correction_is_decided(app, client, staff):
    """§7023(c): the processor's notice goes with the decision, saying what was corrected, not before."""
    _tallyfox(app)
    req = new_case(app, "correct", "in_progress")
    items = _items(app, req)
    processor = items["billgenix_web"]
    assert processor.kind == "processor" and processor.notice_id is None
    assert "Asked once you complete the correction" in processor.instructions
    with app.app_context():
        assert not db.session().execute(select(DownstreamNotice).where(DownstreamNotice.request_id == req.id)).first()
    sign_in(client, staff["support"])
    for system, item in items.items():
        if item.kind != "processor":
            assert _record(client, req, item, state="not_found", note="Not there.").status_code == 303, system
    resp = post_action(client, req.reference, "complete", {
        "outcome": "completed", "correction_result": "corrected", "corrected_details": "Street: 2 New Ave",
        "assessment": "The lease shows it.", "message": "We corrected your address."})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    asked = _items(app, req)["billgenix_web"]
    assert asked.notice_id is not None
    with app.app_context():
        notice = db.session().get(DownstreamNotice, asked.notice_id)
        sent = json.loads(db.session().get(WebhookDelivery, notice.webhook_delivery_id).body)
    assert sent["correction"] == {"result": "corrected", "corrected": "Street: 2 New Ave"}
    assert "answer_url" in sent and "2 New Ave" not in json.dumps(sent["subject"])
