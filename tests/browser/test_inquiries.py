"""Inquiry pages in a real browser: found from the home page, sent, read back; axe on each."""
from playwright.sync_api import expect

from ..support import link_in
from .axe import assert_no_axe_violations

EMAIL = "dana@clinic.example"


def test_a_baa_question_from_the_home_page_to_the_status_page(page, live_server, csp_violations):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Ask our privacy team a question", exact=False).click()
    expect(page.get_by_role("heading", name="Contact our privacy team")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Send my message").click()
    expect(page.get_by_role("heading", name="Please fix the following")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("A Business Associate Agreement", exact=False).check()
    page.get_by_label("Your name").fill("Dana Park")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Organization (optional)").fill("Valley Clinic")
    page.get_by_label("Your message").fill("Do you sign BAAs before onboarding?")
    page.get_by_role("button", name="Send my message").click()
    expect(page.get_by_role("heading", name="Thank you: we received your message")).to_be_visible()
    assert_no_axe_violations(page)
    ack = live_server.mail_to(EMAIL)[0]
    reference = ack["Subject"].split()[-1]

    page.goto(live_server.url + "/status")
    page.get_by_label("Request reference").fill(reference)
    page.get_by_label("Email address used for the request").fill(EMAIL)
    page.get_by_role("button", name="Email me a link").click()
    page.goto(live_server.url + link_in(live_server.mail_to(EMAIL, count=2)[-1], "/status/"))
    page.get_by_role("button", name="Show my request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Message {reference}")
    assert_no_axe_violations(page)
    page.get_by_label("Write back to our privacy team").fill("Also: do you support SFTP?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Also: do you support SFTP?")).to_be_visible()
    assert csp_violations == []


def test_policy_page_is_accessible(page, live_server):
    page.goto(live_server.url + "/privacy")
    expect(page.get_by_text("version 2026-11-01", exact=False)).to_be_visible()
    assert_no_axe_violations(page)
    page.goto(live_server.url + "/inquiries/sent?kind=security")
    assert_no_axe_violations(page)


def test_staff_answer_a_security_concern_from_the_top_of_the_queue(page, live_server, csp_violations):
    from portal import db
    from portal.services.cases import inquiries
    from portal.services.cases.inquiries import NewInquiry
    from portal.services.staff import accounts

    from ..support import STAFF_PASSWORD
    with live_server.app.app_context():
        accounts.create(db.session(), email="sam@accounts.example", role="support", password=STAFF_PASSWORD)
        item = inquiries.submit(db.session(), new=NewInquiry(kind="security", name="Rae Kim", email="rae@example.org",
                                                             message="Someone logged in to my account."))
    page.goto(live_server.url + "/staff/login")
    page.get_by_label("Email address").fill("sam@accounts.example")
    page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="1 urgent security concern")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("link", name="Inquiries").click()
    expect(page.get_by_role("heading", name="Inquiries", exact=True)).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("link", name=item.reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(item.reference)
    assert_no_axe_violations(page)
    page.get_by_label("Your answer").fill("We locked the account; please reset your password.")
    page.get_by_role("button", name="Send the answer").click()
    expect(page.get_by_text("Your answer was sent to rae@example.org.")).to_be_visible()
    mails = live_server.mail_to("rae@example.org", count=2)
    assert "We locked the account" in mails[-1].get_body(preferencelist=("plain",)).get_content()
    assert csp_violations == []
