"""Real processes for tests: redis-server, gunicorn, a throwaway PostgreSQL cluster.

A test that needs a binary fails in CI when it is missing (CI=true) and is skipped elsewhere."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from .support import free_port, require_binary

REPO = Path(__file__).resolve().parents[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{proc.args[0]} exited early")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port}")


class RedisServer:
    """A redis-server of our own on a free loopback port, without persistence."""

    def __init__(self, folder: Path):
        self.binary = require_binary("redis-server", "apt-get install -y redis-server")
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


class Gunicorn:
    """`gunicorn wsgi:app` on a free loopback port with the given environment."""

    def __init__(self, env: dict, *, workers: int = 1, log: Path | None = None, args: tuple = ()):
        self.port = free_port()
        self.log = log
        out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115  closed in stop()
        self._out = out
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             *args, "wsgi:app"], cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=out)
        wait_for_port(self.port, self.proc, timeout=60)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        if hasattr(self._out, "close"):
            self._out.close()


def http(url: str, *, data: bytes | None = None, headers: dict | None = None, timeout: float = 60):
    """(status, body text, headers) of one real HTTP request; errors are answers too."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers


class PostgresCluster:
    """A PostgreSQL cluster of our own (scripts/test-postgres.sh), for a test that stops it."""

    def __init__(self):
        if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
            message = "PostgreSQL is not installed (apt-get install -y postgresql)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        # Under /tmp itself: the postgres user cannot enter pytest's private folders.
        self.dir = Path(tempfile.gettempdir()) / f"portal-pg-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.env = {**os.environ, "PORTAL_TEST_PG_DIR": str(self.dir)}

    def start(self) -> str:
        out = subprocess.run([str(REPO / "scripts/test-postgres.sh"), "start", str(self.port)], env=self.env,
                             check=True, capture_output=True, text=True).stdout
        return out.strip().split("=", 1)[1]

    def stop(self) -> None:
        subprocess.run([str(REPO / "scripts/test-postgres.sh"), "stop"], env=self.env, capture_output=True)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
