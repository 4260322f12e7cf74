"""A toll-free number for requests (§1798.130(a)(1)(A)): offered wherever the methods are when set;
without one, and unless the business is exclusively online, start-up warns and the console says so."""
import logging
from contextlib import contextmanager

import pytest

from portal import create_app

from ..support import make_staff, sign_in

NUMBER = "(888) 555-0199"


@contextmanager
def portal(config):
    """An app of its own configuration, closed afterwards as the `app` fixture closes its own."""
    app = create_app(config)
    try:
        yield app
    finally:
        app.extensions["mail_delivery"].stop()
        app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("path", ["/", "/privacy", "/requests/new"])
def test_the_toll_free_number_is_offered_as_the_phone_method(app_config, path):
    with portal({**app_config, "PRIVACY_TOLL_FREE": NUMBER}) as app:
        for lang in ("en", "es"):
            page = app.test_client().get(f"{path}?lang={lang}").get_data(as_text=True)
            text = "toll-free at" if lang == "en" else "sin costo al"
            assert f"{text} {NUMBER}" in page, (path, lang)
            assert 'href="tel:8885550199"' in page


def test_without_one_start_up_warns_and_the_console_says_so(app_config, caplog):
    with caplog.at_level(logging.WARNING, logger="portal.config"), portal(app_config) as app:
        assert any("toll-free" in r.getMessage() for r in caplog.records)
        client = app.test_client()
        sign_in(client, make_staff(app, "support"))
        assert "No toll-free number is set" in client.get("/staff/").get_data(as_text=True)


@pytest.mark.parametrize("settings", [{"PRIVACY_TOLL_FREE": NUMBER}, {"EXCLUSIVELY_ONLINE": True}])
def test_no_warning_with_a_number_or_exclusively_online(app_config, caplog, settings):
    with caplog.at_level(logging.WARNING, logger="portal.config"), portal({**app_config, **settings}) as app:
        assert not any("toll-free" in r.getMessage() for r in caplog.records)
        client = app.test_client()
        sign_in(client, make_staff(app, "support"))
        assert "No toll-free number is set" not in client.get("/staff/").get_data(as_text=True)
