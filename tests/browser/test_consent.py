"""Cookie choices in a real Chromium: symmetry by click count, GPC, accessibility, no-JS, the embed script."""
import functools
import http.server
import threading

import pytest
from playwright.sync_api import expect

from ..support import free_port
from .axe import assert_no_axe_violations


@pytest.fixture(autouse=True)
def _sells_or_shares(app_config):
    """These tests exercise the sale/sharing category: on, with the policy text that discloses it."""
    app_config["SELLS_OR_SHARES"] = True


ALL_OFF = {"necessary": True, "functional": False, "analytics": False, "advertising": False}
ALL_ON = {"necessary": True, "functional": True, "analytics": True, "advertising": True}


@pytest.fixture
def site_port():
    return free_port()


@pytest.fixture
def app_config(app_config, site_port):
    return {**app_config, "CONSENT_ALLOWED_ORIGINS": [f"http://127.0.0.1:{site_port}"]}


class Clicks:
    """Every click the visitor makes goes through here, so the test can count them."""

    def __init__(self):
        self.count = 0

    def __call__(self, locator):
        self.count += 1
        locator.click()


def _choices(page, live_server) -> dict:
    """What the business's site would read for this browser (the context's cookies go along)."""
    return page.request.get(live_server.url + "/api/consent").json()["choices"]


@pytest.fixture
def no_js_page(browser):
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.fixture
def gpc_page(browser):
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("button, expected", [("Reject all", ALL_OFF), ("Accept all", ALL_ON)])
def test_banner_all_off_and_all_on_take_one_click_each(page, live_server, csp_violations, button, expected):
    page.goto(live_server.url + "/")
    banner = page.get_by_role("region", name="Your cookie choices")
    expect(banner).to_be_visible()
    assert _choices(page, live_server) == ALL_OFF  # nothing optional before a choice
    click = Clicks()
    click(banner.get_by_role("button", name=button))
    expect(page.get_by_role("heading", name="Your cookie choices are saved")).to_be_visible()
    assert click.count == 1
    assert _choices(page, live_server) == expected
    page.reload()
    expect(page.get_by_role("region", name="Your cookie choices")).to_have_count(0)
    assert csp_violations == []


def test_click_counts_are_equal_in_the_banner_and_the_center(browser, live_server):
    """From a first view, the count of clicks to all-off equals the count to all-on, on both surfaces."""
    counts = {}
    for surface in ("/", "/preferences"):
        for button, expected in (("Reject all", ALL_OFF), ("Accept all", ALL_ON)):
            context = browser.new_context()
            page = context.new_page()
            page.goto(live_server.url + surface)
            click = Clicks()
            click(page.get_by_role("button", name=button, exact=True))
            expect(page.get_by_text("saved", exact=False).first).to_be_visible()
            assert _choices(page, live_server) == expected
            counts[(surface, button)] = click.count
            context.close()
    assert counts == {("/", "Reject all"): 1, ("/", "Accept all"): 1,
                      ("/preferences", "Reject all"): 1, ("/preferences", "Accept all"): 1}


def test_buttons_have_equal_visual_weight(page, live_server):
    for path in ("/", "/preferences"):
        page.goto(live_server.url + path)
        styles = [page.get_by_role("button", name=name, exact=True).evaluate(
            "el => { const s = getComputedStyle(el); const r = el.getBoundingClientRect();"
            " return [s.backgroundColor, s.color, s.fontWeight, s.fontSize, s.borderColor, Math.round(r.height)]; }")
            for name in ("Reject all", "Accept all")]
        assert styles[0] == styles[1], path


def test_center_and_banner_are_accessible(page, live_server, csp_violations):
    page.goto(live_server.url + "/")
    expect(page.get_by_role("region", name="Your cookie choices")).to_be_visible()
    assert_no_axe_violations(page)
    page.goto(live_server.url + "/preferences")
    expect(page.get_by_role("heading", name="Cookie preferences", level=1)).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("switch", name="Analytics").check()
    page.get_by_role("button", name="Save choices").click()
    expect(page.get_by_text("Your cookie choices are saved.")).to_be_visible()
    expect(page.get_by_role("switch", name="Analytics")).to_be_checked()
    expect(page.get_by_role("switch", name="Functional")).not_to_be_checked()
    assert_no_axe_violations(page)
    page.get_by_role("link", name="See the history of your choices").click()
    expect(page.get_by_role("table", name="Your choices")).to_be_visible()
    assert_no_axe_violations(page)
    assert csp_violations == []


def test_gpc_is_honored_before_any_click(gpc_page, live_server):
    page = gpc_page
    page.goto(live_server.url + "/")
    banner = page.get_by_role("region", name="Your cookie choices")
    expect(banner.get_by_text("Opt-Out Request Honored")).to_be_visible()
    assert_no_axe_violations(page)
    assert _choices(page, live_server)["advertising"] is False
    page.goto(live_server.url + "/preferences")
    expect(page.get_by_text("Opt-Out Request Honored")).to_be_visible()
    expect(page.get_by_text("We applied it on", exact=False)).to_be_visible()
    advertising = page.get_by_role("switch", name="Advertising (sale or sharing)")
    expect(advertising).not_to_be_checked()
    expect(advertising).to_be_disabled()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Accept all").click()
    expect(page.get_by_text("Your cookie choices are saved.")).to_be_visible()
    assert _choices(page, live_server) == ALL_ON | {"advertising": False}


def test_no_gpc_shows_no_honored_notice(page, live_server):
    page.goto(live_server.url + "/preferences")
    expect(page.get_by_role("switch", name="Advertising (sale or sharing)")).to_be_enabled()
    expect(page.get_by_text("Opt-Out Request Honored")).to_have_count(0)


def test_center_and_banner_work_without_javascript(no_js_page, live_server):
    page = no_js_page
    page.goto(live_server.url + "/status")
    page.get_by_role("region", name="Your cookie choices").get_by_role("button", name="Reject all").click()
    expect(page).to_have_url(live_server.url + "/status")
    expect(page.get_by_text("Your cookie choices are saved.")).to_be_visible()
    expect(page.get_by_role("region", name="Your cookie choices")).to_have_count(0)
    assert _choices(page, live_server) == ALL_OFF

    page.goto(live_server.url + "/preferences")
    page.get_by_role("switch", name="Functional").check()
    page.get_by_role("switch", name="Advertising (sale or sharing)").check()
    page.get_by_role("button", name="Save choices").click()
    # After the rejection, advertising comes back only through the separate confirmation (§7028).
    assert _choices(page, live_server) == {**ALL_OFF, "functional": True}
    page.get_by_role("button", name="Yes, allow the sale or sharing").click()
    expect(page.get_by_text("Your cookie choices are saved.")).to_be_visible()
    expect(page.get_by_role("switch", name="Functional")).to_be_checked()
    expect(page.get_by_role("switch", name="Analytics")).not_to_be_checked()
    assert _choices(page, live_server) == {**ALL_OFF, "functional": True, "advertising": True}
    page.get_by_role("link", name="See the history of your choices").click()
    expect(page.get_by_role("table", name="Your choices").locator("tbody tr")).to_have_count(3)


class _Site(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def business_site(live_server, site_port, tmp_path):
    """The business's own website on another origin, including the portal's script and nothing else."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Billgenix</title>'
        f'<script src="{live_server.url}/static/js/consent-banner.js" defer></script></head>'
        "<body><main><h1>Billgenix billing</h1></main></body></html>")
    handler = functools.partial(_Site, directory=str(tmp_path / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", site_port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{site_port}/index.html"
    server.shutdown()
    server.server_close()


def test_business_site_shows_the_banner_and_reads_the_choices(page, live_server, business_site):
    page.goto(business_site)
    banner = page.get_by_role("region", name="Your cookie choices")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("link", name="Choose by category")).to_have_attribute(
        "href", live_server.url + "/preferences")
    click = Clicks()
    click(banner.get_by_role("button", name="Reject all"))
    expect(banner.get_by_role("status")).to_have_text("Your cookie choices are saved. You can change them at any time.")
    assert click.count == 1
    page.reload()
    state = page.evaluate("() => window.PortalConsent.ready")
    assert state["decided"] is True and state["choices"] == ALL_OFF
    expect(page.get_by_role("region", name="Your cookie choices")).to_have_count(0)
    # The portal itself sees the same choice, recorded through the API.
    page.goto(live_server.url + "/preferences/history")
    expect(page.get_by_role("cell", name="Our website's banner")).to_be_visible()


def test_business_site_with_gpc_shows_the_honored_notice(gpc_page, live_server, business_site):
    page = gpc_page
    page.goto(business_site)
    banner = page.get_by_role("region", name="Your cookie choices")
    expect(banner.get_by_text("Opt-Out Request Honored")).to_be_visible()
    banner.get_by_role("button", name="Accept all").click()
    expect(banner.get_by_role("status")).to_have_text("Your cookie choices are saved. You can change them at any time.")
    assert page.evaluate("() => window.PortalConsent.allowed('advertising')") is False
    assert page.evaluate("() => window.PortalConsent.allowed('analytics')") is True


def test_after_rejecting_advertising_comes_back_only_through_a_confirmation(page, live_server, csp_violations):
    """§7028: a choice, then a separate confirmation that says what it means; accessible, CSP-clean."""
    page.goto(live_server.url + "/")
    page.get_by_role("region", name="Your cookie choices").get_by_role("button", name="Reject all").click()
    expect(page.get_by_role("heading", name="Your cookie choices are saved")).to_be_visible()
    page.goto(live_server.url + "/preferences")
    expect(page.get_by_text("Turning this on takes a second step")).to_be_visible()
    page.get_by_role("switch", name="Advertising (sale or sharing)").check()
    page.get_by_role("button", name="Save choices").click()
    expect(page.get_by_role("heading", name="Confirm: allow the sale or sharing of your personal information",
                            level=1)).to_be_visible()
    assert _choices(page, live_server)["advertising"] is False
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Yes, allow the sale or sharing").click()
    expect(page.get_by_text("Your cookie choices are saved.")).to_be_visible()
    assert _choices(page, live_server)["advertising"] is True
    assert csp_violations == []
