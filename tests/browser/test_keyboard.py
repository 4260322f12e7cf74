"""Keyboard only, in a real Chromium: the requester journey, the agent form and the preference center.
Every control is reached in order with a visible focus; after an htmx swap focus goes to the new
content (or its first error) when the swap took it away, and the change is announced (aria-live)."""
import re

from playwright.sync_api import expect

from .. import files
from ..support import link_in
from .axe import assert_no_axe_violations
from .keyboard import assert_tab_order, focused_matches, tab_to

EMAIL = "kbd.user@example.org"


def _announced(page):
    return page.locator("#live-announcer")


def test_requester_journey_by_keyboard(page, live_server, csp_violations):
    page.goto(live_server.url + "/")
    assert_tab_order(page)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()  # the first stop skips to the content
    page.keyboard.press("Enter")
    tab_to(page, "a[href*='type=delete']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Make a privacy request")).to_be_visible()
    assert_tab_order(page)

    tab_to(page, "#first_name")
    page.keyboard.type("María")
    tab_to(page, "#last_name")
    page.keyboard.type("López")
    tab_to(page, "#email")
    page.keyboard.type("not-an-email")
    page.keyboard.press("Tab")  # inline validation: the error is announced, focus stays where the person is
    expect(page.locator("#email-error")).to_have_text(re.compile("Enter an email address like"))
    expect(_announced(page)).to_have_text(re.compile("Enter an email address like"))
    assert focused_matches(page, "#phone")
    page.keyboard.press("Shift+Tab")
    assert focused_matches(page, "#email")
    page.keyboard.press("Control+A")
    page.keyboard.type(EMAIL)
    page.keyboard.press("Tab")
    expect(page.locator("#email-error")).to_have_count(0)

    # Arrow keys change the type: the new part of the form is swapped in and announced, and focus
    # stays on the radio button (moving it on input would be a change of context).
    page.keyboard.press("Shift+Tab")
    tab_to(page, "input[name=request_type]:checked")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("What information is wrong?")).to_be_visible()
    expect(_announced(page)).to_have_text("What needs correcting")
    assert focused_matches(page, "input[name=request_type][value=correct]")
    page.keyboard.press("ArrowUp")
    expect(page.get_by_label("What information is wrong?")).to_have_count(0)
    assert focused_matches(page, "input[name=request_type][value=delete]")
    assert_tab_order(page)

    # Sent with errors: the page comes back with focus on the summary, which is an alert.
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    tab_to(page, "#declaration")
    page.keyboard.press("Space")
    tab_to(page, "#declaration_signature")
    page.keyboard.type("María López")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert_tab_order(page)

    page.goto(live_server.url + link_in(live_server.mail_to(EMAIL)[0], "/verify/"))
    tab_to(page, "main button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Request PR-"))
    assert_tab_order(page)
    assert csp_violations == []


def test_agent_form_by_keyboard(page, live_server, tmp_path):
    letter = tmp_path / "permission.pdf"
    letter.write_bytes(files.pdf())
    page.goto(live_server.url + "/agent/requests/new")
    assert_tab_order(page)
    tab_to(page, "#agent-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator(".error-summary")).to_be_focused()
    assert_no_axe_violations(page)

    tab_to(page, "input[name=agent_kind]")
    page.keyboard.press("Space")  # the first kind: a person
    for selector, text in (("#agent_name", "Maria Lopez"), ("#agent_email", "maria@agents.example"),
                           ("#consumer_first_name", "Ana"), ("#consumer_last_name", "Ruiz")):
        tab_to(page, selector)
        page.keyboard.type(text)
    tab_to(page, "input[name=request_type]")
    page.keyboard.press("Space")  # the first type: know (access), which asks what the consumer wants to receive
    tab_to(page, "input[name=access_scope]")
    page.keyboard.press("Space")
    tab_to(page, "input[name=authorization_kind]")
    page.keyboard.press("Space")
    tab_to(page, "#authorization")
    # The file chooser is the operating system's own dialog; the file is handed to the focused input.
    page.locator("#authorization").set_input_files(str(letter))
    tab_to(page, "#declaration")
    page.keyboard.press("Space")
    tab_to(page, "#agent-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()


def test_preference_center_and_banner_by_keyboard(page, live_server):
    page.goto(live_server.url + "/preferences")
    assert_tab_order(page)
    tab_to(page, "#analytics")
    page.keyboard.press("Space")
    expect(page.locator("#analytics")).to_be_checked()
    tab_to(page, "button[value=save]")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Your cookie choices are saved", exact=False).first).to_be_visible()
    assert_tab_order(page)

    # The banner on another page: a keyboard choice swaps it, focus moves to what replaced it, and
    # the saved message is announced.
    page.context.clear_cookies()
    page.goto(live_server.url + "/status")
    tab_to(page, "#consent-banner button[value=reject_all]")
    page.keyboard.press("Enter")
    expect(page.locator("#consent-banner-title")).to_have_text("Your cookie choices are saved")
    expect(page.locator("#consent-banner-title")).to_be_focused()
    expect(_announced(page)).to_have_text(re.compile("Your cookie choices are saved"))
    page.keyboard.press("Tab")
    assert focused_matches(page, "#consent-banner a[href='/preferences']")
