"""LOG_FORMAT=json: one JSON object per line with time, level, logger, message and the request id;
the token redaction still applies."""
import json
import logging

import pytest

from portal import create_app


@pytest.fixture
def json_app(app_config):
    app_config["LOG_FORMAT"] = "json"
    root = logging.getLogger()
    level = root.level
    app = create_app(app_config)

    @app.get("/_test/log")
    def _log():  # a view that logs, as any of ours may, with a token-bearing path in it
        logging.getLogger("werkzeug").info('"GET /verify/VERIFYSECRET123 HTTP/1.1" 200 -')
        logging.getLogger("portal.services.delivery.mail").warning("mail %s not delivered: %s", 7, "/status/STATUSSECRET456")
        return "ok"

    yield app
    for handler in [h for h in root.handlers if getattr(h, "portal_json", False)]:
        root.removeHandler(handler)
    root.setLevel(level)
    app.extensions["db_engine"].dispose()


def test_each_record_is_one_json_line_with_the_request_id_and_no_token(json_app, capsys):
    resp = json_app.test_client().get("/_test/log")
    assert resp.status_code == 200
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    by_logger = {r["logger"]: r for r in records}
    access, mail = by_logger["werkzeug"], by_logger["portal.services.delivery.mail"]
    assert access["message"] == '"GET /verify/[token] HTTP/1.1" 200 -' and access["level"] == "INFO"
    assert mail["message"] == "mail 7 not delivered: /status/[token]" and mail["level"] == "WARNING"
    for record in (access, mail):
        assert set(record) == {"time", "level", "logger", "message", "request_id"}
        assert record["request_id"] == resp.headers["X-Request-Id"]
        assert record["time"].endswith("+00:00")
    assert "SECRET" not in "".join(lines)


def test_outside_a_request_there_is_no_request_id(json_app, capsys):
    logging.getLogger("portal.worker").error("pass failed")
    [record] = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert record["message"] == "pass failed" and "request_id" not in record


def test_a_callers_request_id_is_kept_only_behind_a_trusted_proxy(app_config, request):
    app_config["PROXY_FIX_X_FOR"] = 1
    client = request.getfixturevalue("client")
    assert client.get("/healthz", headers={"X-Request-Id": "lb-1234"}).headers["X-Request-Id"] == "lb-1234"
    assert client.get("/healthz", headers={"X-Request-Id": "bad id!"}).headers["X-Request-Id"] != "bad id!"


def test_without_a_trusted_proxy_the_callers_request_id_is_replaced(client):
    assert client.get("/healthz", headers={"X-Request-Id": "lb-1234"}).headers["X-Request-Id"] != "lb-1234"
