"""Token redaction works with a real gunicorn on loopback, in its access and error logs."""
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from portal import db as portal_db
from portal.security import RedactTokens

from ..support import free_port

REPO = Path(__file__).resolve().parents[2]
SECRETS = ("VERIFYSECRET123", "STATUSSECRET456", "AGENTSECRET789", "INVITESECRET000")


def _wait_for_port(port: int, proc, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("gunicorn exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not start")


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn wsgi:app on a free loopback port, with its access and error logs in files."""
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    portal_db.upgrade(url)
    port = free_port()
    logs = {"access": tmp_path / "access.log", "error": tmp_path / "error.log"}
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "PORTAL_DATABASE_URL": url,
           "PORTAL_MAIL_BACKGROUND_DELIVERY": "false", "PORTAL_RATELIMIT_ENABLED": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                             "--access-logfile", str(logs["access"]), "--error-logfile", str(logs["error"]),
                             "--log-level", "info", "wsgi:app"], cwd=REPO, env=env)
    try:
        _wait_for_port(port, proc)
        yield port, logs
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _get(port: int, path: str) -> int:
    try:
        # The first request waits for the worker to import the app: generous under a loaded machine.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=60) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _read_when(logs, ready, timeout: float = 20) -> tuple[str, str]:
    """The two logs once `ready(access, error)` holds (gunicorn writes after the response), or at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        access, error = logs["access"].read_text(), logs["error"].read_text()
        if ready(access, error) or time.monotonic() > deadline:
            return access, error
        time.sleep(0.1)


def _raw(port: int, data: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.recv(4096)


def test_gunicorn_access_and_error_logs_carry_no_tokens(gunicorn):
    port, logs = gunicorn
    paths = [f"/verify/{SECRETS[0]}", f"/status/{SECRETS[1]}?x=1", f"/agent/confirm/{SECRETS[2]}",
             f"/staff/invite/{SECRETS[3]}"]
    for path in paths:
        assert _get(port, path) < 500
    # A request line gunicorn itself refuses: its error log quotes the line, token and all.
    _raw(port, f"GET /verify/{SECRETS[0]} HTTP/1.1 trailing-junk\r\nHost: x\r\n\r\n".encode())
    _raw(port, f"GET /status/{SECRETS[1]}\x01 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    access, error = _read_when(logs, lambda a, e: a.count("\n") >= len(paths) and "Invalid" in e)
    assert access.count("\n") >= len(paths), access  # one line per request: the access log works
    for path in ("/verify/[token]", "/status/[token]", "/agent/confirm/[token]", "/staff/invite/[token]"):
        assert path in access
    assert "Invalid request" in error, error
    for secret in SECRETS:
        assert secret not in access and secret not in error
    assert "TypeError" not in error and "format requires a mapping" not in error


def test_the_filter_keeps_mapping_arguments_as_a_mapping():
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(h)s \"%(r)s\" %(s)s",
                               ({"h": "127.0.0.1", "r": f"GET /verify/{SECRETS[0]} HTTP/1.1", "s": 200},), None)
    assert isinstance(record.args, dict)
    RedactTokens().filter(record)
    assert record.getMessage() == '127.0.0.1 "GET /verify/[token] HTTP/1.1" 200'
