"""With the database unreachable (restarting, or down), pages answer a clean 503 the client may
retry: the site's error page with Retry-After, never a stack trace or a 500."""
import logging

from ..support import csrf_from


def test_a_page_that_needs_the_database_answers_503_while_it_is_down(app_config, caplog):
    from portal import create_app
    app = create_app({**app_config, "DATABASE_URL": "postgresql+psycopg://portal@127.0.0.1:9/unreachable"})
    client = app.test_client()
    token = csrf_from(client.get("/status").get_data(as_text=True))
    caplog.set_level(logging.WARNING)
    resp = client.post("/status", data={"csrf_token": token, "reference": "PR-ABCD-EFGH", "email": "ana@example.org"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert "We are briefly unavailable" in page and "Traceback" not in page and "psycopg" not in page
    assert "ana@example.org" not in caplog.text and "database unavailable on POST /status" in caplog.text
    assert client.get("/healthz").status_code == 503
    spanish = client.post("/status?lang=es", data={"csrf_token": token, "reference": "PR-ABCD-EFGH",
                                                   "email": "ana@example.org"})
    assert spanish.status_code == 503 and "We are briefly unavailable" not in spanish.get_data(as_text=True)
    app.extensions["db_engine"].dispose()


def test_forms_post_over_https_without_a_referer(app_config):
    """Behind TLS (nginx sets X-Forwarded-Proto) browsers send no Referer (Referrer-Policy: no-referrer):
    a form must still go through, on its CSRF token; and without the token it is still refused."""
    from portal import create_app
    from ..support import request_form
    app = create_app({**app_config, "BASE_URL": "https://privacy.example.org", "PROXY_FIX_X_FOR": 1})
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    page = client.get("/requests/new?type=opt_out", headers=https)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    sent = client.post("/requests/new", headers=https,
                       data={"csrf_token": csrf_from(page.get_data(as_text=True)), **request_form("opt_out")})
    assert sent.status_code == 303
    forged = client.post("/requests/new", headers=https, data=request_form("opt_out"))
    assert forged.status_code == 400
    app.extensions["db_engine"].dispose()


def test_a_signed_in_console_page_answers_503_while_the_database_is_down(app, client):
    """Loading the member of staff fails too; the error page must not try again (a 500 then)."""
    from portal import db as portal_db
    from ..support import make_staff, sign_in
    sign_in(client, make_staff(app, "admin"))
    assert client.get("/staff/").status_code == 200
    app.extensions["db_engine"].dispose()
    app.extensions["db_engine"] = portal_db.make_engine("postgresql+psycopg://portal@127.0.0.1:9/unreachable")
    resp = client.get("/staff/")
    assert resp.status_code == 503 and "We are briefly unavailable" in resp.get_data(as_text=True)
