"""Inquiries in the console: beside the queue, urgent on top, answered and closed, linked cases."""
import pytest

from portal import db
from portal.models import Inquiry
from portal.services.cases import inquiries
from portal.services.cases.inquiries import NewInquiry

from ..support import body, csrf_from, link_in


def _inquiry(app, kind="question", **kw) -> Inquiry:
    with app.app_context():
        return inquiries.submit(db.session(), new=NewInquiry(kind=kind, name=kw.get("name", "Dana Park"),
                                                             email=kw.get("email", "dana@clinic.example"),
                                                             message=kw.get("message", "A question.")))


def _hidden(html, name):
    import re
    return re.search(r'name="' + name + r'" type="hidden" value="([^"]*)"', html).group(1)


def test_security_concerns_sit_above_the_queue_and_lead_the_list(client, app, staff_login):
    question = _inquiry(app, "question")
    security = _inquiry(app, "security", message="My account sent emails I did not write.")
    staff_login(client, role="viewer")
    queue = client.get("/staff/").get_data(as_text=True)
    urgent = queue.split('id="urgent-heading"')[1].split("</section>")[0]
    assert security.reference in urgent and question.reference not in urgent
    assert 'href="/staff/inquiries"' in queue
    listing = client.get("/staff/inquiries").get_data(as_text=True)
    assert listing.index(security.reference) < listing.index(question.reference)
    only_baa = client.get("/staff/inquiries?kind=baa").get_data(as_text=True)
    assert security.reference not in only_baa and "No inquiries match" in only_baa


def test_support_answers_and_closes(client, app, mailbox, staff_login):
    item = _inquiry(app, "baa")
    staff_login(client, role="support")
    page = client.get(f"/staff/inquiries/{item.reference}").get_data(as_text=True)
    resp = client.post(f"/staff/inquiries/{item.reference}/answer", data={
        "answer-csrf_token": _hidden(page, "answer-csrf_token"), "answer-version": _hidden(page, "answer-version"),
        "answer-body": "Yes, we sign BAAs; legal will send ours today."})
    assert resp.status_code == 303
    reply = mailbox.last("dana@clinic.example")
    assert "legal will send ours today" in body(reply) and "/status" in body(reply)
    page = client.get(f"/staff/inquiries/{item.reference}").get_data(as_text=True)
    assert "Answered" in page and "inquiry_answered" in page
    resp = client.post(f"/staff/inquiries/{item.reference}/close", data={
        "close-csrf_token": _hidden(page, "close-csrf_token"), "close-version": _hidden(page, "close-version")})
    assert resp.status_code == 303
    page = client.get(f"/staff/inquiries/{item.reference}").get_data(as_text=True)
    assert "Closed" in page and "Send the answer" not in page


def test_an_answer_on_a_stale_page_is_refused(client, app, staff_login):
    item = _inquiry(app)
    staff_login(client, role="support")
    page = client.get(f"/staff/inquiries/{item.reference}").get_data(as_text=True)
    with app.app_context():
        s = db.session()
        inquiries.answer(s, inquiry=s.get(Inquiry, item.id), body="A colleague answered first.", actor="staff:99")
    resp = client.post(f"/staff/inquiries/{item.reference}/answer", data={
        "answer-csrf_token": _hidden(page, "answer-csrf_token"), "answer-version": _hidden(page, "answer-version"),
        "answer-body": "My answer."})
    assert resp.status_code == 409 and "A colleague answered first." in resp.get_data(as_text=True)
    with app.app_context():
        assert len(inquiries.messages(db.session(), db.session().get(Inquiry, item.id))) == 1


def test_an_empty_answer_is_explained(client, app, staff_login):
    item = _inquiry(app)
    staff_login(client, role="admin")
    page = client.get(f"/staff/inquiries/{item.reference}").get_data(as_text=True)
    resp = client.post(f"/staff/inquiries/{item.reference}/answer", data={
        "answer-csrf_token": _hidden(page, "answer-csrf_token"), "answer-version": _hidden(page, "answer-version"),
        "answer-body": ""})
    assert resp.status_code == 422 and "Please fill this in." in resp.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/staff/inquiries"), ("GET", "/staff/inquiries/{ref}"),
    ("POST", "/staff/inquiries/{ref}/answer"), ("POST", "/staff/inquiries/{ref}/close")])
@pytest.mark.parametrize("who", ["signed_out", "viewer", "support", "admin", "requester"])
def test_who_may_do_what(client, app, mailbox, staff_login, method, path, who):
    item = _inquiry(app)
    if who in ("viewer", "support", "admin"):
        staff_login(client, role=who)
    elif who == "requester":  # the sender's own status session opens the public page, not the console
        from ..support import post_form
        post_form(client, "/status", {"reference": item.reference, "email": item.email})
        link = link_in(mailbox.last(item.email), "/status/")
        client.post(link, data={"csrf_token": csrf_from(client.get(link).get_data(as_text=True))})
    url = path.format(ref=item.reference)
    token = csrf_from(client.get("/status").get_data(as_text=True))
    data = {"answer-csrf_token": token, "close-csrf_token": token, "answer-version": "1", "close-version": "1",
            "answer-body": "Hello"}
    resp = client.open(url, method=method, data=data if method == "POST" else None)
    allowed = who in ("support", "admin") or (who == "viewer" and method == "GET")
    if who in ("signed_out", "requester"):
        assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"]
    elif allowed:
        assert resp.status_code in (200, 303)
    else:
        assert resp.status_code == 403


def test_a_childs_report_and_its_deletion_case_link_to_each_other(client, app, staff_login):
    item = _inquiry(app, "child", message="My daughter, 11, made an account.")
    staff_login(client, role="support")
    page = client.get(f"/staff/inquiries/{item.reference}").get_data(as_text=True)
    with app.app_context():
        linked = db.session().get(Inquiry, item.id).linked_request_id
        from portal.models import PrivacyRequest
        case = db.session().get(PrivacyRequest, linked)
    assert f'href="/staff/requests/{case.reference}"' in page
    case_page = client.get(f"/staff/requests/{case.reference}").get_data(as_text=True)
    assert f'href="/staff/inquiries/{item.reference}"' in case_page and "delete promptly" in case_page
    assert "/actions/complete" in case_page  # in progress at once: staff can complete it



def test_an_attachment_is_stored_encrypted_and_every_download_recorded(client, app, staff_login):
    import io
    from pathlib import Path

    from sqlalchemy import select

    from portal.models import AuditEvent, Document

    from ..files import kept, pdf
    from ..support import post_form
    letter = pdf("Screenshot of the login alert we received.")
    resp = post_form(client, "/inquiries/new", {"kind": "security", "name": "Rae Kim", "email": "rae@example.org",
                                                "message": "See the attached alert.",
                                                "attachment": (io.BytesIO(letter), "alert.pdf", "application/pdf")},
                     form_url="/inquiries/new", content_type="multipart/form-data")
    assert resp.status_code == 303
    with app.app_context():
        item = db.session().execute(select(Inquiry)).scalar_one()
        doc = db.session().get(Document, item.attachment_id)
        stored = [p.read_bytes() for p in (Path(app.instance_path) / "documents").rglob("*") if p.is_file()]
    assert doc.purpose == "inquiry_attachment" and stored and all(b"login alert" not in raw for raw in stored)
    staff_login(client, role="viewer")
    page = client.get(f"/staff/inquiries/{item.reference}").get_data(as_text=True)
    assert f'href="/staff/inquiries/{item.reference}/attachment"' in page
    download = client.get(f"/staff/inquiries/{item.reference}/attachment")
    assert download.status_code == 200 and download.data == kept(letter)
    assert download.headers["Content-Disposition"].startswith("attachment")
    with app.app_context():
        [event] = db.session().execute(select(AuditEvent).where(
            AuditEvent.inquiry_id == item.id, AuditEvent.action == "document_downloaded")).scalars()
        assert event.actor.startswith("staff:")


def test_a_refused_attachment_is_explained_and_nothing_is_kept(client, app):
    import io

    from sqlalchemy import func, select

    from portal.models import Document

    from ..support import post_form
    resp = post_form(client, "/inquiries/new", {"kind": "question", "name": "Rae Kim", "email": "rae@example.org",
                                                "message": "Hello", "attachment": (io.BytesIO(b"MZ\x90\x00rest"),
                                                                                   "notes.pdf", "application/pdf")},
                     form_url="/inquiries/new", content_type="multipart/form-data")
    assert resp.status_code == 422 and "PDF, PNG or JPEG" in resp.get_data(as_text=True)
    with app.app_context():
        s = db.session()
        assert s.execute(select(func.count()).select_from(Inquiry)).scalar() == 0
        assert s.execute(select(func.count()).select_from(Document)).scalar() == 0


def test_an_inquiry_past_its_promised_date_is_marked_late(client, app, staff_login):
    from datetime import timedelta

    from portal import clock
    with app.app_context():
        old = inquiries.submit(db.session(), new=NewInquiry(kind="question", name="Old", email="old@example.org",
                                                            message="Still waiting."),
                               received_at=clock.now() - timedelta(days=14))
    fresh = _inquiry(app)
    staff_login(client, role="support")
    rows = client.get("/staff/inquiries").get_data(as_text=True).split("<tr")
    old_row = next(r for r in rows if old.reference in r)
    fresh_row = next(r for r in rows if fresh.reference in r)
    assert "Late" in old_row and 'class="is-overdue"' in old_row and "Late" not in fresh_row
