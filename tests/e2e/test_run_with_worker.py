"""`make run` ends with scripts/run-portal.sh: the web process and the worker side by side, one
command; Ctrl-C (SIGINT to the script) stops both, and so does either one ending."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..processes import REPO, wait_for_port
from ..support import free_port

BIN = Path(sys.executable).parent


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def _start(tmp_path):
    instance = tmp_path / "instance"
    env = {**os.environ, "PORTAL_INSTANCE_PATH": str(instance)}
    env.pop("PORTAL_DATABASE_URL", None)
    subprocess.run([str(BIN / "flask"), "--app", "portal", "db", "upgrade"], cwd=REPO, env=env, check=True,
                   capture_output=True)
    port = free_port()
    proc = subprocess.Popen([str(REPO / "scripts" / "run-portal.sh"), str(BIN), str(port)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, proc, timeout=60)
    return proc, port, instance


def _stop_all(proc) -> None:
    """Leave nothing running, whatever failed: the script and both of its processes."""
    children = _children(proc.pid)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for child in children:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def _worker_beat(instance: Path, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(instance / "portal.db") as conn:
            if conn.execute("select count(*) from worker_heartbeat where name = 'worker'").fetchone()[0]:
                return True
        time.sleep(0.5)
    return False


def test_one_command_runs_the_web_and_the_worker_and_ctrl_c_stops_both(tmp_path):
    proc, port, instance = _start(tmp_path)
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
        with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=30) as resp:
            assert resp.status == 200
        assert _worker_beat(instance), "the worker never beat"
        children = _children(proc.pid)
        assert len(children) >= 2
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 15
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(c) for c in children)
    finally:
        _stop_all(proc)


def test_when_the_web_process_ends_the_worker_stops_too(tmp_path):
    proc, _port, instance = _start(tmp_path)
    try:
        assert _worker_beat(instance)
        children = _children(proc.pid)
        web = [c for c in children if b"run" in Path(f"/proc/{c}/cmdline").read_bytes().split(b"\0")]
        assert len(web) == 1
        os.kill(web[0], signal.SIGKILL)
        assert proc.wait(timeout=30) == 0
        time.sleep(1)
        assert not any(_alive(c) for c in children)
    finally:
        _stop_all(proc)
