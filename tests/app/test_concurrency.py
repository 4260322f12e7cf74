"""Concurrent submissions against one SQLite file never fail with "database is locked"."""
import threading

from sqlalchemy import func, select

from portal import create_app, db
from portal.models import PrivacyRequest

from ..support import csrf_from, request_form


def test_parallel_submissions_all_succeed(app_config):
    app = create_app({**app_config, "RATELIMIT_ENABLED": False})
    results, errors = [], []

    def submit(worker: int):
        client = app.test_client()
        try:
            for i in range(8):
                page = client.get("/requests/new").get_data(as_text=True)
                resp = client.post("/requests/new", data={
                    "csrf_token": csrf_from(page), **request_form("opt_out", email=f"w{worker}-{i}@example.org")})
                results.append(resp.status_code)
        except Exception as exc:  # noqa: BLE001  collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == [303] * 48
    with app.app_context():
        assert db.session().execute(select(func.count()).select_from(PrivacyRequest)).scalar() == 48
    app.extensions["db_engine"].dispose()
