"""The staff review of an agent's authorization, end to end: the agent's form, the agent's and the
consumer's mail through a real SMTP server, the console's document preview beside the checklist,
accept or reject, and the agent's follow-up from the status page."""
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from portal import db
from portal.models import AgentAuthorization, AuditEvent, CaseOutcome, Document, PrivacyRequest, RequestMessage
from portal.services.delivery.mail import deliver_for_app
from portal.services.documents import store as documents

from .. import files
from ..support import body, csrf_from, get_case, link_in, make_staff, post_action, post_form, sign_in
from .test_agent_journey import AGENT, confirm_agent_email, submit

AGENT_EMAIL, CONSUMER_EMAIL = AGENT["agent_email"], AGENT["consumer_email"]
LETTER_TEXT = "I, Ana Ruiz, authorize Lien Partners LLC to delete my information. Signed 2026-11-01"
CHECKLIST = ["signed", "names_agent", "scope", "dated", "not_expired"]


def _rows(app, model, **where):
    with app.app_context():
        query = select(model).order_by(model.id)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.session().execute(query).scalars().all()


def _accept(client, reference, checklist=CHECKLIST, **kw):
    return post_action(client, reference, "accept_agent", {"checklist": checklist, "note": ""}, **kw)


class Inbox:
    """The real SMTP server's mail, read the way the agent and the consumer read theirs."""

    def __init__(self, app, smtp):
        self.app, self.smtp = app, smtp

    def last(self, address):
        deliver_for_app(self.app)
        self.smtp.wait_for(1)
        found = [m for m in self.smtp.received if m["To"] == address]
        assert found, f"no mail to {address}"
        return found[-1]

    def to(self, address):
        deliver_for_app(self.app)
        return [m for m in self.smtp.received if m["To"] == address]


def _agent_case(client, inbox, **overrides):
    """An agent submits and (know, delete, correct) confirms their email: the case waits for the
    review. An opt-out or limit request is in review, and in effect, on upload."""
    assert submit(client, **overrides).status_code == 303
    if overrides.get("request_type", "delete") not in ("opt_out", "limit"):
        confirm_agent_email(client, inbox.last(overrides.get("agent_email", AGENT_EMAIL)))
    [req] = _rows(client.application, PrivacyRequest)
    assert (req.status, req.hold_reason) == ("on_hold", "agent_authorization")
    return req


def _consumer_confirms(client, inbox):
    confirm = link_in(inbox.last(CONSUMER_EMAIL), "/agent/confirm/")
    page = client.get(confirm)
    resp = client.post(confirm, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "decision": "confirm"})
    assert resp.status_code == 200


# Know, delete and correct go on to identity matching once the authorization is accepted; with no
# identity index here, they wait for more details (data_mismatch) just as a consumer's own would.
@pytest.mark.parametrize("kind,request_type,moves_to", [
    ("signed_permission", "delete", "verifying"),
    ("power_of_attorney", "access", "verifying"),
    ("signed_permission", "opt_out", "in_progress"),  # §7026(j): no identity verification
])
def test_full_agent_journey_through_smtp_ends_with_staff_accepting(smtp_server, app, kind, request_type,
                                                                   moves_to):
    agent = app.test_client()
    inbox = Inbox(app, smtp_server)
    req = _agent_case(agent, inbox, authorization_kind=kind, request_type=request_type)
    if kind == "signed_permission":
        _consumer_confirms(agent.application.test_client(), inbox)
    else:
        assert inbox.to(CONSUMER_EMAIL) == []  # §7063(b): no confirmation with a power of attorney

    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    page = staff.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Confirmed by the consumer" in page if kind == "signed_permission" else "Not applicable" in page
    assert "Lien Partners LLC" in page and "201912345678" in page
    assert 'name="accept_agent-checklist"' in page and 'name="reject_agent-reason"' in page
    assert "verify-csrf_token" not in page and "clear_hold-csrf_token" not in page  # the review is not bypassed
    resp = _accept(staff, req.reference, page=page)
    assert resp.status_code == 303
    req = get_case(app, req.reference)
    if moves_to == "verifying":
        assert (req.status, req.hold_reason) == ("on_hold", "data_mismatch")
    else:
        assert req.status == moves_to and req.hold_reason is None
    assert (req.effective_at is not None) == (moves_to == "in_progress")
    [auth] = _rows(app, AgentAuthorization)
    assert (auth.review_decision, auth.review_checklist) == ("accepted", ",".join(sorted(CHECKLIST)))
    [event] = _rows(app, AuditEvent, action="agent_authorization_accepted")
    assert (event.from_status, event.to_status) == ("on_hold", moves_to)
    assert "consumer: " + ("confirmed" if kind == "signed_permission" else "not_applicable") in event.detail
    told = [m for m in inbox.to(AGENT_EMAIL) if "was accepted" in m["Subject"]][-1]
    assert "was accepted" in told["Subject"] and req.reference in told["Subject"]
    assert ("check the consumer's identity" in body(told)) == (moves_to == "verifying")
    assert told["To"] == AGENT_EMAIL and inbox.to(CONSUMER_EMAIL)[-1:] != [told]


def test_done_means_lien_firm_deletion_confirmed_reviewed_accepted_and_every_look_recorded(smtp_server, app):
    """A lien-firm agent submits a deletion with a signed letter, the consumer confirms from the mail,
    support reviews the letter in the console and accepts it; the case moves on, the letter is
    encrypted at rest and every look at it is on record."""
    agent = app.test_client()
    inbox = Inbox(app, smtp_server)
    letter = files.pdf(text=LETTER_TEXT)
    assert submit(agent, upload=(letter, "signed letter.pdf", "application/pdf")).status_code == 303
    confirm_agent_email(agent, inbox.last(AGENT_EMAIL))
    _consumer_confirms(app.test_client(), inbox)  # the consumer, from their own mail

    [doc] = _rows(app, Document)
    raw = (Path(app.instance_path) / "documents" / doc.storage_name).read_bytes()
    for plain in (b"Ana Ruiz", b"Lien Partners", b"%PDF", letter[:64]):
        assert plain not in raw

    support = app.test_client()
    sign_in(support, make_staff(app, "support"))
    [req] = _rows(app, PrivacyRequest)
    page = support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    preview = f"/staff/requests/{req.reference}/documents/{doc.id}/preview"
    download = f"/staff/requests/{req.reference}/documents/{doc.id}"
    assert f'href="{preview}" target="_blank" rel="noopener"' in page and f'href="{download}"' in page
    shown = support.get(preview)
    assert shown.status_code == 200 and shown.data == files.kept(letter)
    assert shown.headers["Content-Disposition"].startswith("inline;")
    saved = support.get(download)
    assert saved.data == files.kept(letter) and saved.headers["Content-Disposition"].startswith("attachment;")
    assert _accept(support, req.reference).status_code == 303

    req = get_case(app, req.reference)
    assert (req.status, req.hold_reason) == ("on_hold", "data_mismatch")  # accepted, then matched (no index here)
    looks = [(e.action, e.actor, e.detail) for e in _rows(app, AuditEvent)
             if e.action in documents.ACCESS_ACTIONS]
    [staff_id] = {a for _action, a, _detail in looks}
    assert looks == [("document_viewed", staff_id, f"document {doc.id} (authorization)"),
                     ("document_downloaded", staff_id, f"document {doc.id} (authorization)")]
    actions = [e.action for e in _rows(app, AuditEvent, request_id=req.id)]
    assert actions.index("agent_confirmed_by_consumer") < actions.index("agent_authorization_accepted")
    with app.app_context():
        from portal.services import audit
        assert audit.first_broken_link(db.session()) is None  # the record of every look is hash-chained


def test_staff_reject_denies_the_request_and_the_agent_receives_the_reason(client, app, mailbox):
    req = _agent_case(client, mailbox, authorization_kind="power_of_attorney")
    staff = app.test_client()
    sign_in(staff, make_staff(app, "admin"))
    empty = post_action(staff, req.reference, "reject_agent", {"reason": ""})
    assert empty.status_code == 422 and get_case(app, req.reference).status == "on_hold"
    reason = "The power of attorney is not signed by Ana Ruiz and names another firm."
    assert post_action(staff, req.reference, "reject_agent", {"reason": reason}).status_code == 303
    req = get_case(app, req.reference)
    assert (req.status, req.outcome_code, req.response_message) == ("denied", "agent_authorization_rejected", reason)
    assert "7063" in req.outcome_citation
    [outcome] = _rows(app, CaseOutcome)
    assert (outcome.outcome, outcome.basis_code, outcome.explanation) == (
        "denied", "agent_authorization_rejected", reason)
    mail = mailbox.last(AGENT_EMAIL)
    assert "authorization not accepted" in mail["Subject"] and reason in body(mail)
    assert reason in mail.get_body(preferencelist=("html",)).get_content()
    assert mailbox.to(CONSUMER_EMAIL) == []
    [auth] = _rows(app, AgentAuthorization)
    assert auth.review_decision == "rejected" and auth.review_reason == reason and auth.reviewed_at


def test_accepting_needs_every_checklist_item_and_the_current_version(client, app, mailbox):
    req = _agent_case(client, mailbox)
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    page = staff.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Waiting for the consumer" in page and "has not answered yet" in page
    partial = _accept(staff, req.reference, checklist=CHECKLIST[:4], page=page)
    assert partial.status_code == 422 and "Every item must hold" in partial.get_data(as_text=True)
    assert get_case(app, req.reference).status == "on_hold"
    # Someone else changed the case since the page was loaded: nothing is written.
    with app.app_context():
        from portal.services.cases import submission
        s = db.session()
        r = submission.get_by_reference(s, req.reference)
        r.details = "changed elsewhere"
        s.commit()
    stale = _accept(staff, req.reference, page=page)
    assert stale.status_code == 409 and get_case(app, req.reference).status == "on_hold"
    assert _accept(staff, req.reference).status_code == 303
    assert get_case(app, req.reference).status == "on_hold"  # accepted, then matched: no index here
    assert _rows(app, AgentAuthorization)[0].review_checklist == ",".join(sorted(CHECKLIST))


def test_a_viewer_sees_the_review_read_only(client, app, mailbox):
    req = _agent_case(client, mailbox)
    viewer = app.test_client()
    sign_in(viewer, make_staff(app, "viewer"))
    page = viewer.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Agent and authorization" in page and "Review checklist" in page and "Lien Partners LLC" in page
    assert "accept_agent-csrf_token" not in page and "reject_agent-csrf_token" not in page
    assert "to be checked by support or an administrator" in page
    # Their session's CSRF token, from a page they can load, does not let them act.
    resp = viewer.post(f"/staff/requests/{req.reference}/actions/accept_agent",
                       data={"csrf_token": csrf_from(page), "accept_agent-checklist": CHECKLIST,
                             "accept_agent-version": str(get_case(app, req.reference).version)})
    assert resp.status_code == 403 and get_case(app, req.reference).status == "on_hold"


# ---- who may look at the documents -----------------------------------------------------------

@pytest.fixture
def agent_case_with_image(client, app, mailbox):
    assert submit(client, upload=(files.png(), "letter.png", "image/png")).status_code == 303
    confirm_agent_email(client, mailbox.last(AGENT_EMAIL))
    [req] = _rows(app, PrivacyRequest)
    [doc] = _rows(app, Document)
    return req, doc


@pytest.mark.parametrize("role", ["admin", "support", "viewer"])
def test_every_staff_role_may_view_and_download_and_each_look_is_recorded(app, agent_case_with_image, role):
    req, doc = agent_case_with_image
    staff = app.test_client()
    member = make_staff(app, role)
    sign_in(staff, member)
    page = staff.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    preview = f"/staff/requests/{req.reference}/documents/{doc.id}/preview"
    assert f'<img src="{preview}" alt="Scan of letter.png, sent by the agent">' in page
    shown = staff.get(preview)
    assert shown.status_code == 200 and shown.data == files.png() and shown.mimetype == "image/png"
    h = shown.headers
    assert h["Content-Security-Policy"] == "default-src 'none'; img-src 'self' data:; object-src 'none'; sandbox"
    assert (h["X-Content-Type-Options"], h["Cache-Control"]) == ("nosniff", "no-store")
    assert h["Content-Disposition"].startswith("inline;")
    saved = staff.get(f"/staff/requests/{req.reference}/documents/{doc.id}")
    assert saved.status_code == 200 and saved.headers["Content-Disposition"].startswith("attachment;")
    assert saved.headers["Cache-Control"] == "no-store" and saved.headers["X-Content-Type-Options"] == "nosniff"
    looks = [(e.action, e.actor) for e in _rows(app, AuditEvent) if e.action in documents.ACCESS_ACTIONS]
    assert looks == [("document_viewed", f"staff:{member.id}"), ("document_downloaded", f"staff:{member.id}")]


def test_strangers_requesters_and_other_cases_get_nothing(app, client, mailbox, agent_case_with_image):
    req, doc = agent_case_with_image
    urls = [f"/staff/requests/{req.reference}/documents/{doc.id}/preview",
            f"/staff/requests/{req.reference}/documents/{doc.id}"]
    # Signed out: the sign-in page, never the bytes.
    for url in urls:
        resp = app.test_client().get(url)
        assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"] and files.png() not in resp.data
    # The agent's own status session opens their request page, not the console's documents.
    agent = app.test_client()
    post_form(agent, "/status", {"reference": req.reference, "email": AGENT_EMAIL})
    link = link_in(mailbox.last(AGENT_EMAIL), "/status/")
    agent.post(link, data={"csrf_token": csrf_from(agent.get(link).get_data(as_text=True))})
    assert agent.get(f"/requests/{req.reference}").status_code == 200
    for url in urls:
        resp = agent.get(url)
        assert resp.status_code == 302 and files.png() not in resp.data
    # Object-level: another case's address for this document, and another case's document id.
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    other = submit(client, consumer_first_name="Luis", upload=(files.jpeg(), "other.jpg", "image/jpeg"))
    assert other.status_code == 303
    other_req = [r for r in _rows(app, PrivacyRequest) if r.id != req.id][0]
    other_doc = [d for d in _rows(app, Document) if d.id != doc.id][0]
    for path in (f"/staff/requests/{other_req.reference}/documents/{doc.id}",
                 f"/staff/requests/{other_req.reference}/documents/{doc.id}/preview",
                 f"/staff/requests/{req.reference}/documents/{other_doc.id}",
                 f"/staff/requests/{req.reference}/documents/{other_doc.id}/preview",
                 f"/staff/requests/{req.reference}/documents/99999/preview"):
        assert staff.get(path).status_code == 404, path
    assert [e for e in _rows(app, AuditEvent) if e.action in documents.ACCESS_ACTIONS] == []


# ---- the agent follows up ----------------------------------------------------------------------

def test_agent_answers_a_request_for_information_with_a_document(client, app, mailbox):
    req = _agent_case(client, mailbox)
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    assert _accept(staff, req.reference).status_code == 303
    question = "Please send the letter with the claim number."
    assert post_action(staff, req.reference, "request_info", {"message": question}).status_code == 303
    asked = mailbox.last(AGENT_EMAIL)
    assert "We need more information" in asked["Subject"] and question in body(asked)
    assert body(asked).startswith("Hello Maria Lopez,")
    assert all(question not in body(m) for m in mailbox.to(CONSUMER_EMAIL))

    agent = app.test_client()
    post_form(agent, "/status", {"reference": req.reference, "email": AGENT_EMAIL})
    link = link_in(mailbox.last(AGENT_EMAIL), "/status/")
    agent.post(link, data={"csrf_token": csrf_from(agent.get(link).get_data(as_text=True))})
    page = agent.get(f"/requests/{req.reference}").get_data(as_text=True)
    assert question in page and 'name="attachment"' in page
    resp = agent.post(f"/requests/{req.reference}/answer", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "body": "Attached.", "attachment": (io.BytesIO(files.jpeg()), "claim.jpg")})
    assert resp.status_code == 303
    assert get_case(app, req.reference).status == "verifying"
    evidence = _rows(app, Document, purpose="evidence")
    assert len(evidence) == 1 and evidence[0].request_id == req.id and evidence[0].uploaded_by == "requester"
    assert [m.body for m in _rows(app, RequestMessage, direction="from_requester")] == ["Attached."]
    console = staff.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert re.search(r'claim\.jpg', console)
    preview = staff.get(f"/staff/requests/{req.reference}/documents/{evidence[0].id}/preview")
    assert preview.status_code == 200 and preview.data == files.jpeg()


def test_staff_ask_the_agent_for_more_during_the_review_and_the_agent_uploads_it(client, app, mailbox):
    req = _agent_case(client, mailbox, consumer_email="")  # no reachable consumer: the document alone
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    page = staff.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Not asked: no email address was given for the consumer" in page
    question = "The scan is cut off at the signature. Please send the whole page."
    assert post_action(staff, req.reference, "ask_agent", {"message": question}, page=page).status_code == 303
    held = get_case(app, req.reference)
    assert (held.status, held.hold_reason) == ("on_hold", "information_requested")
    page = staff.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    # While the agent's answer is awaited, nothing bypasses the review.
    for action in ("verify", "clear_hold", "accept_agent", "reject_agent"):
        assert f"{action}-csrf_token" not in page
    assert "The review resumes when they answer" in page
    asked = mailbox.last(AGENT_EMAIL)
    assert question in body(asked) and body(asked).startswith("Hello Maria Lopez,")

    agent = app.test_client()
    post_form(agent, "/status", {"reference": req.reference, "email": AGENT_EMAIL})
    link = link_in(mailbox.last(AGENT_EMAIL), "/status/")
    agent.post(link, data={"csrf_token": csrf_from(agent.get(link).get_data(as_text=True))})
    page = agent.get(f"/requests/{req.reference}").get_data(as_text=True)
    assert question in page and 'name="attachment"' in page
    resp = agent.post(f"/requests/{req.reference}/answer", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "body": "Here is the whole page.",
        "attachment": (io.BytesIO(files.png(8, 8)), "whole page.png")})
    assert resp.status_code == 303
    back = get_case(app, req.reference)
    assert (back.status, back.hold_reason) == ("on_hold", "agent_authorization")
    docs = _rows(app, Document, purpose="authorization")
    assert [d.original_name for d in docs] == ["signed letter.pdf", "whole page.png"]
    assert docs[1].uploaded_by == "agent" and docs[1].request_id == req.id
    page = staff.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert f'/documents/{docs[1].id}/preview' in page and "sent with an answer" in page
    assert _accept(staff, req.reference, page=page).status_code == 303
    assert get_case(app, req.reference).status == "on_hold"  # accepted, then matched: no index here
