"""The case page and every case action through the test client: access rules, actions, refusals,
extension edges, optimistic locking, the requester's side (answers, downloads) and the mail sent."""
import io
import re
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from portal import clock, db
from portal.lifecycle import local_date
from portal.models import (
    AuditEvent,
    CaseNote,
    CaseOutcome,
    ContestedStatement,
    IdentityCheck,
    OutboxMessage,
    PrivacyRequest,
    RequestMessage,
    ResponseDownload,
    ResponseFile,
)

from ..support import (
    body,
    csrf_from,
    days_ago,
    get_case,
    hidden,
    link_in,
    make_staff,
    new_case,
    post_action,
    post_form,
    request_form,
    sign_in,
)


@pytest.fixture
def staff(app):
    return {role: make_staff(app, role) for role in ("admin", "support", "viewer")}


@pytest.fixture
def as_support(client, staff):
    sign_in(client, staff["support"])
    return client


def _rows(app, model, **where):
    with app.app_context():
        stmt = select(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return db.session().execute(stmt).scalars().all()


def _open_status_page(client, mailbox, req):
    """The requester's way in: reference + email, the emailed magic link, then the button."""
    post_form(client, "/status", {"reference": req.reference, "email": req.email})
    link = link_in(mailbox.last(req.email), "/status/")
    page = client.get(link)
    resp = client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 303
    return client.get(f"/requests/{req.reference}").get_data(as_text=True)


# ---- who may do what -------------------------------------------------------------------------

ACTIONS = ["verify", "fraud_hold", "clear_hold", "request_info", "extend", "deny", "complete"]


def _routes(ref):
    gets = ["/staff/", f"/staff/?q={ref}", f"/staff/requests/{ref}", "/staff/requests/new", "/staff/metrics",
            "/staff/metrics?format=csv", "/staff/metrics?format=json", "/staff/records.csv?start=2026-01-01&end=2026-12-31"]
    posts = [f"/staff/requests/{ref}/actions/{a}" for a in ACTIONS] + [f"/staff/requests/{ref}/notes", "/staff/requests/new"]
    return gets, posts


READ = {"/staff/", "/staff/?q=", "/staff/requests/"}


def _expected(role, method, url):
    if role in ("signed_out", "requester"):
        return 302
    if method == "POST":
        return 403 if role == "viewer" else None  # None: allowed through (then form rules apply)
    if "/metrics" in url or "/records.csv" in url:
        return 200 if role == "admin" else 403
    if url == "/staff/requests/new":
        return 403 if role == "viewer" else 200
    return 200


@pytest.mark.parametrize("role", ["admin", "support", "viewer", "signed_out", "requester"])
def test_role_route_matrix(app, client, staff, mailbox, role):
    req = new_case(app, "access")
    if role == "requester":
        _open_status_page(client, mailbox, req)  # a real status session for this very case
    elif role != "signed_out":
        sign_in(client, staff[role])
    gets, posts = _routes(req.reference)
    # A valid CSRF token for this browser, so the role check (not CSRF) is what answers the posts.
    token = csrf_from(client.get("/status").get_data(as_text=True))
    for url in gets:
        resp = client.get(url)
        assert resp.status_code == _expected(role, "GET", url), (role, url)
        if resp.status_code == 302:
            assert resp.headers["Location"].startswith("/staff/login"), url
    for url in posts:
        resp = client.post(url, data={}, headers={"X-CSRFToken": token})
        expected = _expected(role, "POST", url)
        if expected is None:
            assert resp.status_code not in (302, 403), (role, url, resp.status_code)
        else:
            assert resp.status_code == expected, (role, url)
    # Nothing anybody posted without a valid form changed the case.
    assert get_case(app, req.reference).status == "verifying"
    assert _rows(app, CaseNote) == []


def test_unknown_case_is_404_for_staff(app, as_support):
    assert as_support.get("/staff/requests/PR-0000-0000").status_code == 404
    assert as_support.get("/staff/requests/not-a-reference").status_code == 404
    csrf = {"X-CSRFToken": csrf_from(as_support.get("/status").get_data(as_text=True))}
    assert as_support.post("/staff/requests/PR-0000-0000/actions/deny", data={}, headers=csrf).status_code == 404
    req = new_case(as_support.application, "access")
    assert as_support.post(f"/staff/requests/{req.reference}/actions/delete_everything", data={},
                           headers=csrf).status_code == 404


def test_a_staff_session_does_not_open_a_requesters_status_page(app, as_support):
    req = new_case(app, "access")
    assert as_support.get(f"/requests/{req.reference}").status_code == 403


def test_viewer_reads_but_sees_no_action_forms(app, client, staff):
    req = new_case(app, "access")
    sign_in(client, staff["viewer"])
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "read-only access" in page and "Ana" in page
    assert "/actions/" not in page and "/notes\"" not in page
    client = app.test_client()
    sign_in(client, staff["support"])
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    for action in ("verify", "request_info", "fraud_hold", "extend", "deny"):
        assert f"/actions/{action}\"" in page
    assert "/actions/complete\"" not in page and "/actions/clear_hold\"" not in page


def test_forms_shown_follow_the_lifecycle(app, as_support):
    shown = lambda ref: set(re.findall(r"/actions/(\w+)\"", as_support.get(f"/staff/requests/{ref}").get_data(as_text=True)))  # noqa: E731
    # A verification hold: verify by hand, ask, suspect fraud, release, extend or deny.
    assert shown(new_case(app, "access", "on_hold").reference) == {"verify", "request_info", "clear_hold",
                                                                   "extend", "deny"}
    assert shown(new_case(app, "access", "on_hold", email="f@example.org", hold_reason="fraud_suspected").reference) == {
        "verify", "clear_hold", "extend", "deny"}
    assert shown(new_case(app, "delete", "in_progress", email="b@example.org").reference) == {"complete", "extend", "deny"}
    assert shown(new_case(app, "opt_out", "in_progress", email="c@example.org").reference) == {"complete", "deny"}
    assert shown(new_case(app, "access", "awaiting_email", email="d@example.org").reference) == {"extend"}
    late = new_case(app, "access", email="e@example.org", received_at=days_ago(50))
    assert "extend" not in shown(late.reference)


# ---- verification and holds ------------------------------------------------------------------

def test_verify_identity_needs_the_tier_and_records_who_checked(app, as_support, staff):
    req = new_case(app, "access")
    resp = post_action(as_support, req.reference, "verify", {"source_email": "claim_file"})
    assert resp.status_code == 422 and "at least 2 matching data points" in resp.get_data(as_text=True)
    assert get_case(app, req.reference).status == "verifying"

    resp = post_action(as_support, req.reference, "verify", {"source_email": "claim_file", "source_claim_number": "claim_file", "note": "Matched claim file"})
    assert resp.status_code == 303
    assert get_case(app, req.reference).status == "in_progress"
    [check] = _rows(app, IdentityCheck)
    assert check.staff_id == staff["support"].id and check.data_points == "claim_number:claim_file,email:claim_file"
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "support@billgenix.example" in page and "Claim or account number" in page


def test_specific_pieces_need_three_data_points(app, as_support):
    req = new_case(app, "access", access_scope="specific")
    resp = post_action(as_support, req.reference, "verify", {"source_email": "claim_file", "source_phone": "phone_call"})
    assert resp.status_code == 422 and "at least 3" in resp.get_data(as_text=True)
    resp = post_action(as_support, req.reference, "verify", {"source_email": "claim_file", "source_phone": "phone_call", "source_name_dob": "document"})
    assert resp.status_code == 303 and get_case(app, req.reference).status == "in_progress"


def test_fraud_hold_and_clearing_it(app, as_support, mailbox):
    req = new_case(app, "delete")
    mailbox.deliver()
    before = len(mailbox.read())
    assert post_action(as_support, req.reference, "fraud_hold", {"reason": ""}).status_code == 422
    resp = post_action(as_support, req.reference, "fraud_hold", {"reason": "Email domain registered yesterday"})
    assert resp.status_code == 303
    held = get_case(app, req.reference)
    assert (held.status, held.hold_reason) == ("on_hold", "fraud_suspected")
    assert len(mailbox.messages) == before  # no tip-off mail
    resp = post_action(as_support, req.reference, "clear_hold", {"reason": "Phone call confirmed identity"})
    assert resp.status_code == 303
    cleared = get_case(app, req.reference)
    assert (cleared.status, cleared.hold_reason) == ("verifying", None)
    notes = [n.body for n in _rows(app, CaseNote)]
    assert notes == ["Fraud hold: Email domain registered yesterday", "Hold cleared: Phone call confirmed identity"]
    actions = [e.action for e in _rows(app, AuditEvent, request_id=req.id)]
    assert actions[-2:] == ["fraud_hold", "hold_cleared"]


# ---- request information and the requester's answer ------------------------------------------

def test_request_information_then_the_requester_answers(app, as_support, mailbox):
    req = new_case(app, "access")
    resp = post_action(as_support, req.reference, "request_info",
                       {"message": "Please tell us the claim number on your last invoice."})
    assert resp.status_code == 303
    held = get_case(app, req.reference)
    assert (held.status, held.hold_reason) == ("on_hold", "information_requested")
    mail = mailbox.last(req.email)
    assert req.reference in mail["Subject"] and "claim number on your last invoice" in body(mail)
    assert "http://portal.test/status" in body(mail)

    requester = app.test_client()
    page = first_page = _open_status_page(requester, mailbox, req)
    assert "Answer our question" in page and "claim number on your last invoice" in page
    resp = requester.post(f"/requests/{req.reference}/answer", data={"csrf_token": csrf_from(page), "body": ""})
    assert resp.status_code == 422 and "Please enter your answer" in resp.get_data(as_text=True)
    resp = requester.post(f"/requests/{req.reference}/answer",
                          data={"csrf_token": csrf_from(page), "body": "It is WC-2291-88."})
    assert resp.status_code == 303
    answered = get_case(app, req.reference)
    assert (answered.status, answered.hold_reason) == ("verifying", None)
    msgs = [(m.direction, m.body) for m in _rows(app, RequestMessage, request_id=req.id)]
    assert msgs == [("to_requester", "Please tell us the claim number on your last invoice."),
                    ("from_requester", "It is WC-2291-88.")]
    # The form is gone and a second answer is refused.
    page = requester.get(f"/requests/{req.reference}").get_data(as_text=True)
    assert "Answer our question" not in page and "It is WC-2291-88." in page
    again = requester.post(f"/requests/{req.reference}/answer", data={"csrf_token": csrf_from(first_page), "body": "More"})
    assert again.status_code == 303 and len(_rows(app, RequestMessage, request_id=req.id)) == 2
    staff_page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "From the requester:" in staff_page and "It is WC-2291-88." in staff_page


def test_another_requester_cannot_answer(app, client, mailbox):
    req = new_case(app, "access")
    other = new_case(app, "access", email="other@example.org")
    with app.app_context():
        s = db.session()
        from portal.services.cases import submission as rs
        r = rs.get_by_reference(s, req.reference)
        rs.transition(s, r, "on_hold", actor="system", hold_reason="information_requested")
        s.commit()
    _open_status_page(client, mailbox, other)
    token = csrf_from(client.get("/status").get_data(as_text=True))
    resp = client.post(f"/requests/{req.reference}/answer", data={"csrf_token": token, "body": "x"})
    assert resp.status_code == 403 and get_case(app, req.reference).status == "on_hold"


# ---- extension ---------------------------------------------------------------------------------

def test_extension_once_with_reason_mailed(app, as_support, mailbox):
    req = new_case(app, "access")
    assert post_action(as_support, req.reference, "extend", {"days": "46", "reason": "Archive"}).status_code == 422
    assert post_action(as_support, req.reference, "extend", {"days": "0", "reason": "Archive"}).status_code == 422
    assert post_action(as_support, req.reference, "extend", {"days": "30", "reason": ""}).status_code == 422
    resp = post_action(as_support, req.reference, "extend", {"days": "30", "reason": "Claim files are in off-site archive."})
    assert resp.status_code == 303
    extended = get_case(app, req.reference)
    assert extended.extended_due == extended.response_due + timedelta(days=30)
    mail = mailbox.last(req.email)
    assert "off-site archive" in body(mail) and "More time needed" in mail["Subject"]
    # Once only: the form is gone, and a forged post is refused with the fresh state.
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "/actions/extend\"" not in page
    resp = as_support.post(f"/staff/requests/{req.reference}/actions/extend",
                           data={"extend-csrf_token": csrf_from_prefixed(page), "extend-version": str(extended.version), "extend-days": "5",
                                 "extend-reason": "again"})
    assert resp.status_code == 409
    assert get_case(app, req.reference).extended_due == extended.extended_due


def test_extension_allowed_on_the_due_date_refused_the_day_after(app, as_support):
    # Received 45 California days ago (at noon there, whatever the hour and the clock change since):
    # today is the original due date.
    def days_ago_at_noon(n):
        return datetime.combine(clock.today() - timedelta(days=n), time(12), clock.PACIFIC)
    on_time = new_case(app, "access", received_at=days_ago_at_noon(45))
    assert get_case(app, on_time.reference).response_due == clock.today()
    assert post_action(as_support, on_time.reference, "extend", {"days": "45", "reason": "Volume"}).status_code == 303
    late = new_case(app, "access", email="late@example.org", received_at=days_ago_at_noon(46))
    page = as_support.get(f"/staff/requests/{late.reference}").get_data(as_text=True)
    assert "/actions/extend\"" not in page
    resp = as_support.post(f"/staff/requests/{late.reference}/actions/extend", data={
        "extend-csrf_token": csrf_from_prefixed(page), "extend-version": str(late.version),
        "extend-days": "10", "extend-reason": "Too late"})
    assert resp.status_code == 409 and get_case(app, late.reference).extended_due is None


def csrf_from_prefixed(page):
    match = re.search(r'name="note-csrf_token" type="hidden" value="([^"]+)"', page)
    return match.group(1)


# ---- denial --------------------------------------------------------------------------------------

def test_deny_needs_a_basis_and_an_explanation_the_requester_receives(app, as_support, mailbox):
    req = new_case(app, "delete")
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "The requester will see the basis, its citation and your explanation" in page
    assert "§1798.146(a)(1)(A)" in page and "§1798.146(a)(1)(A), (C)" in page
    assert "§10102" not in page  # the workers' compensation basis is off by default
    resp = post_action(as_support, req.reference, "deny", {"basis": "made_up", "explanation": "x", "categories": "x"})
    assert resp.status_code == 422 and "Choose one of the bases listed" in resp.get_data(as_text=True)
    resp = post_action(as_support, req.reference, "deny", {"basis": "exempt_cmia", "explanation": "",
                                                           "categories": "Medical reports"})
    assert resp.status_code == 422
    resp = post_action(as_support, req.reference, "deny", {"basis": "exempt_cmia", "explanation": "Kept.",
                                                           "categories": ""})
    assert resp.status_code == 422 and "Name the categories" in resp.get_data(as_text=True)
    explanation = "The treating physician reports are medical information under the CMIA."
    resp = post_action(as_support, req.reference, "deny", {"basis": "exempt_cmia", "explanation": explanation,
                                                           "categories": "Medical reports from claim WC-1"})
    assert resp.status_code == 303
    denied = get_case(app, req.reference)
    assert (denied.status, denied.outcome_code) == ("denied", "exempt_cmia")
    assert denied.outcome_citation == "Cal. Civ. Code §1798.146(a)(1)(A)" and denied.closed_at is not None
    mail = mailbox.last(req.email)
    assert "Our answer to request" in mail["Subject"]
    text = body(mail)
    assert explanation in text and "Legal basis: Cal. Civ. Code §1798.146(a)(1)(A)" in text
    assert "Medical information governed by the CMIA" in text
    assert "The personal information this covers: Medical reports from claim WC-1" in text
    assert "We use the information we keep only for the purpose of this exception." in text
    [outcome] = _rows(app, CaseOutcome)
    assert outcome.outcome == "denied" and outcome.basis_code == "exempt_cmia"
    assert outcome.covered_categories == "Medical reports from claim WC-1"
    # The requester sees it on the status page too.
    requester = app.test_client()
    page = _open_status_page(requester, mailbox, denied)
    assert explanation in page and "§1798.146(a)(1)(A)" in page and "Medical reports from claim WC-1" in page
    # Nothing more can be done.
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "/actions/" not in page and "No actions are possible" in page


def test_denial_bases_come_from_configuration(app_config, request):
    app_config["DENIAL_BASES"] = [{"code": "counsel_only", "label": "Counsel's own basis", "citation": "Test §1"}]
    app, client = request.getfixturevalue("app"), request.getfixturevalue("client")
    sign_in(client, make_staff(app, "support"))
    req = new_case(app, "access")
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Counsel&#39;s own basis (Test §1)" in page and "§1798.146" not in page
    assert post_action(client, req.reference, "deny", {"basis": "counsel_only", "explanation": "Because.",
                                                       "categories": "All"}).status_code == 303
    assert get_case(app, req.reference).outcome_citation == "Test §1"


@pytest.mark.parametrize(("kind", "citation"), [("opt_out", "§7026(e)"), ("limit", "§7027(d)")])
def test_opt_out_and_limit_no_extension_and_only_documented_fraud(app, as_support, mailbox, kind, citation):
    """§7026, §7027, §7060(b): no extension, no "unverifiable"; only fraud, with the reason written."""
    req = new_case(app, kind, "in_progress")
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "/actions/extend\"" not in page
    deny_form = page[page.index('/actions/deny"'):]
    deny_form = deny_form[:deny_form.index("</form>")]
    assert re.findall(r'<option[^>]*value="(\w+)"', deny_form) == ["fraud_suspected"]
    assert citation in deny_form and "Identity could not be verified" not in deny_form
    resp = as_support.post(f"/staff/requests/{req.reference}/actions/extend", data={
        "extend-csrf_token": hidden(page, "deny-csrf_token"), "extend-version": str(req.version),
        "extend-days": "10", "extend-reason": "Busy."})
    assert resp.status_code == 409 and get_case(app, req.reference).extended_due is None
    resp = post_action(as_support, req.reference, "deny", {"basis": "unverifiable", "explanation": "No match.",
                                                           "categories": "All"}, page=page)
    assert resp.status_code == 422 and get_case(app, req.reference).status == "in_progress"
    resp = post_action(as_support, req.reference, "deny", {"basis": "fraud_suspected", "explanation": "",
                                                           "categories": "All"}, page=page)
    assert resp.status_code == 422
    reason = "Submitted 400 times in an hour from one address with made-up names (log ref 12)."
    resp = post_action(as_support, req.reference, "deny", {"basis": "fraud_suspected", "explanation": reason,
                                                           "categories": "Browsing identifiers"}, page=page)
    assert resp.status_code == 303
    done = get_case(app, req.reference)
    assert (done.status, done.outcome_code) == ("denied", "fraud_suspected") and citation in done.outcome_citation
    assert reason in body(mailbox.last(req.email))


def test_the_workers_compensation_basis_is_turned_on_by_configuration(app_config, request):
    app_config["DENIAL_BASIS_OVERRIDES"] = {"legal_retention_wc": {"enabled": True, "citation": "Counsel's §10102 cite"}}
    app, client = request.getfixturevalue("app"), request.getfixturevalue("client")
    sign_in(client, make_staff(app, "support"))
    req = new_case(app, "delete")
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Counsel&#39;s §10102 cite" in page and "Check with counsel" in page
    assert post_action(client, req.reference, "deny", {"basis": "legal_retention_wc", "explanation": "Kept.",
                                                       "categories": "Claim file"}, page=page).status_code == 303
    assert get_case(app, req.reference).outcome_citation == "Counsel's §10102 cite"


# ---- completion ------------------------------------------------------------------------------

def test_complete_a_deletion_with_what_was_deleted_and_kept(app, as_support, mailbox):
    req = new_case(app, "delete", "in_progress")
    resp = post_action(as_support, req.reference, "complete", {"outcome": "completed", "message": "Done."})
    assert resp.status_code == 422 and "Say what was deleted" in resp.get_data(as_text=True)
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "partially_completed", "message": "We deleted what the law lets us delete.",
        "deleted_summary": "Marketing contacts and portal account.", "kept_summary": "", "kept_basis": ""})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Choose the exception" in text and "Say what was kept" in text
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "partially_completed", "message": "We deleted what the law lets us delete.",
        "deleted_summary": "Marketing contacts and portal account.",
        "kept_summary": "Medical billing records for claim WC-1, held as HIPAA protected health information.",
        "kept_basis": "exempt_hipaa_phi", "covered_categories": ""})
    assert resp.status_code == 422 and "Name the categories" in resp.get_data(as_text=True)
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "partially_completed", "message": "We deleted what the law lets us delete.",
        "deleted_summary": "Marketing contacts and portal account.",
        "kept_summary": "Medical billing records for claim WC-1, held as HIPAA protected health information.",
        "kept_basis": "exempt_hipaa_phi", "covered_categories": "Billing records with diagnosis codes"})
    assert resp.status_code == 303
    done = get_case(app, req.reference)
    assert (done.status, done.outcome_code) == ("partially_completed", "exempt_hipaa_phi")
    assert done.outcome_citation == "Cal. Civ. Code §1798.146(a)(1)(A), (C)"
    mail = mailbox.last(req.email)
    text = body(mail)
    assert "completed part of your request" in text and "Marketing contacts and portal account." in text
    assert "Medical billing records for claim WC-1" in text and "§1798.146(a)(1)(A), (C)" in text
    assert "The personal information this covers: Billing records with diagnosis codes" in text
    assert "We use the information we keep only for the purpose of this exception." in text
    [outcome] = _rows(app, CaseOutcome)
    assert outcome.deleted_summary.startswith("Marketing") and outcome.kept_summary.startswith("Medical")
    page = _open_status_page(app.test_client(), mailbox, done)
    assert "What we deleted" in page and "Marketing contacts and portal account." in page
    assert "Medical billing records for claim WC-1" in page and "§1798.146(a)" in page


def test_correction_outcomes_and_the_contested_statement(app, as_support, mailbox):
    fixed = new_case(app, "correct", "in_progress")
    assert post_action(as_support, fixed.reference, "complete", {"outcome": "completed", "message": "Fixed."}).status_code == 422
    resp = post_action(as_support, fixed.reference, "complete", {
        "outcome": "completed", "correction_result": "corrected", "message": "Your address now reads 2 New Ave.",
        "assessment": "The lease you sent shows 2 New Ave; our record came from a 2019 claim form.",
        "corrected_details": "Address: 2 New Ave"})
    assert resp.status_code == 303 and get_case(app, fixed.reference).status == "completed"
    assert _rows(app, CaseOutcome)[0].correction_result == "corrected"

    disputed = new_case(app, "correct", "in_progress", email="dispute@example.org")
    too_long = " ".join(["word"] * 251)
    resp = post_action(as_support, disputed.reference, "deny", {
        "basis": "legal_obligation", "explanation": "The record reflects the adjuster's finding.",
        "categories": "Claim file: injury date", "assessment": "The adjuster's report, the source of the date.",
        "contested_statement": too_long})
    assert resp.status_code == 422 and "at most 250 words" in resp.get_data(as_text=True)
    statement = "I dispute the injury date recorded; it was March 3, not March 5. " * 3
    resp = post_action(as_support, disputed.reference, "deny", {
        "basis": "legal_obligation", "explanation": "The record reflects the adjuster's finding.",
        "categories": "Claim file: injury date", "assessment": "The adjuster's report, the source of the date.",
        "contested_statement": statement})
    assert resp.status_code == 303
    [contested] = _rows(app, ContestedStatement)
    assert contested.statement == statement.strip()
    assert _rows(app, CaseOutcome, request_id=disputed.id)[0].correction_result == "not_corrected"
    assert "statement that the information is contested" in body(mailbox.last("dispute@example.org"))
    page = as_support.get(f"/staff/requests/{disputed.reference}").get_data(as_text=True)
    assert "the data is contested" in page and "March 3" in page


ACCESS_JSON = b'{"name": "Ana Ruiz", "claims": [{"number": "WC-1", "status": "closed"}]}'
ACCESS_CSV = b"category,value\nname,Ana Ruiz\nclaim,WC-1\n"


def test_access_response_files_encrypted_downloaded_recorded_and_expiring(app, as_support, mailbox):
    req = new_case(app, "access", "in_progress", access_scope="specific")
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Attached is what we hold.",
        "response_json": (io.BytesIO(b"{not json"), "r.json")},
        content_type="multipart/form-data")
    assert resp.status_code == 422 and "not valid JSON" in resp.get_data(as_text=True)
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Attached is what we hold.",
        "response_json": (io.BytesIO(ACCESS_JSON), "r.json"), "response_csv": (io.BytesIO(ACCESS_CSV), "r.csv")},
        content_type="multipart/form-data")
    assert resp.status_code == 303
    files = _rows(app, ResponseFile)
    assert [f.kind for f in files] == ["csv", "json"]
    stored = list((app.config.get("DOCUMENTS_PATH") and Path(app.config["DOCUMENTS_PATH"])
                   or Path(app.instance_path) / "documents").rglob("*"))
    blobs = [p.read_bytes() for p in stored if p.is_file()]
    assert len(blobs) == 2 and all(b"Ana Ruiz" not in b and b"WC-1" not in b for b in blobs)  # encrypted at rest
    assert "download as JSON and CSV files for 14 days" in body(mailbox.last(req.email))

    # Not without the requester's magic-link session.
    json_file = next(f for f in files if f.kind == "json")
    assert app.test_client().get(f"/requests/{req.reference}/files/{json_file.id}").status_code == 403
    requester = app.test_client()
    page = _open_status_page(requester, mailbox, get_case(app, req.reference))
    assert f"/requests/{req.reference}/files/{json_file.id}" in page
    got = requester.get(f"/requests/{req.reference}/files/{json_file.id}")
    assert got.status_code == 200 and got.data == ACCESS_JSON
    assert got.headers["Content-Disposition"].startswith(f'attachment; filename="{req.reference}-response.json"')
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    requester.get(f"/requests/{req.reference}/files/{json_file.id}")
    assert len(_rows(app, ResponseDownload)) == 2
    assert [e.action for e in _rows(app, AuditEvent, request_id=req.id)].count("document_downloaded") == 2
    staff_page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "downloaded 2 times" in staff_page

    # Another request's file id is refused, and after 14 days the file is gone.
    other = new_case(app, "opt_out", "in_progress", email="x@example.org")
    with app.app_context():
        s = db.session()
        row = s.get(ResponseFile, json_file.id)
        row.expires_at = clock.now() - timedelta(seconds=1)
        s.commit()
    assert requester.get(f"/requests/{req.reference}/files/{json_file.id}").status_code == 410
    assert requester.get(f"/requests/{other.reference}/files/{json_file.id}").status_code == 403
    assert "no longer available" in requester.get(f"/requests/{req.reference}").get_data(as_text=True)


def test_files_are_only_for_access_requests(app, as_support):
    req = new_case(app, "opt_out", "in_progress")
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Opted out.", "response_json": (io.BytesIO(ACCESS_JSON), "r.json")},
        content_type="multipart/form-data")
    assert resp.status_code == 422 and get_case(app, req.reference).status == "in_progress"
    assert post_action(as_support, req.reference, "complete", {"outcome": "completed", "message": "Opted out."}).status_code == 303


def test_a_response_file_with_an_ssn_is_refused_naming_the_field_or_masked(app, as_support, mailbox):
    """§7024(d): refused by default with the field named; masked to "collected: yes" on request."""
    req = new_case(app, "access", "in_progress", access_scope="specific")
    leaky = b'{"name": "Ana Ruiz", "ids": {"ssn": "123-45-6789"}}'
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Attached.", "response_json": (io.BytesIO(leaky), "r.json")},
        content_type="multipart/form-data")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "a Social Security number" in text and "ids.ssn" in text
    assert get_case(app, req.reference).status == "in_progress"
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Attached.", "sensitive": "mask",
        "response_json": (io.BytesIO(leaky), "r.json")}, content_type="multipart/form-data")
    assert resp.status_code == 303
    [row] = _rows(app, ResponseFile)
    requester = app.test_client()
    _open_status_page(requester, mailbox, get_case(app, req.reference))
    got = requester.get(f"/requests/{req.reference}/files/{row.id}").get_data(as_text=True)
    assert "123-45-6789" not in got and '"ssn": "collected: yes"' in got and "Ana Ruiz" in got


def test_a_categories_request_is_answered_with_the_structured_form(app, as_support, mailbox):
    req = new_case(app, "access", "in_progress")  # categories
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' not in page and "Categories of sources we collected it from" in page
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Here is what we hold.", "response_json": (io.BytesIO(b"{}"), "r.json")},
        content_type="multipart/form-data")
    assert resp.status_code == 422 and "Fill in this part" in resp.get_data(as_text=True)
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Here is what we hold.",
        "answer_categories": "Identifiers\nMedical information in bills", "answer_sources": "Your treating physician",
        "answer_purposes": "Billing your workers' compensation claim", "answer_recipients": "Claims administrators"})
    assert resp.status_code == 303
    text = body(mailbox.last(req.email))
    assert "Categories of personal information we collected about you:\n- Identifiers\n- Medical information in bills" in text
    assert "Categories of third parties we disclosed it to:\n- Claims administrators" in text
    page = _open_status_page(app.test_client(), mailbox, get_case(app, req.reference))
    assert "<li>Your treating physician</li>" in page and "<li>Medical information in bills</li>" in page


def test_a_correction_with_documents_assessment_partial_and_the_requesters_contested_statement(app, as_support, mailbox):
    """§7023: documents at submission, the assessment, a partial correction, then the requester files
    the contested statement from the status page after the case is closed; it stays with the record."""
    from ..files import PE, png
    form = app.test_client()
    resp = post_form(form, "/requests/new", {
        **request_form("correct", email="cor@example.org"), "correction_document": (io.BytesIO(PE), "scan.pdf")},
        content_type="multipart/form-data")
    assert resp.status_code == 422 and "PDF, PNG or JPEG" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session().execute(select(ContestedStatement)).first() is None
    resp = post_form(form, "/requests/new", {
        **request_form("correct", email="cor@example.org"), "correction_document": (io.BytesIO(png()), "lease.png")},
        content_type="multipart/form-data")
    assert resp.status_code == 303
    with app.app_context():
        from portal.services.cases import submission as rs
        req = db.session().execute(select(PrivacyRequest).where(PrivacyRequest.email == "cor@example.org")).scalar_one()
        from portal import lifecycle
        from portal.services.cases import transitions
        s = db.session()
        transitions.transition(s, req, lifecycle.VERIFYING, actor="requester")
        transitions.transition(s, req, lifecycle.IN_PROGRESS, actor="system")
        s.commit()
        reference = req.reference
        assert rs.get_by_reference(s, reference).status == "in_progress"
    page = as_support.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert "Documents sent with the correction request" in page and "lease.png" in page
    assert "What you considered (corrections)" in page
    partial = {"outcome": "partially_completed", "correction_result": "partially_corrected",
               "message": "We corrected your address; the injury date stays as the adjuster recorded it.",
               "kept_basis": "legal_obligation", "kept_summary": "The injury date", "covered_categories": "Claim file",
               "corrected_details": "Address: the new one in your lease"}
    resp = post_action(as_support, reference, "complete", {**partial, "assessment": ""})
    assert resp.status_code == 422 and "Record what you considered" in resp.get_data(as_text=True)
    resp = post_action(as_support, reference, "complete", {
        **partial, "assessment": "Your lease (address); the adjuster's first report, the source of the date."})
    assert resp.status_code == 303
    done = get_case(app, reference)
    assert done.status == "partially_completed"
    mail = body(mailbox.last("cor@example.org"))
    assert "file a statement of up to 250 words from your request page" in mail
    assert "What was considered" in as_support.get(f"/staff/requests/{reference}").get_data(as_text=True)

    requester = app.test_client()
    page = _open_status_page(requester, mailbox, done)
    assert "Tell us you contest the information" in page
    too_long = " ".join(["word"] * 251)
    resp = requester.post(f"/requests/{reference}/contest", data={"csrf_token": csrf_from(page), "statement": too_long})
    assert resp.status_code == 422 and "at most 250 words" in resp.get_data(as_text=True)
    assert requester.post(f"/requests/{reference}/contest", data={"statement": "No token"}).status_code == 400
    statement = "The injury happened on March 3; my doctor's note about my back strain shows it."
    resp = requester.post(f"/requests/{reference}/contest", data={"csrf_token": csrf_from(page), "statement": statement})
    assert resp.status_code == 303
    page = requester.get(f"/requests/{reference}").get_data(as_text=True)
    assert "Your statement: the information is contested" in page and "Tell us you contest" not in page
    [row] = _rows(app, ContestedStatement)
    assert row.filed_by == "requester" and row.staff_id is None and "March 3" in row.statement
    resp = requester.post(f"/requests/{reference}/contest", data={"csrf_token": csrf_from(page), "statement": "Again"})
    assert resp.status_code == 303 and len(_rows(app, ContestedStatement)) == 1
    staff_page = as_support.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert "Filed by the requester from their status page" in staff_page and "March 3" in staff_page
    # Someone else's session cannot file one.
    assert app.test_client().post(f"/requests/{reference}/contest", data={"statement": "x"}).status_code in (400, 403)


# ---- refused actions and optimistic locking ---------------------------------------------------

def test_action_not_allowed_from_this_status_is_refused(app, as_support):
    req = new_case(app, "access")  # verifying: "complete" is not a possible action
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    token = re.search(r'name="deny-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = as_support.post(f"/staff/requests/{req.reference}/actions/complete", data={
        "complete-csrf_token": token, "complete-version": str(req.version + 0), "complete-outcome": "completed",
        "complete-message": "x"})
    assert resp.status_code == 409 and get_case(app, req.reference).status == "verifying"


def test_missing_csrf_is_refused(app, as_support):
    req = new_case(app, "access")
    resp = as_support.post(f"/staff/requests/{req.reference}/actions/deny", data={
        "deny-version": str(get_case(app, req.reference).version), "deny-basis": "duplicate", "deny-explanation": "x"})
    assert resp.status_code == 400 and get_case(app, req.reference).status == "verifying"


def test_two_people_on_one_case_nothing_is_overwritten(app, client, staff, mailbox):
    req = new_case(app, "access")
    alice, bob = app.test_client(), app.test_client()
    sign_in(alice, staff["support"])
    sign_in(bob, staff["admin"])
    alice_page = alice.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    bob_page = bob.get(f"/staff/requests/{req.reference}").get_data(as_text=True)

    assert post_action(alice, req.reference, "verify", {"source_email": "claim_file", "source_phone": "phone_call"}, page=alice_page).status_code == 303
    resp = post_action(bob, req.reference, "deny", {"basis": "unverifiable", "explanation": "We could not match you.", "categories": "All"},
                       page=bob_page)
    assert resp.status_code == 409
    text = resp.get_data(as_text=True)
    assert "This case changed since you opened it" in text and "Nothing was saved" in text
    assert "In progress" in text  # the fresh state
    fresh = get_case(app, req.reference)
    assert fresh.status == "in_progress" and fresh.outcome_code is None and fresh.response_message is None
    assert _rows(app, CaseOutcome) == []
    assert not [m for m in mailbox.messages if "Our answer" in m["Subject"]]

    # Bob's stale extension is refused too, even though extending is still possible.
    resp = post_action(bob, req.reference, "extend", {"days": "10", "reason": "Busy"}, page=bob_page)
    assert resp.status_code == 409 and get_case(app, req.reference).extended_due is None
    # With the fresh page, it works.
    assert post_action(bob, req.reference, "extend", {"days": "10", "reason": "Busy"}).status_code == 303


def test_a_requester_withdrawing_meanwhile_wins(app, as_support, mailbox):
    req = new_case(app, "access", "on_hold")
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    with app.app_context():
        from portal.services.cases import submission as rs
        rs.withdraw(db.session(), req=rs.get_by_reference(db.session(), req.reference))
    resp = post_action(as_support, req.reference, "verify", {"source_email": "claim_file", "source_phone": "phone_call"}, page=page)
    assert resp.status_code == 409 and get_case(app, req.reference).status == "withdrawn"
    assert _rows(app, IdentityCheck) == []


# ---- notes -----------------------------------------------------------------------------------

def test_internal_notes_stay_internal(app, as_support, staff, mailbox):
    req = new_case(app, "access")
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    token = re.search(r'name="note-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert as_support.post(f"/staff/requests/{req.reference}/notes", data={"note-csrf_token": token, "note-body": ""}).status_code == 422
    resp = as_support.post(f"/staff/requests/{req.reference}/notes",
                           data={"note-csrf_token": token, "note-body": "Called the adjuster; awaiting file."})
    assert resp.status_code == 303
    [note] = _rows(app, CaseNote)
    assert note.staff_id == staff["support"].id
    event = _rows(app, AuditEvent, action="note_added")[0]
    assert event.detail is None  # the note's text stays out of the audit chain
    requester = app.test_client()
    assert "awaiting file" not in _open_status_page(requester, mailbox, req)


# ---- staff intake ------------------------------------------------------------------------------

def test_phone_intake_counts_deadlines_from_the_date_received(app, as_support, mailbox):
    received = local_date(clock.now()) - timedelta(days=10)
    data = {"manner": "phone", "received_on": received.isoformat(), "request_type": "access",
            "first_name": "Luis", "last_name": "Ortega", "email": "luis@example.org", "phone": "909 555 0100",
            "claim_number": "", "date_of_birth": "", "details": "Called on the toll-free line.",
            "access_scope": "categories", "lookback": "12_months", "confirmed_by": "phone", "acknowledged_by": "email"}
    resp = post_form(as_support, "/staff/requests/new", data)
    assert resp.status_code == 303
    [req] = _rows(app, PrivacyRequest)
    assert resp.headers["Location"] == f"/staff/requests/{req.reference}"
    assert req.manner == "phone" and local_date(req.received_at) == received
    assert req.response_due == received + timedelta(days=45)
    assert _rows(app, AuditEvent, request_id=req.id)[0].actor.startswith("staff:")
    # No emailed link for intake: acknowledged by email as recorded, then matched at once.
    subjects = [m["Subject"] for m in mailbox.to("luis@example.org")]
    assert subjects[0] == f"We received your request: {req.reference}" and "Confirm" not in " ".join(subjects)
    assert (req.status, req.hold_reason, req.acknowledged_by, req.intake_confirmed_by) == (
        "on_hold", "data_mismatch", "email", "phone")
    queue = as_support.get("/staff/?manner=phone&status=all").get_data(as_text=True)
    assert req.reference in queue


def test_mail_intake_refuses_a_future_date_and_needs_the_declaration(app, as_support):
    tomorrow = local_date(clock.now()) + timedelta(days=1)
    data = {"manner": "mail", "received_on": tomorrow.isoformat(), "request_type": "delete",
            "first_name": "Luis", "last_name": "Ortega", "email": "luis@example.org", "confirmed_by": "letter",
            "acknowledged_by": "letter"}
    resp = post_form(as_support, "/staff/requests/new", data)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "cannot be in the future" in text and "needs the signed declaration" in text
    data.update(received_on=local_date(clock.now()).isoformat(), declaration="y", declaration_signature="Luis Ortega")
    assert post_form(as_support, "/staff/requests/new", data).status_code == 303
    [req] = _rows(app, PrivacyRequest)
    assert req.manner == "mail" and req.declaration_signature == "Luis Ortega"


def test_intake_of_a_duplicate_goes_to_the_open_case(app, as_support):
    existing = new_case(app, "opt_out", "in_progress")
    data = {"manner": "phone", "received_on": local_date(clock.now()).isoformat(), "request_type": "opt_out",
            "first_name": "Ana", "last_name": "Ruiz", "email": "ANA.RUIZ@example.org", "confirmed_by": "phone",
            "acknowledged_by": "orally"}
    resp = post_form(as_support, "/staff/requests/new", data)
    assert resp.status_code == 303 and resp.headers["Location"] == f"/staff/requests/{existing.reference}"
    assert len(_rows(app, PrivacyRequest)) == 1


# ---- mail through a real SMTP server -----------------------------------------------------------

def test_request_info_and_denial_mail_through_smtp(smtp_server, app, client):
    from portal.services.delivery.mail import deliver_for_app
    sign_in(client, make_staff(app, "support"))
    req = new_case(app, "delete")
    deliver_for_app(app)
    start = len(smtp_server.wait_for(1))
    post_action(client, req.reference, "request_info", {"message": "Which claim is this about?"})
    deliver_for_app(app)
    mail = smtp_server.wait_for(start + 1)[-1]
    assert mail["To"] == req.email and "We need more information" in mail["Subject"]
    assert "Which claim is this about?" in body(mail)
    assert "Which claim is this about?" in mail.get_body(preferencelist=("html",)).get_content()
    post_action(client, req.reference, "deny", {"basis": "exempt_cmia", "categories": "Medical reports",
                                                     "explanation": "The records are medical records under CMIA."})
    deliver_for_app(app)
    denial = smtp_server.wait_for(start + 2)[-1]
    assert "Our answer to request " + req.reference == denial["Subject"]
    assert "Legal basis: Cal. Civ. Code §1798.146(a)(1)(A)" in body(denial)
    with app.app_context():
        sent = db.session().execute(select(OutboxMessage.status)).scalars().all()
    assert set(sent) == {"sent"}


# ---- the requester's answer with a document --------------------------------------------------

def _hold_for_information(app, req):
    with app.app_context():
        from portal.services.cases import submission as rs
        s = db.session()
        rs.transition(s, rs.get_by_reference(s, req.reference), "on_hold", actor="system",
                      hold_reason="information_requested")
        s.commit()


def test_an_answer_can_carry_a_document_staff_open(app, client, staff, mailbox):
    from ..files import HTML, png
    req = new_case(app, "correct")
    _hold_for_information(app, req)
    requester = app.test_client()
    page = _open_status_page(requester, mailbox, req)
    assert 'enctype="multipart/form-data"' in page
    resp = requester.post(f"/requests/{req.reference}/answer", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "body": "Here is my letter.", "attachment": (io.BytesIO(HTML), "letter.png")})
    assert resp.status_code == 422 and get_case(app, req.reference).status == "on_hold"
    assert _rows(app, RequestMessage) == []
    image = png()
    resp = requester.post(f"/requests/{req.reference}/answer", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "body": "Here is my letter.", "attachment": (io.BytesIO(image), "letter.png")})
    assert resp.status_code == 303 and get_case(app, req.reference).status == "verifying"

    sign_in(client, staff["viewer"])  # reading a case's documents is reading the case
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    link = re.search(r'href="(/staff/requests/[^"]+/documents/\d+)">letter.png</a>', page).group(1)
    got = client.get(link)
    assert got.status_code == 200 and got.data == image
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert _rows(app, AuditEvent, action="document_downloaded")[0].actor == f"staff:{staff['viewer'].id}"
    # Another case's address for the same document is refused; so is a made-up id.
    other = new_case(app, "access", email="z@example.org")
    doc_id = link.rsplit("/", 1)[1]
    assert client.get(f"/staff/requests/{other.reference}/documents/{doc_id}").status_code == 404
    assert client.get(f"/staff/requests/{req.reference}/documents/99999").status_code == 404
    assert app.test_client().get(link).status_code == 302  # signed out: to the sign-in page


def test_intake_form_does_not_autofill_the_staff_members_details(as_support):
    page = as_support.get("/staff/requests/new").get_data(as_text=True)
    assert 'autocomplete="given-name"' not in page and 'autocomplete="email"' not in page
    assert 'id="first_name"' in page and 'autocomplete="off"' in page
    # The public form keeps its autocomplete hints.
    assert 'autocomplete="given-name"' in as_support.get("/requests/new").get_data(as_text=True)
