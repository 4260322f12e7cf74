"""A streamed answer that takes longer than gunicorn's timeout arrives whole under deploy/gunicorn.conf.py
(a sync worker was killed mid-download: a 200 with half a file)."""
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..support import free_port

REPO = Path(__file__).resolve().parents[2]


def test_a_download_longer_than_the_worker_timeout_is_not_cut(tmp_path):
    port = free_port()
    env = dict(os.environ, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="1", GUNICORN_TIMEOUT="2",
               GUNICORN_ACCESSLOG="-", SLOW_STREAM_CHUNKS="5", SLOW_STREAM_PAUSE="1",
               PYTHONPATH=str(REPO / "tests" / "e2e"))
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "--config", str(REPO / "deploy" / "gunicorn.conf.py"),
                             "slow_stream_app:app"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20) as resp:
                    body = resp.read()
                break
            except (ConnectionRefusedError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
    assert body.endswith(b"end\n") and body.count(b"row ") == 5, (body, (tmp_path / "gunicorn.log").read_text()[-2000:])
