"""What a requester sees, in a real Chromium: the whole journey, with and without JavaScript."""
import re

import pytest
from playwright.sync_api import expect

from ..support import link_in
from .axe import assert_no_axe_violations

EMAIL = "maria.lopez@example.org"


def _fill_about_you(page):
    page.get_by_label("First name").fill("María")
    page.get_by_label("Last name").fill("López")
    page.get_by_label("Email address").fill(EMAIL)


def test_delete_journey_with_javascript(page, live_server, csp_violations):
    page.goto(live_server.url + "/")
    assert_no_axe_violations(page)
    page.get_by_role("link", name="Delete my information").click()
    expect(page.get_by_role("heading", name="Make a privacy request")).to_be_visible()
    assert_no_axe_violations(page)
    _fill_about_you(page)
    page.get_by_label("I declare under penalty of perjury", exact=False).check()
    page.get_by_label("Type your full name as your signature").fill("María López")
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert_no_axe_violations(page)

    [mail] = live_server.mail_to(EMAIL)
    page.goto(live_server.url + link_in(mail, "/verify/"))
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Confirm my request").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"Request PR-[0-9A-Z]{4}-[0-9A-Z]{4}"))
    expect(page.get_by_text("Verifying identity").first).to_be_visible()
    expect(page.get_by_role("button", name="Print this page")).to_be_visible()
    assert_no_axe_violations(page)
    reference = heading.inner_text().split()[-1]
    ack = live_server.mail_to(EMAIL, count=2)[-1]
    assert reference in ack["Subject"]
    assert csp_violations == []


def test_inline_validation_and_type_switch(page, live_server, csp_violations):
    page.goto(live_server.url + "/requests/new")
    assert_no_axe_violations(page)
    email = page.get_by_label("Email address")
    email.fill("not-an-email")
    email.press("Tab")
    expect(page.locator("#email-error")).to_have_text(re.compile("Enter an email address like"))
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    email = page.get_by_label("Email address")
    email.fill("ok@example.org")
    email.press("Tab")
    expect(page.locator("#email-error")).to_have_count(0)

    # Choosing "correct" swaps in just what a correction needs.
    page.get_by_label("Correct my information").check()
    expect(page.get_by_label("What information is wrong?")).to_be_visible()
    expect(page.get_by_role("heading", name="Only for access requests")).to_have_count(0)
    page.get_by_label("Know what we hold (access)").check()
    expect(page.get_by_label("What information is wrong?")).to_have_count(0)
    page.get_by_label("A copy of the specific pieces", exact=False).check()
    expect(page.get_by_label("Type your full name as your signature")).to_be_visible()

    # Server-side errors come back beside each field, with a summary, and are accessible.
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Please fix the following")).to_be_visible()
    assert_no_axe_violations(page)
    assert csp_violations == []


@pytest.mark.parametrize("path", ["/status", "/status/sent", "/requests/sent?next=in_effect&type=opt_out",
                                  "/verify/not-a-token", "/status/not-a-token", "/requests/PR-0000-0000",
                                  "/no-such-page", "/requests/new?type=correct", "/requests/new?type=limit"])
def test_other_pages_are_accessible(page, live_server, path, csp_violations):
    page.goto(live_server.url + path)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_no_axe_violations(page)
    assert csp_violations == []


def test_status_errors_are_accessible(page, live_server):
    page.goto(live_server.url + "/status")
    page.get_by_label("Request reference").fill("12-34")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_text("References look like PR-XXXX-XXXX", exact=False)).to_be_visible()
    assert_no_axe_violations(page)


@pytest.fixture
def no_js_page(browser):
    """A page in a context with JavaScript off (axe needs JavaScript, so it runs in the tests above)."""
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_whole_journey_without_javascript(no_js_page, live_server):
    page = no_js_page
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Know what we hold (access)").click()
    _fill_about_you(page)
    page.get_by_label("The categories of information", exact=False).check()
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    [mail] = live_server.mail_to(EMAIL)
    page.goto(live_server.url + link_in(mail, "/verify/"))
    page.get_by_role("button", name="Confirm my request").click()
    reference = page.get_by_role("heading", level=1).inner_text().split()[-1]
    assert re.fullmatch(r"PR-[0-9A-Z]{4}-[0-9A-Z]{4}", reference)

    # Later, from another browser session: status by reference and email, then the magic link.
    page.context.clear_cookies()
    page.goto(live_server.url + "/status")
    page.get_by_label("Request reference").fill(reference)
    page.get_by_label("Email address used for the request").fill(EMAIL)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    status_mail = live_server.mail_to(EMAIL, count=4)[-1]  # confirm, acknowledgement, details needed, status
    page.goto(live_server.url + link_in(status_mail, "/status/"))
    page.get_by_role("button", name="Show my request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Request {reference}")
    expect(page.get_by_text("Verifying identity").first).to_be_visible()

    # A no-JS form with errors still works: the type is kept and the missing parts are asked for.
    page.goto(live_server.url + "/requests/new")
    page.get_by_label("Correct my information").check()
    _fill_about_you(page)
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_text("This is needed to correct your information.").first).to_be_visible()


def test_link_pages_and_printing_the_receipt(page, live_server, csp_violations):
    """The expired-link and new-link pages, the status-link button page, and the printed request page."""
    from datetime import timedelta

    from sqlalchemy import update

    from portal import clock, db
    from portal.models import VerificationToken

    page.goto(live_server.url + "/requests/new?type=access")
    _fill_about_you(page)
    page.get_by_label("The categories of information", exact=False).check()
    page.get_by_role("button", name="Send my request").click()
    verify = link_in(live_server.mail_to(EMAIL)[0], "/verify/")
    with live_server.app.app_context():
        s = db.session()
        s.execute(update(VerificationToken).values(expires_at=clock.now() - timedelta(minutes=1)))
        s.commit()
    page.goto(live_server.url + verify)
    expect(page.get_by_role("heading", name="This link has expired")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Email me a new link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert_no_axe_violations(page)
    page.goto(live_server.url + link_in(live_server.mail_to(EMAIL, count=2)[-1], "/verify/"))
    page.get_by_role("button", name="Confirm my request").click()
    reference = page.get_by_role("heading", level=1).inner_text().split()[-1]

    page.context.clear_cookies()
    page.goto(live_server.url + "/status")
    page.get_by_label("Request reference").fill(reference)
    page.get_by_label("Email address used for the request").fill(EMAIL)
    page.get_by_role("button", name="Email me a link").click()
    page.goto(live_server.url + link_in(live_server.mail_to(EMAIL, count=5)[-1], "/status/"))
    expect(page.get_by_role("button", name="Show my request")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Show my request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Request {reference}")
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.get_by_role("button", name="Print this page")).to_be_hidden()
    expect(page.get_by_text(reference).first).to_be_visible()
    assert csp_violations == []
