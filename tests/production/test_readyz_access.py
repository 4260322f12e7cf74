"""/readyz through the shipped nginx site: this host and the operator's monitoring network only.
The site file is run as the production check runs it (tests/production/nginx.py), in front of a
stand-in upstream, and asked from different loopback source addresses."""
import http.client
import http.server
import re
import ssl
import subprocess
import threading

import pytest

from ..support import free_port, require_binary
from .certificate import self_signed
from .nginx import SITE, render


def _readyz_block(site: str) -> str:
    found = re.search(r"location = /readyz \{(.*?)\}", site, re.S)
    assert found, "the site has no `location = /readyz` block"
    return found.group(1)


def test_the_site_lets_only_loopback_and_a_marked_monitoring_network_read_readiness():
    block = _readyz_block(SITE.read_text())
    rules = re.findall(r"^\s*(allow|deny)\s+([^;]+);", block, re.M)
    assert rules[-1] == ("deny", "all") and ("allow", "127.0.0.1") in rules and ("allow", "::1") in rules
    allowed = [value for rule, value in rules if rule == "allow"]
    assert all(value in ("127.0.0.1", "::1", "192.0.2.0/24") for value in allowed), allowed
    assert re.search(r"allow 192\.0\.2\.0/24;\s*# placeholder", block)  # documentation space: it matches nobody
    assert "proxy_pass http://privacy_portal;" in block  # still answered by the app, for those allowed


@pytest.fixture
def upstream():
    """A stand-in for gunicorn: 200 and the path for every GET."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = f"upstream {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def nginx_site(tmp_path, upstream, monkeypatch):
    """The shipped site on loopback, with the monitoring placeholder replaced by 127.0.0.3 (as an
    operator replaces it); yields get(path, source) -> (status, body)."""
    nginx = require_binary("nginx", "apt-get install nginx")
    require_binary("openssl", "apt-get install openssl")
    cert, key = self_signed(tmp_path / "tls")
    site = SITE.read_text()
    assert "192.0.2.0/24;  # placeholder" in site
    monkeypatch.setattr("tests.production.nginx.SITE", tmp_path / "site-as-deployed.conf")
    (tmp_path / "site-as-deployed.conf").write_text(site.replace("192.0.2.0/24;  # placeholder", "127.0.0.3;  # ours"))
    https_port = free_port()
    conf = render(tmp_path / "nginx", cert=cert, key=key, http_port=free_port(), https_port=https_port,
                  upstreams=[upstream])
    proc = subprocess.Popen([nginx, "-p", str(tmp_path / "nginx"), "-c", str(conf), "-e",
                             str(tmp_path / "nginx" / "logs" / "error.log"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    context = ssl.create_default_context(cafile=str(cert))

    def get(path: str, source: str) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("localhost", https_port, context=context, timeout=10,
                                           source_address=(source, 0))
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    for _ in range(100):  # until nginx listens
        try:
            get("/healthz", "127.0.0.1")
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(proc.stderr.read().decode())
            threading.Event().wait(0.05)
    yield get
    proc.terminate()
    proc.wait(timeout=10)
    proc.stderr.close()


def test_readiness_answers_this_host_and_the_monitoring_network_and_no_one_else(nginx_site):
    assert nginx_site("/readyz", "127.0.0.1") == (200, b"upstream /readyz")  # this host
    assert nginx_site("/readyz", "127.0.0.3") == (200, b"upstream /readyz")  # the monitoring network
    status, body = nginx_site("/readyz", "127.0.0.2")  # anyone else
    assert status == 403 and b"upstream" not in body
    assert nginx_site("/readyz?x=1", "127.0.0.2")[0] == 403
    # The rest of the site is as open as before: liveness and pages for everyone.
    assert nginx_site("/healthz", "127.0.0.2") == (200, b"upstream /healthz")
    assert nginx_site("/readyzz", "127.0.0.2")[0] == 200


def test_the_production_check_gives_the_stack_three_minutes_to_start_polling():
    from . import check
    assert check.START_SECONDS >= 180
    source = (SITE.parent.parent.parent / "tests" / "production" / "check.py").read_text()
    wait = source[source.index("def _wait_until_served"):source.index("def client(")]
    assert "START_SECONDS" in wait and "time.sleep(0.5)" in wait and "within 60 s" not in wait
