"""With the database unreachable (restarting, or down), pages answer a clean 503 the client may
retry: the site's error page with Retry-After, never a stack trace or a 500."""
import logging

import pytest
from cryptography.fernet import Fernet

from ..support import csrf_from


def test_a_page_that_needs_the_database_answers_503_while_it_is_down(app_config, caplog):
    from portal import create_app
    # Keys given: a keyless first start against a database it cannot reach refuses (instance_keys).
    app = create_app({**app_config, "DATABASE_URL": "postgresql+psycopg://portal@127.0.0.1:9/unreachable",
                      "SECRET_KEY": "s" * 48, "ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SUBJECT_HASH_KEY": "h" * 48})
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


def _backend_pid(app) -> int:
    """The server process behind the (only) pooled connection, which goes back to the pool."""
    from portal import db
    with app.app_context(), db.engine().connect() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def _drop_connection(app, pid: int) -> None:
    """What a server restart or a firewall does to a pooled connection, from another connection."""
    import psycopg
    url = app.config["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def test_a_connection_dropped_while_idle_costs_no_request(app, monkeypatch):
    """PostgreSQL: a pooled connection idle for PING_AFTER_IDLE_SECONDS is pinged before use and,
    found dead, replaced; one back in the pool a moment ago is used without a round trip, and a
    dead one then costs that one request a clean 503."""
    from portal import db
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("the pool's liveness check is PostgreSQL's (SQLite is a local file)")
    engine = app.extensions["db_engine"]
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or real_ping(conn))
    client = app.test_client()

    # Busy: requests one after another reuse the connection without a ping.
    assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 200] and pings == []

    # Quiet: the connection sat idle, the server dropped it; the next request does not notice.
    _drop_connection(app, _backend_pid(app))
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert client.get("/healthz").status_code == 200 and len(pings) == 1

    # Dropped within the moment (no ping): that request answers 503, and the next one recovers.
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    _drop_connection(app, _backend_pid(app))
    assert client.get("/healthz").status_code == 503
    assert client.get("/healthz").status_code == 200 and len(pings) == 1
