"""Rate limits in Redis: shared by every process, and when Redis goes down, counted in memory
with a warning instead of failing every form (and readiness says so). Real redis-server, real gunicorn."""
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
import redis as redis_client

from portal import create_app
from portal import db as portal_db
from portal.services.delivery import heartbeat

from ..processes import Gunicorn, RedisServer
from ..support import free_port, post_form, request_form


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def ready(client):
    resp = client.get("/readyz")
    return resp.status_code, resp.get_json()


def test_redis_stopped_mid_test_forms_still_answer_limits_hold_in_memory_and_readiness_says_503(
        app_config, redis, caplog):
    app_config.update(RATELIMIT_STORAGE_URL=redis.url, RATELIMIT_STATUS="3 per hour")
    app = create_app(app_config)
    try:
        client = app.test_client()
        heartbeat.beat(app.extensions["db_engine"], "worker")
        status, body = ready(client)
        assert status == 200 and body["checks"]["rate_limit_storage"] == {"ok": True, "value": True}
        assert post_form(client, "/requests/new", request_form("opt_out", email="one@example.org")).status_code == 303
        assert redis_client.Redis.from_url(redis.url).keys("LIMITS:*"), "the count is kept in Redis"

        redis.stop()
        resp = post_form(client, "/requests/new", request_form("opt_out", email="two@example.org"))
        assert resp.status_code == 303  # not 500
        assert "falling back to in-memory storage" in caplog.text
        status, body = ready(client)
        assert status == 503 and body["checks"]["rate_limit_storage"] == {"ok": False, "value": False}
        assert all(check["ok"] for name, check in body["checks"].items() if name != "rate_limit_storage")
        # The limits still apply, counted in this process's memory.
        codes = [post_form(client, "/status", {"reference": "PR-0000-0000", "email": "x@example.org"}).status_code
                 for _ in range(4)]
        assert 429 not in codes[:3] and 500 not in codes and codes[3] == 429

        redis.start()
        assert ready(client)[0] == 200
    finally:
        app.extensions["db_engine"].dispose()


def test_redis_down_at_start_up_the_portal_starts_and_answers(app_config):
    app_config.update(RATELIMIT_STORAGE_URL=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    app = create_app(app_config)
    try:
        client = app.test_client()
        assert post_form(client, "/requests/new", request_form("opt_out")).status_code == 303
        status, body = ready(client)
        assert status == 503 and body["checks"]["rate_limit_storage"]["ok"] is False
    finally:
        app.extensions["db_engine"].dispose()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_two_gunicorn_instances_share_the_limits_through_one_redis(tmp_path, redis):
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    portal_db.upgrade(url)
    env = {"PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "PORTAL_DATABASE_URL": url,
           "PORTAL_SECRET_KEY": "shared-secret-key-for-both-instances", "PORTAL_MAIL_BACKGROUND_DELIVERY": "false",
           "PORTAL_RATELIMIT_STORAGE_URL": redis.url, "PORTAL_RATELIMIT_STATUS": "4 per hour",
           "PORTAL_STATUS_RESPONSE_SECONDS": "0"}
    first, second = Gunicorn(env), Gunicorn(env)
    try:
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                              _NoRedirect())
        page = browser.open(first.url("/status"), timeout=60).read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "reference": "PR-0000-0000",
                                       "email": "x@example.org"}).encode()

        def post(instance) -> int:
            try:
                return browser.open(instance.url("/status"), data=form, timeout=60).status
            except urllib.error.HTTPError as exc:
                return exc.code

        answers = [post(first) for _ in range(4)]
        assert 429 not in answers and 500 not in answers and 400 not in answers
        # The second instance has not seen this client yet, and still refuses: the count is shared.
        assert post(second) == 429
        assert post(first) == 429
    finally:
        first.stop()
        second.stop()
