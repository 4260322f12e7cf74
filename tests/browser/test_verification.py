"""Verification in a real Chromium, with axe: a requester held for details adds one from the status
page and is verified; staff see the matching on the case page; phone intake without email."""
import io
import re

from playwright.sync_api import expect

from portal import clock, db
from portal.services.identity import subjects

from ..support import link_in, make_staff, sign_in_page
from .axe import assert_no_axe_violations

EMAIL = "luis.new@example.net"
RECORDS = ("subject_id,email,phone,first_name,last_name,date_of_birth,claim_number,employer,postal_code\n"
           "S-42,luis@example.org,(951) 555-0101,Luis,Ortega Núñez,1969-05-06,WC-2022-0099,Acme Roofing,92376\n")


def _index(app):
    with app.app_context():
        subjects.import_csv(db.session(), stream=io.BytesIO(RECORDS.encode()))


def test_held_for_details_then_verified_from_the_status_page(page, live_server, csp_violations):
    _index(live_server.app)
    page.goto(live_server.url + "/requests/new?type=access")
    page.get_by_label("First name").fill("Luis")
    page.get_by_label("Last name").fill("Nunez-Ortega")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Phone (optional)").fill("951.555.0101")
    page.get_by_label("The categories of information", exact=False).check()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    [mail] = live_server.mail_to(EMAIL)
    page.goto(live_server.url + link_in(mail, "/verify/"))
    page.get_by_role("button", name="Confirm my request").click()
    expect(page.get_by_role("heading", name="Help us confirm it is you")).to_be_visible()
    expect(page.get_by_text("We need more details to confirm your identity")).to_be_visible()
    assert_no_axe_violations(page)

    page.get_by_label("Claim or account number (optional)").fill("wc 2022 0099")
    page.get_by_role("button", name="Check again").click()
    expect(page.get_by_text("In progress").first).to_be_visible()
    expect(page.get_by_role("heading", name="Help us confirm it is you")).to_have_count(0)
    assert_no_axe_violations(page)
    assert csp_violations == []


def test_phone_intake_without_email_and_the_case_page(page, live_server, csp_violations):
    _index(live_server.app)
    user = make_staff(live_server.app, "support", email="support.browser@billgenix.example")
    sign_in_page(page, live_server.url, user.email)
    page.goto(live_server.url + "/staff/requests/new")
    assert_no_axe_violations(page)
    page.get_by_label("Phone", exact=True).first.check()
    page.get_by_label("Date received").fill(clock.today().isoformat())  # California's date, not the browser's
    page.get_by_label("Know what we hold (access)").check()
    page.get_by_label("First name").fill("Luis")
    page.get_by_label("Last name").fill("Ortega Nunez")
    page.get_by_label("Postal address (where there is no email address)").fill("12 Main St, Rialto CA 92376")
    page.get_by_label("Phone (optional)").fill("(951) 555-0101")
    page.get_by_label("By phone: the requester answered", exact=False).check()
    page.get_by_label("Orally, during the call").check()
    page.get_by_label("The categories of information", exact=False).check()
    page.get_by_role("button", name="Record the request").click()
    expect(page.get_by_text(re.compile(r"Request PR-\w{4}-\w{4} recorded"))).to_be_visible()
    expect(page.get_by_role("table", name=re.compile("Matching against our records"))).to_be_visible()
    expect(page.get_by_text("S-42").first).to_be_visible()
    assert_no_axe_violations(page)
    assert csp_violations == []
