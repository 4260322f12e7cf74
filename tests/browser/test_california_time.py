"""A request made on a California evening that is already the next day in UTC: the requester's
status page, the mail and the staff case page all show California dates and times."""
import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from ..support import body, link_in, make_staff, sign_in_page
from .axe import assert_no_axe_violations

EMAIL = "rosa.diaz@example.org"
SUNDAY_EVENING = datetime.fromisoformat("2026-11-29T21:01:00-08:00")  # Monday 05:01 in UTC


@pytest.fixture
def sunday_evening(time_machine):
    time_machine.move_to(SUNDAY_EVENING, tick=True)


def test_dates_and_times_are_californian(page, live_server, sunday_evening):
    page.goto(live_server.url + "/requests/new?type=access")
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Díaz")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("The categories of information we hold", exact=False).check()
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    [verify] = live_server.mail_to(EMAIL)
    page.goto(live_server.url + link_in(verify, "/verify/"))
    page.get_by_role("button", name="Confirm my request").click()
    summary = page.locator("dl.summary")
    expect(summary).to_contain_text("Received")
    expect(summary).to_contain_text("November 29, 2026")
    expect(summary).to_contain_text("January 13, 2027")  # 45 days from 29 November, not 30
    expect(summary).not_to_contain_text("November 30, 2026")
    expect(page.locator("ol.timeline time").first).to_have_text(re.compile(r"Nov 29, 2026, 9:0\d\u202fPM PST"))
    assert_no_axe_violations(page)
    reference = page.get_by_role("heading", level=1).inner_text().split()[-1]

    acknowledgement = body(live_server.mail_to(EMAIL, count=2)[-1])
    assert "January 13, 2027" in acknowledgement and "November 30" not in acknowledgement

    staff = make_staff(live_server.app, "support", email="support.evening@billgenix.example")
    console = page.context.browser.new_context().new_page()
    sign_in_page(console, live_server.url, staff.email)
    console.goto(f"{live_server.url}/staff/requests/{reference}")
    received = console.locator("dl.case-dates dt:text-is('Received') + dd")
    expect(received).to_have_text(re.compile(r"^Nov 29, 2026, 9:0\d\u202fPM PST \(Web form\)$"))
    console.locator("details.audit-events > summary").click()
    expect(console.locator("table.audit tbody tr").first.locator("td").first).to_have_text(
        re.compile(r"Nov 29, 2026, 9:0\d\u202fPM PST"))
    assert_no_axe_violations(console)
