"""Staff review an agent's authorization in a real Chromium: the scanned letter shown beside the
checklist, accepted, the case moved on; axe on the review page; and the same without JavaScript."""
import io
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal import db
from portal.models import PrivacyRequest

from .. import files
from ..support import csrf_from, link_in, make_staff, sign_in_page
from .axe import assert_no_axe_violations

AGENT = {"agent_kind": "business", "agent_name": "Maria Lopez", "agent_email": "maria@lienpartners.example",
         "agent_business_name": "Lien Partners LLC", "agent_sos_number": "201912345678",
         "consumer_first_name": "Ana", "consumer_last_name": "Ruiz", "consumer_email": "ana.ruiz@example.org",
         "consumer_phone": "", "request_type": "delete", "authorization_kind": "signed_permission",
         "declaration": "y"}


@pytest.fixture
def agent_case(live_server):
    """An agent's deletion with a scanned letter (PNG), the agent's email confirmed, the consumer's
    confirmation confirmed: waiting for the staff review."""
    client = live_server.app.test_client()
    page = client.get("/agent/requests/new").get_data(as_text=True)
    resp = client.post("/agent/requests/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), **AGENT,
        "authorization": (io.BytesIO(files.png(40, 30)), "letter.png", "image/png")})
    assert resp.status_code == 303
    [mail] = live_server.mail_to(AGENT["agent_email"])
    verify = link_in(mail, "/verify/")
    client.post(verify, data={"csrf_token": csrf_from(client.get(verify).get_data(as_text=True))})
    [ask] = live_server.mail_to(AGENT["consumer_email"])
    confirm = link_in(ask, "/agent/confirm/")
    token = csrf_from(client.get(confirm).get_data(as_text=True))
    client.post(confirm, data={"csrf_token": token, "decision": "confirm"})
    with live_server.app.app_context():
        req = db.session().execute(select(PrivacyRequest)).scalar_one()
        assert (req.status, req.hold_reason) == ("on_hold", "agent_authorization")
        return req.reference


def _sign_in(page, live_server, role="support"):
    user = make_staff(live_server.app, role, email=f"{role}.review@billgenix.example")
    sign_in_page(page, live_server.url, user.email)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_support_reviews_the_letter_and_accepts(page, live_server, agent_case, csp_violations):
    _sign_in(page, live_server)
    page.goto(f"{live_server.url}/staff/requests/{agent_case}")
    expect(page.get_by_role("heading", name="Agent and authorization")).to_be_visible()
    expect(page.get_by_text("Confirmed by the consumer")).to_be_visible()
    letter = page.get_by_role("img", name="Scan of letter.png, sent by the agent")
    expect(letter).to_be_visible()
    assert letter.evaluate("img => img.complete && img.naturalWidth") == 40  # the image really loaded
    assert_no_axe_violations(page)

    page.locator("details.action > summary", has_text="Accept the authorization").click()
    page.get_by_label("Signed by the consumer").check()
    page.get_by_role("button", name="Accept and move the case on").click()
    expect(page.locator("#field-accept_agent-checklist")).to_contain_text("Every item must hold")
    assert_no_axe_violations(page)
    for label in ("Signed by the consumer", "Names this agent", "Its scope covers this kind of request", "Dated",
                  "Not expired, and not revoked"):
        page.get_by_label(label).check()
    page.get_by_role("button", name="Accept and move the case on").click()
    expect(page.locator(".flash")).to_contain_text("Authorization accepted: the case moved on")
    # Accepted, then matched against the identity index (empty here): held for details.
    expect(page.locator("dl.summary").first).to_contain_text("On hold")
    expect(page.get_by_text("Accepted ·")).to_be_visible()
    assert_no_axe_violations(page)
    assert csp_violations == []


def test_review_without_javascript(browser, live_server, agent_case):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _sign_in(page, live_server, role="admin")
    page.goto(f"{live_server.url}/staff/requests/{agent_case}")
    page.locator("details.action > summary", has_text="Reject the authorization").click()  # no script needed
    page.get_by_label("Reason for the agent").fill("The letter is not signed.")
    page.get_by_role("button", name="Review the rejection before it goes").click()
    expect(page.locator(".mail-text")).to_contain_text("The letter is not signed.")
    page.get_by_role("button", name=re.compile("^Send to ")).click()
    expect(page.locator(".flash")).to_contain_text("Authorization rejected")
    expect(page.locator("dl.summary").first).to_contain_text("Denied")
    expect(page.get_by_text("The agent's authorization was not accepted · Cal. Code Regs., tit. 11, § 7063(a)")
           ).to_be_visible()
    context.close()
