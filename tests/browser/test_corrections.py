"""What a requester sees after a correction made in part: the contested-statement form, with and without JavaScript."""
import time

import pytest
from playwright.sync_api import expect

from portal import db
from portal.services.cases import outcomes
from portal.services.cases.outcomes import Completion

from ..support import link_in, make_staff, new_case
from .axe import assert_no_axe_violations

EMAIL = "ana.ruiz@example.org"


def _partly_corrected(app):
    staff = make_staff(app, "support")
    req = new_case(app, "correct", "in_progress", email=EMAIL)
    with app.app_context():
        s = db.session()
        req = s.merge(req)
        outcomes.complete(s, req=req, staff=s.merge(staff), expected_version=req.version, completion=Completion(
            message="We corrected your address, not the injury date.", partial=True,
            correction_result="partially_corrected", kept_basis="legal_obligation", kept_summary="The injury date",
            covered_categories="Claim file: injury date", assessment="Your letter; the adjuster's first report.",
            corrected_details="Address: 2 New Ave"))
        return req.reference


def _status_mail(live_server, timeout=10):
    """The status link mail, once the running app's delivery thread has written it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in live_server.mailbox.read() if m["To"] == EMAIL and "Your link to" in m["Subject"]]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError("no status link mail")


@pytest.mark.parametrize("javascript", [True, False])
def test_the_requester_files_a_contested_statement_from_the_status_page(browser, live_server, javascript):
    reference = _partly_corrected(live_server.app)
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(live_server.url + "/status")
    page.get_by_label("Request reference").fill(reference)
    page.get_by_label("Email address used for the request").fill(EMAIL)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    status_mail = _status_mail(live_server)
    page.goto(live_server.url + link_in(status_mail, "/status/"))
    page.get_by_role("button", name="Show my request").click()
    expect(page.get_by_role("heading", name="Tell us you contest the information")).to_be_visible()
    if javascript:
        assert_no_axe_violations(page)
    page.get_by_label("Your statement").fill("The injury happened on March 3, as my doctor's note shows.")
    page.get_by_role("button", name="File my statement").click()
    expect(page.get_by_text("Thank you: your statement is kept with your information.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your statement: the information is contested")).to_be_visible()
    expect(page.get_by_text("The injury happened on March 3")).to_be_visible()
    if javascript:
        assert_no_axe_violations(page)
    context.close()
