"""Staff sign-in in a real Chromium: TOTP enrolment from the page, the admin pages, and no-JS sign-in."""
import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from portal import db
from portal.services.staff import accounts as staff_service

from ..support import STAFF_PASSWORD, link_in, sign_in_page
from .axe import assert_no_axe_violations

ADMIN = "admin@staff.example"


def _create(live_server, email=ADMIN, role="admin"):
    with live_server.app.app_context():
        return staff_service.create(db.session(), email=email, role=role, password=STAFF_PASSWORD)


def _sign_in(page, live_server, email=ADMIN, otp=None):
    sign_in_page(page, live_server.url, email, otp)


def test_sign_in_enrol_totp_and_sign_out(page, live_server, csp_violations):
    _create(live_server)
    page.goto(live_server.url + "/staff/login")
    assert_no_axe_violations(page)
    page.get_by_label("Email address").fill(ADMIN)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The email address, password or code is not right.")
    assert_no_axe_violations(page)

    _sign_in(page, live_server)
    expect(page.get_by_role("heading", name="Queue", exact=True)).to_be_visible()
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Set up two-step sign-in").click()
    qr = page.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")  # the SVG data: URI renders under the CSP
    assert_no_axe_violations(page)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_text("Two-step sign-in is on.").first).to_be_visible()
    assert_no_axe_violations(page)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    page.goto(live_server.url + "/staff/account")
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    _sign_in(page, live_server)  # no code: refused
    expect(page.get_by_role("alert")).to_be_visible()
    # The confirming code is spent; the next time step's code is accepted (one step of drift).
    _sign_in(page, live_server, otp=totp.at(time.time() + 30))
    expect(page.get_by_role("heading", name="Queue", exact=True)).to_be_visible()
    assert csp_violations == []


def test_admin_pages_and_invitation(page, browser, live_server, csp_violations):
    _create(live_server)
    _sign_in(page, live_server)
    page.get_by_role("link", name="Staff", exact=True).click()
    expect(page.get_by_role("heading", name="Staff accounts")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator("#email-error")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("Email address").fill("bo@staff.example")
    page.get_by_label("Viewer", exact=False).check()
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("Invitation sent to bo@staff.example.")).to_be_visible()
    page.get_by_role("link", name="bo@staff.example").click()
    expect(page.get_by_role("heading", name="bo@staff.example")).to_be_visible()
    assert_no_axe_violations(page)

    [mail] = live_server.mail_to("bo@staff.example")
    invited = browser.new_context().new_page()
    invited.goto(live_server.url + link_in(mail, "/staff/invite/"))
    expect(invited.get_by_role("heading", name="Set your password")).to_be_visible()
    assert_no_axe_violations(invited)
    invited.get_by_label("New password", exact=True).fill("a long and fine passphrase")
    invited.get_by_label("New password again").fill("a long and fine passphrase")
    invited.get_by_role("button", name="Set my password").click()
    expect(invited.get_by_text("Your password is set.")).to_be_visible()
    invited.context.close()

    page.goto(live_server.url + "/staff/admin/staff")
    own = page.get_by_role("link", name=ADMIN)
    own.click()
    page.get_by_role("button", name="Deactivate this account").click()
    expect(page.get_by_role("alert")).to_contain_text("last active admin")
    assert_no_axe_violations(page)
    assert csp_violations == []


@pytest.fixture
def no_js_page(browser):
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_sign_in_and_out_without_javascript(no_js_page, live_server):
    page = no_js_page
    _create(live_server, email="support@staff.example", role="support")
    page.goto(live_server.url + "/staff/account")
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    _sign_in(page, live_server, email="support@staff.example")
    expect(page.get_by_role("heading", name="Queue", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Staff", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
