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
