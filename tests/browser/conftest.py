"""Browser tests: Playwright drives Debian's Chromium against the app on a live loopback server.

A missing Chromium skips these tests on a developer machine and fails the run in CI (CI=true)."""
import os
import shutil
import threading
import time

import pytest
from werkzeug.serving import make_server

from portal import create_app

from ..support import Mailbox, free_port

CHROMIUM = os.environ.get("PORTAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)


def pytest_collection_modifyitems(config, items):
    browser_items = [i for i in items if "tests/browser/" in str(i.fspath).replace(os.sep, "/")]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    if browser_items and not HAVE_CHROMIUM:
        if os.environ.get("CI"):
            raise pytest.UsageError(f"Chromium not found at {CHROMIUM}: CI must install it (apt-get install chromium)")
        for item in browser_items:
            item.add_marker(pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM}; apt-get install chromium"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync"]}


class LiveServer:
    def __init__(self, app, url):
        self.app, self.url = app, url
        self.mailbox = Mailbox(app)

    def mail_to(self, address: str, count: int = 1, timeout: float = 10):
        """Wait for the running app's own delivery thread to write `count` mails to `address`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.mailbox.read() if m["To"] == address]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"fewer than {count} mails reached {address} within {timeout} s")


@pytest.fixture
def live_server(app_config):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app({**app_config, "BASE_URL": url, "MAIL_BACKGROUND_DELIVERY": True, "MAIL_POLL_SECONDS": 0.2})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(app, url)
    server.shutdown()
    app.extensions["mail_delivery"].stop()
    app.extensions["db_engine"].dispose()


@pytest.fixture
def csp_violations(page):
    """Console errors about the Content-Security-Policy, collected while the test runs."""
    found = []
    page.on("console", lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None)
    return found
