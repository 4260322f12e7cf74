"""Privacy inquiries, security reports, a child's information, security.txt and the policy page."""
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from portal import clock, db, lifecycle
from portal.models import AuditEvent, Inquiry, PrivacyRequest
from portal.services.cases import inquiries
from portal.services.cases.inquiries import NewInquiry

from ..support import body, csrf_from, link_in, post_form

FORM = {"name": "Dana Park", "email": "dana@clinic.example", "organization": "Valley Clinic",
        "message": "Do you sign Business Associate Agreements?"}


def _inquiries(app):
    with app.app_context():
        return db.session().execute(select(Inquiry)).scalars().all()


@pytest.mark.parametrize("kind", ["question", "baa", "security", "child", "other"])
def test_each_kind_is_acknowledged_through_smtp(smtp_server, client, app, kind):
    from portal.services.delivery.mail import deliver_for_app
    resp = post_form(client, "/inquiries/new", {**FORM, "kind": kind})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/inquiries/sent?kind={kind}"
    assert client.get(resp.headers["Location"]).status_code == 200
    [inquiry] = _inquiries(app)
    assert re.fullmatch(r"PR-[0-9A-Z]{4}-[0-9A-Z]{4}", inquiry.reference) and inquiry.status == "open"
    deliver_for_app(app)
    expected = 2 if kind == "security" else 1
    received = smtp_server.wait_for(expected)
    ack = next(m for m in received if m["To"] == "dana@clinic.example")
    text = body(ack)
    assert inquiry.reference in ack["Subject"] and inquiry.reference in text
    due = inquiry.response_due
    assert f"{due:%B} {due.day}, {due.year}" in text
    assert inquiry.urgent is (kind == "security")
    if kind == "security":
        alert = next(m for m in received if m["To"] == app.config["SECURITY_CONTACT_EMAIL"])
        assert alert["Subject"].startswith("URGENT") and FORM["message"] in body(alert)


def test_five_business_days_across_a_holiday():
    # Monday 23 November 2026: Thanksgiving Thursday and the Friday after are skipped.
    assert lifecycle.inquiry_due(datetime(2026, 11, 23, 18, tzinfo=timezone.utc)) == date(2026, 12, 2)


def test_a_childs_information_opens_a_linked_deletion(client, app):
    post_form(client, "/inquiries/new", {**FORM, "kind": "child", "message": "My son (12) signed up."})
    [inquiry] = _inquiries(app)
    with app.app_context():
        s = db.session()
        linked = s.get(PrivacyRequest, inquiry.linked_request_id)
        assert linked.request_type == "delete" and linked.status == "in_progress"  # no identity tiers
        assert linked.email == "dana@clinic.example" and linked.details == "My son (12) signed up."
        assert linked.first_name == "Dana" and linked.last_name == "Park"
        event = s.execute(select(AuditEvent).where(AuditEvent.request_id == linked.id)).scalar_one()
        assert inquiry.reference in event.detail


def test_the_sender_reads_the_answer_on_the_status_page_and_writes_back(client, app, mailbox):
    post_form(client, "/inquiries/new", {**FORM, "kind": "baa"})
    [inquiry] = _inquiries(app)
    with app.app_context():
        s = db.session()
        inquiries.answer(s, inquiry=s.get(Inquiry, inquiry.id), body="Yes: we sign BAAs. Our form is attached.",
                         actor="staff:1")
    reply = mailbox.last("dana@clinic.example")
    assert "Yes: we sign BAAs." in body(reply)

    post_form(client, "/status", {"reference": inquiry.reference, "email": "DANA@clinic.example"})
    link = link_in(mailbox.last("dana@clinic.example"), "/status/")
    page = client.get(link)
    client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    detail = client.get(f"/requests/{inquiry.reference}").get_data(as_text=True)
    assert "Yes: we sign BAAs." in detail and "Answered" in detail

    resp = client.post(f"/requests/{inquiry.reference}/follow-up",
                       data={"csrf_token": csrf_from(detail), "body": "Thanks, please send it to legal@clinic.example"})
    assert resp.status_code == 303
    assert _inquiries(app)[0].status == "open"
    assert "please send it to legal" in client.get(f"/requests/{inquiry.reference}").get_data(as_text=True)
    # A closed inquiry takes no more messages.
    with app.app_context():
        s = db.session()
        inquiries.close(s, inquiry=s.get(Inquiry, inquiry.id), actor="staff:1")
    page = client.get(f"/requests/{inquiry.reference}").get_data(as_text=True)
    assert "Closed" in page and "Write back to our privacy team" not in page


def test_inquiry_lifecycle_rules(session):
    inquiry = inquiries.submit(session, new=NewInquiry(kind="question", name="Lee", email="lee@example.org",
                                                       message="What do you keep?"))
    with pytest.raises(inquiries.StaleCase):
        inquiries.answer(session, inquiry=inquiry, body="x", actor="staff:1", expected_version=inquiry.version + 1)
    inquiries.close(session, inquiry=inquiry, actor="staff:1")
    with pytest.raises(lifecycle.IllegalTransition):
        inquiries.answer(session, inquiry=inquiry, body="late", actor="staff:1")
    with pytest.raises(lifecycle.IllegalTransition):
        inquiries.follow_up(session, inquiry=inquiry, body="hello?")


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "gossip"}, "Choose one of the subjects listed."),
    ({"email": "nope"}, "Enter an email address like name@example.com."),
    ({"message": ""}, "Please enter your message."),
    ({"message": "<img src=x onerror=alert(1)>"}, "Please use plain text only"),
    ({"name": "n" * 201}, "Use at most 200 characters."),
])
def test_bad_inquiries_are_explained_and_not_stored(client, app, data, message):
    resp = post_form(client, "/inquiries/new", {**FORM, "kind": "question", **data})
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert _inquiries(app) == []


def test_the_kind_can_be_preselected_from_a_link(client):
    page = client.get("/inquiries/new?kind=security").get_data(as_text=True)
    assert re.search(r'<input checked id="kind-2" name="kind" (required )?type="radio" value="security">', page)


def test_security_txt_follows_rfc_9116(client, app):
    resp = client.get("/.well-known/security.txt")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    fields = {}
    for line in resp.get_data(as_text=True).splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    assert fields["Contact"][0] == "mailto:security@billgenix.example"
    assert fields["Contact"][1] == "http://portal.test/inquiries/new?kind=security"
    expires = datetime.strptime(fields["Expires"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    now = clock.now()
    assert now < expires < now + timedelta(days=365)
    assert fields["Policy"] == ["http://portal.test/privacy"] and fields["Preferred-Languages"] == ["en, es"]
    assert fields["Canonical"] == ["http://portal.test/.well-known/security.txt"]


def test_privacy_policy_shows_version_and_effective_date(client, app):
    page = client.get("/privacy").get_data(as_text=True)
    assert "Effective November 1, 2026 · version 2026-11-01" in page
    assert "within 5 business days" in page and "<h2>Children</h2>" in page


def test_the_instance_policy_replaces_the_default_and_its_html_is_not_rendered(client, app):
    from pathlib import Path
    (Path(app.instance_path) / "privacy_policy.md").write_text(
        "---\nversion: 7\neffective: 2027-02-01\n---\n## New terms\n<script>alert(1)</script>\n")
    page = client.get("/privacy").get_data(as_text=True)
    assert "version 7" in page and "February 1, 2027" in page and "<h2>New terms</h2>" in page
    assert "<script>alert(1)</script>" not in page


def test_home_and_footer_link_to_inquiries_policy_and_security(client):
    page = client.get("/").get_data(as_text=True)
    for href in ("/inquiries/new", "/inquiries/new?kind=security", "/inquiries/new?kind=child", "/privacy"):
        assert f'href="{href}"' in page
    footer = client.get("/status").get_data(as_text=True).split('class="site-footer"')[1]
    assert 'href="/privacy"' in footer and 'href="/inquiries/new"' in footer
