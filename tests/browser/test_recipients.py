"""Recipients and notices downstream in a real Chromium, by keyboard where it matters, with axe: an
admin adds a recipient, a case worker sends and settles the notice, then completes the deletion."""
from playwright.sync_api import expect

from portal import clock

from ..support import STAFF_PASSWORD, make_staff, new_case
from .axe import assert_no_axe_violations


def _sign_in(page, live_server, role):
    user = make_staff(live_server.app, role, email=f"{role}.notices@billgenix.example")
    page.goto(live_server.url + "/staff/login")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return user


def test_an_admin_adds_a_recipient_and_a_deletion_waits_for_its_notice(page, live_server, csp_violations):
    _sign_in(page, live_server, "admin")
    page.get_by_role("link", name="Recipients").click()
    expect(page.get_by_role("heading", name="Recipients of notices", level=1)).to_be_visible()
    assert_no_axe_violations(page)

    page.get_by_role("link", name="Add a recipient").click()
    page.get_by_role("button", name="Save the recipient").click()  # nothing filled in
    expect(page.get_by_role("alert")).to_contain_text("Give the recipient")
    assert_no_axe_violations(page)
    page.get_by_role("textbox", name="Name").fill("Ledger Cloud")
    page.get_by_label("Contractor").check()
    page.get_by_label("Delete").check()
    page.get_by_label("By hand (staff record it)").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save the recipient").click()
    expect(page.get_by_text("Recipient Ledger Cloud saved.")).to_be_visible()
    expect(page.get_by_role("cell", name="Ledger Cloud")).to_be_visible()
    assert_no_axe_violations(page)

    req = new_case(live_server.app, "delete", "in_progress")
    page.goto(f"{live_server.url}/staff/requests/{req.reference}")
    notices = page.locator("section.notices")
    expect(notices).to_contain_text("1 recipient concerned by this request has not been told yet.")
    notices.get_by_role("button", name="Send the notices").click()
    expect(page.get_by_text("1 notices created.")).to_be_visible()
    expect(notices).to_contain_text("To be told by hand")
    assert_no_axe_violations(page)

    notices.locator("details.action > summary", has_text="Settle the notice to Ledger Cloud").click()
    notices.get_by_label("Day the recipient was told").fill(clock.today().isoformat())
    notices.get_by_label("How it was told").fill("Phone call to their privacy lead")
    notices.get_by_label("How it was told").press("Enter")
    expect(notices).to_contain_text("Told by hand")
    expect(notices).to_contain_text("Phone call to their privacy lead")
    assert csp_violations == []
