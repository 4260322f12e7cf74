"""§7025(c)(6): whether the Global Privacy Control signal was honored is shown whenever the signal is
present, not only while the banner is open: on every portal page and in the API the business's site
script reads (which shows it too)."""
from pathlib import Path

import pytest

from ..support import csrf_from

GPC = {"Sec-GPC": "1"}


def _reject_all(client):
    page = client.get("/preferences", headers=GPC)
    resp = client.post("/preferences", headers=GPC, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                          "action": "reject_all", "source": "banner"})
    assert resp.status_code == 303


@pytest.mark.parametrize("path", ["/", "/requests/new", "/privacy", "/status", "/agent/requests/new"])
def test_every_page_shows_it_after_the_first_choice(client, path):
    _reject_all(client)
    for lang, text in (("en", "Opt-Out Request Honored"), ("es", "Solicitud de exclusión respetada")):
        page = client.get(f"{path}?lang={lang}", headers=GPC).get_data(as_text=True)
        assert 'id="consent-banner"' not in page and 'class="consent-banner' not in page
        assert text in page, (path, lang)
    assert "Opt-Out Request Honored" in client.get(f"{path}?lang=en", headers=GPC).get_data(as_text=True)
    assert "Opt-Out Request Honored" not in client.get(f"{path}?lang=en").get_data(as_text=True)


def test_the_api_carries_it_for_the_business_site_whenever_the_signal_is_present(client, app):
    _reject_all(client)
    state = client.get("/api/consent?lang=en", headers=GPC).get_json()
    assert state["decided"] and state["gpc"]["notice"]["title"] == "Opt-Out Request Honored"
    assert "notice" not in client.get("/api/consent").get_json()["gpc"]
    script = (Path(app.static_folder) / "js" / "consent-banner.js").read_text()
    assert "current.gpc.notice" in script and "showGpcStatus" in script
