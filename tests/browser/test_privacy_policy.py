"""The privacy policy built from the Billgenix map, in a real browser: every section reachable, the
category table scrolls by keyboard, axe finds nothing, in English and Spanish."""
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .axe import assert_no_axe_violations

MAP = Path(__file__).resolve().parents[2] / "examples" / "billgenix" / "datamap"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "DATAMAP_PATH": str(MAP), "PRIVACY_TOLL_FREE": "(888) 555-0199",
            "SENSITIVE_USE_BEYOND_7027M": False, "PUBLISH_METRICS": True}


@pytest.mark.parametrize(("lang", "collected", "rights"), [
    ("en", "Personal information we collected in the last 12 months", "Your California privacy rights"),
    ("es", "Información personal que recopilamos en los últimos 12 meses", "Sus derechos de privacidad de California")])
def test_the_generated_policy_reads_and_passes_axe(page, live_server, lang, collected, rights):
    page.goto(f"{live_server.url}/privacy?lang={lang}")
    expect(page.get_by_role("heading", name=collected)).to_be_visible()
    expect(page.get_by_role("heading", name=rights)).to_be_visible()
    table = page.get_by_role("region", name="Categories of personal information" if lang == "en" else "Categorías")
    table.focus()
    expect(table).to_be_focused()
    assert page.get_by_role("rowheader").count() >= 5
    assert_no_axe_violations(page)
