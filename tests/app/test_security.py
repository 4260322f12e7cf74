"""The security baseline: headers, cookies, secrets on first start, nothing personal in logs."""
import logging
import os
import stat
import time

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from portal import create_app, db
from portal.models import PrivacyRequest

from ..support import link_in, post_form, request_form


def test_headers_on_every_page(client):
    for path in ("/", "/requests/new", "/status", "/no-such-page"):
        h = client.get(path).headers
        csp = h["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"
        assert h["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in client.get("/").headers  # plain http in tests


def test_baseline_headers_keep_a_views_own_and_vary_lists_each_once(app):
    from flask import Response

    from portal.security import CSP, add_vary, apply_headers
    own = Response("{}", mimetype="application/json", headers={"Content-Security-Policy": "default-src 'none'",
                                                                 "X-Frame-Options": "SAMEORIGIN", "Vary": "Origin"})
    apply_headers(own, {"SESSION_COOKIE_SECURE": True})
    assert own.headers["Content-Security-Policy"] == "default-src 'none'"  # a view's own policy stays
    assert own.headers.getlist("X-Frame-Options") == ["DENY"] and own.headers["Cache-Control"] == "no-store"
    assert own.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = apply_headers(Response(b"x", mimetype="text/csv"), {"SESSION_COOKIE_SECURE": False})
    assert plain.headers["Content-Security-Policy"] == CSP and "Cache-Control" not in plain.headers
    assert "Strict-Transport-Security" not in plain.headers
    add_vary(own, "Cookie", "Accept-Language")
    add_vary(own, "accept-language", "HX-Request", "origin")
    assert own.headers["Vary"] == "Origin, Cookie, Accept-Language, HX-Request"
    add_vary(plain, "HX-Request")
    assert plain.headers["Vary"] == "HX-Request"


def test_the_session_follows_the_secret_key_and_its_fallbacks(app):
    """The session's serializer is kept between requests, never past a change of keys."""
    client = app.test_client()
    with client.session_transaction() as s:
        s["marker"] = "signed with the first key"
    first_key = app.secret_key
    app.config["SECRET_KEY"] = "rotated-" + "y" * 40
    with client.session_transaction() as s:
        assert "marker" not in s  # the old key is no longer trusted
    app.config["SECRET_KEY_FALLBACKS"] = [first_key]
    with client.session_transaction() as s:
        assert s["marker"] == "signed with the first key"  # ...until it is named as a fallback


def test_a_session_cookie_verified_before_is_still_checked_each_time(app, time_machine):
    """A session cookie read before comes from memory: each request still gets its own copy, and
    the cookie is still refused when tampered with or once older than the session's lifetime."""
    from datetime import datetime, timedelta, timezone

    from flask import request
    signed_at = datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc)
    time_machine.move_to(signed_at, tick=False)
    interface, name = app.session_interface, app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context("/"):
        cookie = interface.get_signing_serializer(app).dumps({"status_access": {"ref": "PR-1", "until": 1}})

    def opened(value):
        with app.test_request_context("/", headers={"Cookie": f"{name}={value}"}):
            return interface.open_session(app, request)

    opened(cookie)["status_access"]["ref"] = "changed in place by one request"
    assert opened(cookie)["status_access"] == {"ref": "PR-1", "until": 1}
    assert dict(opened(cookie[:-2] + ("xx" if not cookie.endswith("xx") else "yy"))) == {}
    time_machine.move_to(signed_at + app.permanent_session_lifetime, tick=False)
    assert opened(cookie)["status_access"]["ref"] == "PR-1"  # at its lifetime: still good
    time_machine.move_to(signed_at + app.permanent_session_lifetime + timedelta(seconds=1), tick=False)
    assert dict(opened(cookie)) == {}  # expired, though verified before
    with app.test_request_context("/"):
        flashed = interface.get_signing_serializer(app).dumps({"_flashes": [("message", "Sent to ana@example.org.")]})
    assert opened(flashed)["_flashes"] == [("message", "Sent to ana@example.org.")]
    kept = app.extensions["session_serializer"][2]
    assert cookie in kept and flashed not in kept  # a message that may name a person is not kept in memory


def test_a_sessions_csrf_token_is_signed_once_and_accepted_as_a_fresh_one(app, time_machine):
    """Pages show the token signed for the session before (a view that builds a form signs its own)."""
    from ..support import csrf_from, new_case, status_client
    ana = new_case(app, "delete", email="ana@example.org")
    time_machine.move_to("2026-11-30T18:00:00+00:00", tick=False)
    client = status_client(app, ana.reference, seconds=3600)
    first = csrf_from(client.get(f"/requests/{ana.reference}").get_data(as_text=True))
    time_machine.move_to("2026-11-30T18:05:00+00:00", tick=False)
    again = csrf_from(client.get(f"/requests/{ana.reference}").get_data(as_text=True))
    assert again == first  # kept, though a fresh signing would carry the new time
    answered = client.post("/status", data={"csrf_token": again, "reference": ana.reference, "email": "b@example.org"})
    assert answered.status_code != 400  # accepted as any token signed for the session
    assert client.post("/status", data={"csrf_token": again[:-3] + "abc", "reference": ana.reference,
                                        "email": "b@example.org"}).status_code == 400
    other = status_client(app, ana.reference, seconds=3600)
    assert csrf_from(other.get(f"/requests/{ana.reference}").get_data(as_text=True)) != first  # its own
    with app.test_request_context("/"):
        from flask import session

        from portal.security import csrf_token
        signed = csrf_token()
        session.clear()  # as signing in does, before a page could ask again
        assert csrf_token() == signed
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600  # tokens that expire are signed afresh on each page
    time_machine.move_to("2026-11-30T18:10:00+00:00", tick=False)
    assert csrf_from(client.get(f"/requests/{ana.reference}").get_data(as_text=True)) != first


def test_no_inline_script_or_style_in_pages(client):
    for path in ("/", "/requests/new", "/status"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page and "<style" not in page and " style=" not in page
        assert " onclick=" not in page


def test_session_cookie_is_httponly_and_samesite(client):
    post_form(client, "/status", {"reference": "PR-ABCD-EFGH", "email": "a@example.org"})
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax" and not cookie.secure


def test_https_base_url_makes_cookies_secure_and_sends_hsts(app_config):
    app = create_app({**app_config, "BASE_URL": "https://privacy.example.org"})
    client = app.test_client()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert "max-age=" in client.get("/", base_url="https://privacy.example.org").headers["Strict-Transport-Security"]


def test_first_start_generates_owner_only_secrets(app_config, tmp_path):
    config = {k: v for k, v in app_config.items() if k != "SECRET_KEY"}
    config["INSTANCE_PATH"] = str(tmp_path / "fresh")
    app = create_app(config)
    for name in ("secret_key", "encryption_keys"):
        path = tmp_path / "fresh" / name
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(app.config["SECRET_KEY"]) >= 32 and len(app.config["ENCRYPTION_KEYS"]) == 1
    again = create_app(config)  # the second start reads the same secrets
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_environment_overrides_instance_config(app_config, tmp_path, monkeypatch):
    instance = tmp_path / "envtest"
    instance.mkdir()
    (instance / "config.py").write_text('ORG_NAME = "From Instance"\nPRIVACY_PHONE = "(800) 555-0100"\n')
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("PORTAL_ORG_NAME", "From Env")
    monkeypatch.setenv("PORTAL_DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.setenv("PORTAL_SMTP_PORT", "2525")
    app = create_app()
    assert app.instance_path == str(instance)
    assert app.config["ORG_NAME"] == "From Env" and app.config["PRIVACY_PHONE"] == "(800) 555-0100"
    assert app.config["SMTP_PORT"] == 2525 and app.config["MAIL_FROM"] == "privacy@billgenix.example"


def test_no_personal_data_or_tokens_in_logs(client, app, mailbox, caplog):
    caplog.set_level(logging.DEBUG)
    post_form(client, "/requests/new", request_form("access", email="secret.person@example.org",
                                                    first_name="Zebulon", last_name="Quixote"))
    link = link_in(mailbox.last("secret.person@example.org"), "/verify/")
    client.get(link)
    from portal.security import RedactTokens
    record = logging.LogRecord("werkzeug", logging.INFO, "", 0, '"%s" %s', (f"GET {link} HTTP/1.1", "200"), None)
    RedactTokens().filter(record)
    assert link.split("/")[-1] not in record.getMessage() and "/verify/[token]" in record.getMessage()
    logged = caplog.text
    for personal in ("secret.person", "Zebulon", "Quixote"):
        assert personal not in logged
    assert "PR-" in logged  # references are logged instead


@pytest.mark.parametrize("path", ["/healthz"])
def test_healthz_reports_503_when_the_database_is_gone(app_config, tmp_path, path):
    # Keys given: a keyless first start against a database it cannot reach refuses (instance_keys).
    app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path}/missing-dir/nope.db",
                      "SECRET_KEY": "s" * 48, "ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SUBJECT_HASH_KEY": "h" * 48})
    resp = app.test_client().get(path)
    assert resp.status_code == 503 and resp.get_json()["database"] is False


def test_status_answers_take_the_same_padded_time_match_or_not(app_config, request):
    """A status-link answer takes at least STATUS_RESPONSE_SECONDS whether or not the reference
    and email matched, so its timing tells nothing (the rest of the suite runs without the padding)."""
    app_config["STATUS_RESPONSE_SECONDS"] = 0.3
    app, client = request.getfixturevalue("app"), request.getfixturevalue("client")
    post_form(client, "/requests/new", request_form("opt_out"))
    with app.app_context():
        reference = db.session().execute(select(PrivacyRequest.reference)).scalar_one()
    for pair in ({"reference": reference, "email": "ana.ruiz@example.org"},
                 {"reference": "PR-0000-0000", "email": "nobody@example.org"}):
        started = time.monotonic()
        resp = post_form(client, "/status", pair)
        assert resp.status_code == 303 and resp.headers["Location"] == "/status/sent"
        assert time.monotonic() - started >= 0.3
