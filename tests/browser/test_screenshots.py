"""The README's screenshots, taken while walking the real pages in both languages.

As a test it checks each page shown; `scripts/screenshots.sh` runs it with PORTAL_SCREENSHOTS_DIR
set to docs/screenshots so the pictures in the README always show the portal as it is."""
import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..support import STAFF_PASSWORD, link_in, make_staff, new_case

HEADINGS = {
    "en": {"home": "Your privacy rights with Billgenix", "request": "Make a privacy request",
           "status": "Request PR-", "preferences": "Cookie preferences"},
    "es": {"home": "Sus derechos de privacidad con Billgenix", "request": "Hacer una solicitud de privacidad",
           "status": "Solicitud PR-", "preferences": "Preferencias de cookies"},
}


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("PORTAL_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def wide_page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 760}, reduced_motion="reduce")
    yield context.new_page()
    context.close()


def _shoot(page, folder: Path, name: str, heading: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize("lang", ["en", "es"])
def test_readme_screenshots(wide_page, live_server, shots, lang):
    page, url, texts = wide_page, live_server.url, HEADINGS[lang]
    page.goto(f"{url}/?lang={lang}")
    page.locator("#consent-banner button[value=reject_all]").click()  # the banner is shown on its own below
    expect(page.locator("#consent-banner-title")).to_be_focused()
    page.goto(f"{url}/?lang={lang}")
    _shoot(page, shots, f"home-{lang}", texts["home"])

    page.goto(f"{url}/requests/new?type=access&lang={lang}")
    page.locator("#first_name").fill("María")
    page.locator("#last_name").fill("López")
    page.locator("#email").fill(f"maria.{lang}@example.org")
    page.locator("#access_scope-0").check()
    _shoot(page, shots, f"request-form-{lang}", texts["request"])
    page.locator("main form button[type=submit]").click()
    page.goto(url + link_in(live_server.mail_to(f"maria.{lang}@example.org")[0], "/verify/"))
    page.locator("main form button[type=submit]").click()
    _shoot(page, shots, f"status-{lang}", texts["status"])

    page.goto(f"{url}/preferences?lang={lang}")
    _shoot(page, shots, f"preferences-{lang}", texts["preferences"])


def test_readme_console_screenshot(wide_page, live_server, shots):
    app = live_server.app
    for n, (kind, first, last) in enumerate([("access", "Ana", "Ruiz"), ("delete", "Luis", "Ortega"),
                                             ("correct", "Mei", "Chen"), ("opt_out", "Sam", "Patel")]):
        new_case(app, kind, email=f"person{n}@example.org", first_name=first, last_name=last)
    admin = make_staff(app, "admin")
    page = wide_page
    page.goto(live_server.url + "/staff/login")
    page.locator("#email").fill(admin.email)
    page.locator("#password").fill(STAFF_PASSWORD)
    page.locator("main form button[type=submit]").click()
    _shoot(page, shots, "console-queue", "Queue")
