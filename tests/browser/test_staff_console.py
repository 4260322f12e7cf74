"""The console in a real Chromium: active search and filters, one case resolved end to end (staff
to requester download), axe on every console page, and the queue without JavaScript."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..support import days_ago, link_in, make_staff, new_case, sign_in_page
from .axe import assert_no_axe_violations


def _sign_in(context, live_server, role="support"):
    """A staff member signs in through the real sign-in page, in this browser context."""
    user = make_staff(live_server.app, role, email=f"{role}.browser@billgenix.example")
    page = context.new_page()
    sign_in_page(page, live_server.url, user.email)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.close()
    return user


@pytest.fixture
def console(live_server):
    app = live_server.app
    refs = {
        # Specific pieces: response files belong to a verified specific-pieces request (§7024(d)).
        "ortega": new_case(app, "access", email="luis.ortega@example.org", first_name="Luis", last_name="Ortega",
                           received_at=days_ago(50), access_scope="specific").reference,
        "ruiz": new_case(app, "delete", "on_hold", email="ana.ruiz@example.org", hold_reason="data_mismatch").reference,
        "chen": new_case(app, "opt_out", "in_progress", email="wei.chen@example.org", first_name="Wei",
                         last_name="Chen").reference,
    }
    return refs


def _rows(page):
    return page.locator("table.queue tbody th[scope=row]").all_inner_texts()


def test_queue_active_search_and_filters(page, live_server, console, csp_violations):
    _sign_in(page.context, live_server)
    page.goto(live_server.url + "/staff/")
    expect(page.get_by_role("heading", name="Queue", level=1)).to_be_visible()
    assert _rows(page) == [console["ortega"], console["chen"], console["ruiz"]]
    expect(page.get_by_text("Overdue by 5 days")).to_be_visible()
    assert_no_axe_violations(page)
    page.evaluate("window.__stillHere = true")  # a full page load would forget this

    page.get_by_label("Search by reference, email or name").press_sequentially("orte", delay=40)
    expect(page.locator("table.queue tbody tr")).to_have_count(1)
    assert _rows(page) == [console["ortega"]]
    expect(page).to_have_url(re.compile(r"/staff/\?.*q=orte"))
    page.get_by_label("Search by reference, email or name").fill("wei.chen@example.org")
    expect(page.locator("table.queue tbody th[scope=row]")).to_have_text([console["chen"]])
    page.get_by_label("Search by reference, email or name").fill("")
    page.get_by_label("Status", exact=True).select_option("on_hold")
    expect(page.locator("table.queue tbody th[scope=row]")).to_have_text([console["ruiz"]])
    page.get_by_label("Status", exact=True).select_option("open")
    page.get_by_label("Type", exact=True).select_option("opt_out")
    expect(page.locator("table.queue tbody th[scope=row]")).to_have_text([console["chen"]])
    page.get_by_label("Deadline").select_option("overdue")
    expect(page.get_by_text("No cases match these filters.", exact=True)).to_be_visible()
    assert page.evaluate("window.__stillHere") is True
    assert_no_axe_violations(page)
    # Back restores the earlier results.
    page.go_back()
    expect(page.locator("table.queue tbody th[scope=row]")).to_have_text([console["chen"]])
    assert csp_violations == []


def test_one_case_from_the_queue_to_the_requesters_download(page, live_server, console, csp_violations):
    _sign_in(page.context, live_server)
    page.goto(live_server.url + "/staff/")
    page.get_by_role("link", name=console["ortega"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {console['ortega']}")
    assert_no_axe_violations(page)
    page.locator("details.action > summary", has_text="Verify identity by hand").click()

    # Too few data points: refused beside the field, accessibly. Each point checked by hand needs its source.
    page.get_by_label("Phone number", exact=True).select_option("phone_call")
    page.get_by_role("button", name="Mark identity verified").click()
    expect(page.get_by_text("each with the source that confirmed it").last).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("Claim or account number", exact=True).select_option("claim_file")
    # Specific pieces: the high tier, three points.
    page.get_by_label("Name and date of birth", exact=True).select_option("document")
    page.get_by_role("button", name="Mark identity verified").click()
    expect(page.get_by_text("Identity verified: the case is in progress.")).to_be_visible()
    page.locator("details.action > summary", has_text="Complete the request").click()
    assert_no_axe_violations(page)
    page.get_by_label("Complied in whole").check()

    page.get_by_label("Response to the requester").fill("Here is everything we hold about you.")
    page.get_by_label("Response file, JSON").set_input_files(
        files=[{"name": "export.json", "mimeType": "application/json", "buffer": b'{"claims": ["WC-7"]}'}])
    page.get_by_label("Response file, CSV").set_input_files(
        files=[{"name": "export.csv", "mimeType": "text/csv", "buffer": b"claim,status\nWC-7,closed\n"}])
    page.get_by_role("button", name="Review the response before it goes").click()
    expect(page.locator(".mail-text")).to_contain_text("Here is everything we hold about you.")
    expect(page.locator(".review-facts")).to_contain_text("CSV, JSON")  # the files went through the review
    page.get_by_role("button", name="Send to luis.ortega@example.org").click()
    expect(page.get_by_text("The case is complete. The message to luis.ortega@example.org is queued")).to_be_visible()
    expect(page.get_by_text("No actions are possible")).to_be_visible()
    assert_no_axe_violations(page)

    # The requester, in their own browser: the completion mail, a status link, the download.
    requester = page.context.browser.new_context(accept_downloads=True)
    rpage = requester.new_page()
    email = "luis.ortega@example.org"
    done = live_server.mail_to(email, count=2)[-1]
    assert "Our response to request" in done["Subject"]
    rpage.goto(live_server.url + "/status")
    rpage.get_by_label("Request reference").fill(console["ortega"])
    rpage.get_by_label("Email address used for the request").fill(email)
    rpage.get_by_role("button", name="Email me a link").click()
    status_mail = live_server.mail_to(email, count=3)[-1]
    rpage.goto(live_server.url + link_in(status_mail, "/status/"))
    rpage.get_by_role("button", name="Show my request").click()
    expect(rpage.get_by_text("Here is everything we hold about you.")).to_be_visible()
    assert_no_axe_violations(rpage)
    with rpage.expect_download() as info:
        rpage.get_by_role("link", name=f"Download {console['ortega']}-response.json").click()
    assert Path(info.value.path()).read_bytes() == b'{"claims": ["WC-7"]}'
    requester.close()
    page.reload()
    expect(page.get_by_text("downloaded 1 time")).to_be_visible()
    assert csp_violations == []


@pytest.mark.parametrize("path", ["/staff/", "/staff/?status=all&q=zzz", "/staff/requests/new", "/staff/metrics",
                                  "/staff/metrics?year=2025"])
def test_console_pages_are_accessible(page, live_server, console, path, csp_violations):
    _sign_in(page.context, live_server, role="admin")
    page.goto(live_server.url + path)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_no_axe_violations(page)
    assert csp_violations == []


def test_case_pages_in_every_state_are_accessible(page, live_server, console, csp_violations):
    _sign_in(page.context, live_server, role="admin")
    correct = new_case(live_server.app, "correct", "in_progress", email="k@example.org").reference
    for ref in (*console.values(), correct):
        page.goto(live_server.url + f"/staff/requests/{ref}")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {ref}")
        assert_no_axe_violations(page)
    # A form with errors, and the intake form with errors.
    page.locator("details.action > summary", has_text="Deny the request").click()
    page.get_by_role("button", name="Review the denial before it goes").click()
    expect(page.get_by_text("Please fill this in.").first).to_be_visible()
    assert_no_axe_violations(page)
    page.goto(live_server.url + "/staff/requests/new")
    page.get_by_role("button", name="Record the request").click()
    expect(page.get_by_role("heading", name="Please fix the following")).to_be_visible()
    assert_no_axe_violations(page)
    assert csp_violations == []


def test_a_viewer_sees_the_case_read_only(page, live_server, console):
    _sign_in(page.context, live_server, role="viewer")
    page.goto(live_server.url + f"/staff/requests/{console['ruiz']}")
    expect(page.get_by_text("You have read-only access")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("button")).to_have_count(0)
    assert_no_axe_violations(page)


def test_the_queue_without_javascript(browser, live_server, console):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _sign_in(context, live_server)
    page.goto(live_server.url + "/staff/")
    assert _rows(page) == [console["ortega"], console["chen"], console["ruiz"]]
    page.get_by_label("Search by reference, email or name").fill("ruiz")
    page.get_by_role("button", name="Show cases").click()
    expect(page).to_have_url(re.compile(r"q=ruiz"))
    assert _rows(page) == [console["ruiz"]]
    page.get_by_label("Search by reference, email or name").fill("")
    page.get_by_label("Type", exact=True).select_option("opt_out")
    page.get_by_role("button", name="Show cases").click()
    assert _rows(page) == [console["chen"]]
    # A status count is a plain link too.
    page.get_by_role("link", name=re.compile("^In progress")).click()
    expect(page).to_have_url(re.compile(r"status=in_progress"))
    assert _rows(page) == [console["chen"]]
    page.get_by_role("link", name="Clear filters").click()
    assert len(_rows(page)) == 3
    # And a case action works as a plain form post.
    page.get_by_role("link", name=console["ruiz"]).click()
    page.locator("details.action > summary", has_text="Clear the hold").click()
    page.get_by_label("Reason (internal, not sent to the requester)").fill("Matched by phone call")
    page.get_by_role("button", name="Clear hold and return to verification").click()
    expect(page.get_by_text("Hold cleared: the case is back in verification.")).to_be_visible()
    context.close()


def test_the_requester_answers_a_request_for_information(page, live_server, console, csp_violations):
    from ..files import png
    staff_context = page.context.browser.new_context()
    _sign_in(staff_context, live_server)
    staff = staff_context.new_page()
    staff.goto(live_server.url + f"/staff/requests/{console['ortega']}")
    staff.locator("details.action > summary", has_text="Ask the requester for information").click()
    staff.get_by_label("What do you need from the requester?").fill("Please send the letter we wrote to you.")
    staff.get_by_role("button", name="Review the message before it goes").click()
    staff.get_by_role("button", name="Send to luis.ortega@example.org").click()
    expect(staff.get_by_text("The case is on hold until the requester answers.")).to_be_visible()

    email = "luis.ortega@example.org"
    asked = live_server.mail_to(email, count=2)[-1]
    assert "Please send the letter we wrote to you." in asked.get_body(preferencelist=("plain",)).get_content()
    page.goto(live_server.url + "/status")
    page.get_by_label("Request reference").fill(console["ortega"])
    page.get_by_label("Email address used for the request").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    page.goto(live_server.url + link_in(live_server.mail_to(email, count=3)[-1], "/status/"))
    page.get_by_role("button", name="Show my request").click()
    expect(page.get_by_role("heading", name="Answer our question")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("Your answer").fill("Attached is your letter of May 2.")
    page.get_by_label("Attach a document (optional)").set_input_files(
        files=[{"name": "letter.png", "mimeType": "image/png", "buffer": png()}])
    page.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_text("Thank you: your answer was sent to our privacy team.")).to_be_visible()
    expect(page.get_by_role("heading", name="Answer our question")).to_have_count(0)

    staff.reload()
    summary = staff.locator(".case-summary")  # the answer leads the page, marked "replied"
    expect(summary.locator(".replied-flag")).to_be_visible()
    expect(summary.get_by_text("Attached is your letter of May 2.")).to_be_visible()
    expect(summary.get_by_role("link", name="letter.png")).to_be_visible()
    assert_no_axe_violations(staff)
    staff_context.close()
    assert csp_violations == []
