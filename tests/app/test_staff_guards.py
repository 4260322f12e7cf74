"""Legally wrong answers are not one click away: only the bases that can be true for the case, no
outcome chosen in advance, a review step that shows the exact mail (or the letter) before it goes,
and refusals that say why and what to do."""
import re
from html import unescape

from sqlalchemy import select

from portal import clock, db
from portal.lifecycle import local_date
from portal.models import AuditEvent, IdentityCheck, OutboxMessage, PostalLetter, PrivacyRequest, VerificationAttempt
from portal.services.cases import casework, submission

from ..support import body, get_case, make_staff, new_case, post_action, post_form, sign_in


def _support(app, client):
    sign_in(client, make_staff(app, "support"))
    return client


def _verified_by_index(app, reference):
    with app.app_context():
        s = db.session()
        req = s.execute(select(PrivacyRequest).where(PrivacyRequest.reference == reference)).scalar_one()
        s.add(VerificationAttempt(request_id=req.id, subject_key="S-1", matched="email,name_dob", required=2,
                                  outcome="verified"))
        s.commit()


def _basis_options(page: str) -> list[str]:
    select_html = re.search(r'<select[^>]*name="deny-basis".*?</select>', page, re.S).group(0)
    return re.findall(r'<option[^>]*value="([^"]*)"', select_html)


def _outbox(app):
    """The staff's answers queued (not the submission's own link or acknowledgement)."""
    with app.app_context():
        return db.session().execute(select(OutboxMessage).where(OutboxMessage.template.not_in(
            ("verify", "acknowledgement"))).order_by(OutboxMessage.id)).scalars().all()


def test_a_verified_case_never_offers_identity_could_not_be_verified(app, client):
    _support(app, client)
    unverified = new_case(app, "delete", email="a@example.org")
    assert "unverifiable" in _basis_options(client.get(f"/staff/requests/{unverified.reference}").get_data(as_text=True))
    verified = new_case(app, "delete", "in_progress", email="b@example.org")
    page = client.get(f"/staff/requests/{verified.reference}").get_data(as_text=True)
    assert "unverifiable" not in _basis_options(page) and "legal_obligation" in _basis_options(page)
    assert "could not be verified" not in page.split('name="deny-basis"')[1].split("</select>")[0]
    resp = post_action(client, verified.reference, "deny", {"basis": "unverifiable", "explanation": "No match.",
                                                          "categories": "All"}, page=page)
    assert resp.status_code == 422 and "Choose one of the bases listed" in resp.get_data(as_text=True)
    assert get_case(app, verified.reference).status == "in_progress" and not _outbox(app)


def test_a_case_matched_by_the_index_or_by_hand_counts_as_verified_while_on_hold(app, client):
    staff = make_staff(app, "support")
    sign_in(client, staff)
    held = new_case(app, "access", "on_hold", email="c@example.org", hold_reason="information_requested")
    assert "unverifiable" in _basis_options(client.get(f"/staff/requests/{held.reference}").get_data(as_text=True))
    _verified_by_index(app, held.reference)
    assert "unverifiable" not in _basis_options(client.get(f"/staff/requests/{held.reference}").get_data(as_text=True))
    other = new_case(app, "access", "on_hold", email="d@example.org", hold_reason="information_requested")
    with app.app_context():
        s = db.session()
        s.add(IdentityCheck(request_id=get_case(app, other.reference).id, staff_id=staff.id, data_points="phone:phone_call"))
        s.commit()
    assert "unverifiable" not in _basis_options(client.get(f"/staff/requests/{other.reference}").get_data(as_text=True))


def test_duplicate_is_offered_only_for_a_repeated_request(app, client):
    _support(app, client)
    first = new_case(app, "access", "in_progress", email="e@example.org")
    assert "duplicate" not in _basis_options(client.get(f"/staff/requests/{first.reference}").get_data(as_text=True))
    with app.app_context():  # the same person asked before (the first case closed)
        s = db.session()
        case = s.get(PrivacyRequest, get_case(app, first.reference).id)
        case.status = "completed"
        s.commit()
    second = new_case(app, "access", "in_progress", email="e@example.org")
    assert "duplicate" in _basis_options(client.get(f"/staff/requests/{second.reference}").get_data(as_text=True))


def test_no_outcome_is_chosen_in_advance_and_none_chosen_is_a_form_error(app, client):
    _support(app, client)
    req = new_case(app, "access", "in_progress", email="f@example.org")
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    radios = re.findall(r'<input[^>]*name="complete-outcome"[^>]*>', page)
    assert len(radios) == 2 and not any("checked" in r for r in radios)
    resp = post_action(client, req.reference, "complete", {"message": "Here is your answer.", "answer_categories": "Identifiers",
                                                          "answer_sources": "You", "answer_purposes": "Billing"},
                       page=page, review=True)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Choose the outcome: complied in whole, or in part." in body
    assert 'id="action-complete" name="case-action" open' in body  # the form with the error is the open one
    assert get_case(app, req.reference).status == "in_progress" and not _outbox(app)


def test_the_review_step_shows_the_exact_mail_and_sends_only_on_send(app, client, mailbox):
    _support(app, client)
    req = new_case(app, "delete", "in_progress", email="jane.doe@example.com")
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    data = {"basis": "legal_obligation", "explanation": "We must keep your claim file for seven years.\nBy law.",
            "categories": "Claim file"}
    review = post_action(client, req.reference, "deny", data, page=page, review=True)
    html = review.get_data(as_text=True)
    assert review.status_code == 200 and "Check the denial before it goes" in html
    assert "Send to jane.doe@example.com" in html
    assert "We must keep your claim file for seven years." in html and "§1798.145(a)(1)" in html
    assert f"Our answer to request {req.reference}" in html
    assert get_case(app, req.reference).status == "in_progress" and not _outbox(app)  # nothing sent yet
    # "Change it" brings the form back filled in, nothing sent.
    send_form = html.split('<div class="review-buttons">')[1].split("</form>")[0]
    fields = {k: unescape(v) for k, v in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', send_form)}
    assert fields["deny-explanation"] == data["explanation"] and fields["step"] == "send"
    send = fields
    resp = client.post(f"/staff/requests/{req.reference}/actions/deny", data=send)
    assert resp.status_code == 303
    assert get_case(app, req.reference).status == "denied"
    assert "We must keep your claim file for seven years." in body(mailbox.last("jane.doe@example.com"))
    follow = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "queued and goes out within a minute" in follow and "jane.doe@example.com" in follow


def test_the_review_is_in_the_requesters_language(app, client):
    _support(app, client)
    req = new_case(app, "delete", "in_progress", email="maria@example.org", language="es")
    html = post_action(client, req.reference, "extend", {"days": "30", "reason": "Muchos sistemas."},
                       review=True).get_data(as_text=True)
    assert "Spanish" in html and "Muchos sistemas." in html
    assert f"Necesitamos más tiempo para la solicitud {req.reference}" in html and "Hola, Ana" in html


def test_a_stale_version_on_send_changes_nothing(app, client):
    _support(app, client)
    req = new_case(app, "delete", "in_progress", email="g@example.org")
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    post_action(client, req.reference, "extend", {"days": "10", "reason": "Many systems."}, page=page)
    resp = post_action(client, req.reference, "deny", {"basis": "legal_obligation", "explanation": "x",
                                                      "categories": "y"}, page=page)
    assert resp.status_code == 409 and "someone else acted on it" in resp.get_data(as_text=True)
    assert get_case(app, req.reference).status == "in_progress"


def _postal_case(app, client):
    data = {"manner": "mail", "received_on": local_date(clock.now()).isoformat(), "request_type": "access",
            "access_scope": "categories", "lookback": "12_months", "first_name": "Luis", "last_name": "Ortega",
            "email": "", "postal_address": "12 Main St, Fontana CA 92335", "confirmed_by": "letter",
            "acknowledged_by": "letter"}
    assert post_form(client, "/staff/requests/new", data).status_code == 303
    with app.app_context():
        req = db.session().execute(select(PrivacyRequest)).scalar_one()
    return req


def test_a_postal_requester_gets_a_letter_and_the_console_never_says_sent(app, client):
    _support(app, client)
    req = _postal_case(app, client)
    post_action(client, req.reference, "verify", {"source_name_dob": "phone_call", "source_postal_address": "document",
                                                 "source_claim_number": "claim_file"})
    assert get_case(app, req.reference).status == "in_progress"
    data = {"outcome": "completed", "message": "Here are the categories we hold.", "answer_categories": "Identifiers",
            "answer_sources": "Your employer", "answer_purposes": "Billing"}
    review = post_action(client, req.reference, "complete", data, review=True).get_data(as_text=True)
    assert "Record a letter to the postal address" in review and "Send to" not in review
    assert "12 Main St, Fontana CA 92335" in review and "Here are the categories we hold." in review
    resp = post_action(client, req.reference, "complete", data)
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "No email was sent" in page and "was sent to the requester" not in page
    with app.app_context():
        letter = db.session().execute(select(PostalLetter).order_by(PostalLetter.id.desc())).scalars().first()
    assert "Here are the categories we hold." in letter.body and letter.sent_on is None
    assert letter.subject in client.get("/staff/letters").get_data(as_text=True)
    assert not _outbox(app)


def test_too_few_points_by_hand_says_why_not_that_the_case_changed(app, client):
    _support(app, client)
    req = new_case(app, "correct", email="h@example.org")
    with app.app_context():
        s = db.session()
        case = s.get(PrivacyRequest, get_case(app, req.reference).id)
        case.correction_points = "phone"
        s.commit()
    resp = post_action(client, req.reference, "verify", {"source_phone": "phone_call", "source_email": "phone_call"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "changed since you opened it" not in html
    assert "matching data points" in html and "cannot verify it" in html and "Ask the requester for information" in html
    assert get_case(app, req.reference).status == "verifying"


def test_taking_a_case_is_on_record_and_leaves_its_version(app, client):
    staff = make_staff(app, "support")
    sign_in(client, staff)
    req = new_case(app, "access", "in_progress", email="i@example.org")
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    version = get_case(app, req.reference).version
    token = re.search(r'action="/staff/requests/[^"]+/assignee"[^>]*>\s*<input[^>]*name="csrf_token"[^>]*value="([^"]+)"',
                      page).group(1)
    resp = client.post(f"/staff/requests/{req.reference}/assignee", data={"csrf_token": token, "assignee": "me"})
    assert resp.status_code == 303 and get_case(app, req.reference).assignee_id == staff.id
    assert get_case(app, req.reference).version == version  # a colleague's open form is not made stale
    assert "Unassign" in client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    mine = client.get("/staff/?assignee=mine").get_data(as_text=True)
    assert req.reference in mine and "Taken by" in mine
    assert req.reference not in client.get("/staff/?assignee=unassigned").get_data(as_text=True)
    client.post(f"/staff/requests/{req.reference}/assignee", data={"csrf_token": token, "assignee": "none"})
    assert get_case(app, req.reference).assignee_id is None
    assert req.reference in client.get("/staff/?assignee=unassigned").get_data(as_text=True)
    with app.app_context():
        actions = db.session().execute(select(AuditEvent.action).where(AuditEvent.request_id == req.id)).scalars().all()
    assert "case_taken" in actions and "case_unassigned" in actions
    bad = client.post(f"/staff/requests/{req.reference}/assignee", data={"assignee": "me"})
    assert bad.status_code in (400, 303) and get_case(app, req.reference).assignee_id is None


def test_search_finds_a_name_without_its_accents_and_an_email_in_any_case(app, client):
    _support(app, client)
    jose = new_case(app, "delete", "in_progress", email="jose.r@example.org", first_name="José", last_name="Ramírez Gómez")
    closed = new_case(app, "access", "in_progress", email="old.case@example.org", first_name="Zoë", last_name="Núñez")
    with app.app_context():
        s = db.session()
        s.get(PrivacyRequest, get_case(app, closed.reference).id).status = "completed"
        s.commit()
    for q in ("Jose", "jose ramirez", "GOMEZ", "José Gómez"):
        assert jose.reference in client.get("/staff/", query_string={"q": q}).get_data(as_text=True), q
    assert jose.reference in client.get("/staff/", query_string={"q": "JOSE.R@Example.ORG"}).get_data(as_text=True)
    hidden = client.get("/staff/", query_string={"q": "old.case@example.org"}).get_data(as_text=True)
    assert closed.reference not in hidden and "1 more match in other statuses" in hidden
    assert closed.reference in client.get("/staff/", query_string={"q": "Zoe Nunez", "status": "all"}).get_data(as_text=True)


def test_a_reply_is_flagged_until_staff_mark_it_read_or_act(app, client):
    _support(app, client)
    req = new_case(app, "delete", email="j@example.org")
    assert post_action(client, req.reference, "request_info", {"message": "Which claim?"}).status_code == 303
    assert "badge-replied" not in client.get("/staff/").get_data(as_text=True)
    with app.test_request_context():
        s = db.session()
        casework.answer_information(s, req=submission.get_by_reference(s, req.reference), body="Claim WC-7.")
    assert "badge-replied" in client.get("/staff/").get_data(as_text=True)
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Mark as read" in page and "Claim WC-7." in page.split('class="case-summary"')[1].split("</section>")[0]
    assert "badge-replied" in client.get("/staff/").get_data(as_text=True)  # opening the page writes nothing
    token = re.search(r'/read"[^>]*>\s*<input[^>]*value="([^"]+)"', page).group(1)
    assert client.post(f"/staff/requests/{req.reference}/read", data={"csrf_token": token}).status_code == 303
    assert "badge-replied" not in client.get("/staff/").get_data(as_text=True)
