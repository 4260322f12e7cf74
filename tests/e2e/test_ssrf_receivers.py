"""Webhooks and DRP callbacks against real HTTP receivers on loopback: an address on the portal's own
network is refused when it is saved and when it is sent to; the connection goes to the address
that was checked, with the name in the Host header and TLS's server name; a redirect is a failure,
told to staff in a few words."""
import http.server
import re
import socket
import ssl
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock, db
from portal.models import DrpCallback, DrpRequest, PrivacyRequest, Recipient, WebhookDelivery
from portal.services.cases import notices, transitions
from portal.services.delivery import outbound, webhooks
from portal.services.drp import callbacks as drp_callbacks

from ..drp_agents import DRP_CONFIG, Agent, CallbackReceiver, pair, register, send
from ..production.certificate import self_signed
from ..support import make_staff, new_case, post_form, require_binary, sign_in

SECRET = "receiver and portal share this secret, 40+"
# The receiver's port is added to each: every one of these reaches 127.0.0.1 (or the metadata service).
LOCAL_HOSTS = ["127.0.0.1", "[::1]", "localhost", "0.0.0.0", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]",
               "127.1", "0177.0.0.1"]


@pytest.fixture
def app_config(app_config):
    # No OUTBOUND_ALLOW_HOSTS: the portal's defaults, with plain http allowed so loopback receivers can answer.
    return {**app_config, **DRP_CONFIG, "WEBHOOK_ALLOW_HTTP": True, "WEBHOOK_TIMEOUT_SECONDS": 2,
            "DRP_CALLBACK_TIMEOUT_SECONDS": 2}


@pytest.fixture
def receiver():
    with CallbackReceiver() as r:
        yield r


def _port(url: str) -> int:
    return int(re.search(r":(\d+)/", url).group(1))


def _resolving(monkeypatch, name: str, address: str) -> list[str]:
    """A DNS answer for `name` (every other host as the system resolves it); the names looked up."""
    real, asked = socket.getaddrinfo, []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)
    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)
    return asked


# ---- webhooks --------------------------------------------------------------------------------

@pytest.mark.parametrize("host", LOCAL_HOSTS + ["169.254.169.254"])
def test_the_console_refuses_a_webhook_to_the_portals_own_network(app, client, receiver, host):
    sign_in(client, make_staff(app, "admin"))
    url = f"http://{host}:{_port(receiver.url)}/privacy-notices"
    resp = post_form(client, "/staff/recipients/new", {
        "name": "Ledger Cloud", "kind": "service_provider", "request_types": ["delete"], "method": "webhook",
        "webhook_url": url, "webhook_secret": SECRET, "active": "y"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "the receiver&#39;s address is not allowed" in page
    with app.app_context():
        assert db.session().execute(select(Recipient)).first() is None


def _queued_webhook(app, url: str):
    """A recipient saved with `url` (as an older version let it be), a case that concerns it, its notice queued."""
    with app.app_context():
        s = db.session()
        s.add(Recipient(name="Ledger Cloud", kind="service_provider", request_types="delete", method="webhook",
                        webhook_url=url, webhook_secret=webhooks.encrypt_secret(SECRET), active=True))
        s.commit()
    req = new_case(app, "delete", "in_progress", email="dana@example.org", first_name="Dana", last_name="Lee")
    with app.app_context():
        s = db.session()
        assert notices.send(s, req=s.merge(req), actor="test") == 1


def _webhook(app) -> WebhookDelivery:
    with app.app_context():
        return db.session().execute(select(WebhookDelivery)).scalar_one()


@pytest.mark.parametrize("host", LOCAL_HOSTS)
def test_a_webhook_already_queued_to_a_local_address_is_never_sent(app, receiver, host):
    _queued_webhook(app, f"http://{host}:{_port(receiver.url)}/privacy-notices")
    assert webhooks.deliver_for_app(app) == 0
    row = _webhook(app)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "the receiver's address is not allowed")
    assert receiver.received == []


def test_a_name_that_resolves_to_loopback_is_refused_when_sent(app, receiver, monkeypatch):
    asked = _resolving(monkeypatch, "hooks.ledger.example", "127.0.0.1")
    url = f"http://hooks.ledger.example:{_port(receiver.url)}/privacy-notices"
    with app.app_context():
        assert webhooks.url_problem(url, allow_http=True) is None  # a name: judged when it is sent
    _queued_webhook(app, url)
    assert webhooks.deliver_for_app(app) == 0
    assert _webhook(app).last_error == "the receiver's address is not allowed" and receiver.received == []
    assert asked == ["hooks.ledger.example"]


def test_a_webhook_redirect_is_a_failure_with_a_short_reason(app, monkeypatch):
    with CallbackReceiver(codes=[307]) as redirecting:
        app.config["OUTBOUND_ALLOW_HOSTS"] = ["127.0.0.1"]
        _queued_webhook(app, redirecting.url)
        assert webhooks.deliver_for_app(app) == 0
        assert webhooks.deliver_for_app(app, now=clock.now() + timedelta(hours=1)) == 0
        assert len(redirecting.received) == 1
    row = _webhook(app)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "the receiver answered 307")


# ---- DRP status callbacks ----------------------------------------------------------------------

@pytest.fixture
def agent(app, client):
    agent = Agent()
    register(app, agent)
    pair(client, agent)
    return agent


@pytest.mark.parametrize("host", LOCAL_HOSTS + ["169.254.169.254"])
def test_an_exercise_with_a_callback_to_the_portals_own_network_is_refused(app, client, agent, receiver, host):
    resp = send(client, agent, agent.exercise("deletion", status_callback=f"http://{host}:{_port(receiver.url)}/cb"))
    assert resp.status_code == 400
    assert resp.get_json() == {"code": "400", "message": f"status_callback: {outbound.NOT_ALLOWED_DETAIL}."}
    with app.app_context():
        assert db.session().execute(select(PrivacyRequest)).first() is None


def _move(app, request_uuid, to_status):
    with app.app_context():
        s = db.session()
        drp = s.execute(select(DrpRequest).where(DrpRequest.request_uuid == request_uuid)).scalar_one()
        transitions.transition(s, s.get(PrivacyRequest, drp.request_id), to_status, actor="system")
        s.commit()
        return s.get(PrivacyRequest, drp.request_id).reference


def test_a_redirecting_callback_fails_once_and_staff_see_a_short_reason(app, client, agent):
    app.config["OUTBOUND_ALLOW_HOSTS"] = ["127.0.0.1"]
    with CallbackReceiver(codes=[302, 302, 302]) as redirecting:
        made = send(client, agent, agent.exercise("deletion", status_callback=redirecting.url)).get_json()
        reference = _move(app, made["request_id"], "in_progress")
        assert drp_callbacks.deliver_for_app(app) == 0
        assert drp_callbacks.deliver_for_app(app, now=clock.now() + timedelta(hours=2)) == 0
        assert len(redirecting.received) == 1  # not retried: the agent must fix its URL
    with app.app_context():
        row = db.session().execute(select(DrpCallback)).scalar_one()
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "the receiver answered 302")
    console = app.test_client()
    sign_in(console, make_staff(app, "support"))
    page = console.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert "failed (the receiver answered 302)" in page and "HTTPError" not in page and "Traceback" not in page


def test_a_callback_to_a_name_that_resolves_to_loopback_is_refused_when_sent(app, client, agent, receiver,
                                                                            monkeypatch):
    _resolving(monkeypatch, "cb.agent.example", "127.0.0.1")
    made = send(client, agent, agent.exercise("deletion", status_callback=f"http://cb.agent.example:"
                                              f"{_port(receiver.url)}/cb")).get_json()
    _move(app, made["request_id"], "in_progress")
    assert drp_callbacks.deliver_for_app(app) == 0
    with app.app_context():
        row = db.session().execute(select(DrpCallback)).scalar_one()
    assert (row.status, row.last_error) == ("failed", "the receiver's address is not allowed")
    assert receiver.received == []


# ---- the connection goes to the address that was checked --------------------------------------

class TLSReceiver:
    """An HTTPS server on 127.0.0.1 with a certificate for `name`; it records the server name the
    client asked for (SNI) and each request's Host header."""

    def __init__(self, folder, name: str):
        require_binary("openssl", "apt-get install openssl")
        self.cert, key = self_signed(folder, name)
        self.server_names, self.hosts = [], []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hosts.append(self.headers["Host"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        context.sni_callback = lambda sock, server_name, ctx: receiver.server_names.append(server_name)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_post_goes_to_the_checked_address_with_the_name_in_host_and_sni(app, tmp_path, monkeypatch):
    tls = TLSReceiver(tmp_path / "tls", "hooks.ledger.example")
    try:
        asked = _resolving(monkeypatch, "hooks.ledger.example", "127.0.0.1")
        trusting = ssl.create_default_context(cafile=str(tls.cert))
        monkeypatch.setattr(outbound.ssl, "create_default_context", lambda: trusting)
        app.config["OUTBOUND_ALLOW_HOSTS"] = ["hooks.ledger.example"]
        _queued_webhook(app, f"https://hooks.ledger.example:{tls.port}/privacy-notices")
        assert webhooks.deliver_for_app(app) == 1
    finally:
        tls.stop()
    assert tls.server_names == ["hooks.ledger.example"]  # the certificate is checked against the name
    assert tls.hosts == [f"hooks.ledger.example:{tls.port}"]
    assert asked.count("hooks.ledger.example") == 1  # one lookup: the address checked is the one connected to
