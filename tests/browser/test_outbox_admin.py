"""Undelivered mail as an admin sees it in Chromium: reached from the console navigation, axe-clean."""
import time

from playwright.sync_api import expect
from sqlalchemy import select

from portal import db
from portal.models import OutboxMessage
from portal.services.delivery import mail as mail_service

from ..support import STAFF_PASSWORD, make_staff
from .axe import assert_no_axe_violations


def test_an_admin_sees_the_message_that_could_not_be_delivered(page, live_server, csp_violations):
    app = live_server.app
    with app.app_context():
        s = db.session()
        mail_service.queue(s, to="agent@lienpartners.example", subject="Lien Partners\r\nBcc: x@example.org",
                           template="status_link", context={"link": "http://x/status/T", "reference": "PR-0000-0000",
                                                            "minutes": 30})
        s.commit()
    deadline = time.monotonic() + 15  # the running app's delivery thread takes it within a second or so
    while time.monotonic() < deadline:
        with app.app_context():
            status = db.session().execute(select(OutboxMessage.status)).scalar_one()
            db.session().rollback()
        if status != "pending":
            break
        time.sleep(0.2)
    admin = make_staff(app, "admin", email="admin.browser@billgenix.example")
    page.goto(live_server.url + "/staff/login")
    page.get_by_label("Email address").fill(admin.email)
    page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Outgoing mail", exact=True).click()
    expect(page.get_by_role("heading", name="Outgoing mail", level=1)).to_be_visible()
    expect(page.get_by_text("Could not be delivered: 1")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="agent@lienpartners.example")
    expect(row).to_contain_text("ValueError")
    assert_no_axe_violations(page)
    assert csp_violations == []
