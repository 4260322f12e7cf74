"""Helpers for Data Rights Protocol tests: an agent with a real Ed25519 key (PyNaCl) that signs its
messages in libsodium combined mode, and a real HTTP server on loopback that receives status callbacks."""
import base64
import json
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nacl.signing import SigningKey

from portal import clock, db
from portal.services.drp import exchange

BUSINESS_ID = "BILLGENIX"
DRP_CONFIG = {"DRP_ENABLED": True, "DRP_BUSINESS_ID": BUSINESS_ID, "DRP_CALLBACK_ALLOW_HTTP": True}


class Agent:
    """An authorized-agent service: its key, its id, and the messages it signs."""

    def __init__(self, agent_id: str = "PERMISSION_SLIP", name: str = "Permission Slip"):
        self.agent_id, self.name = agent_id, name
        self.key = SigningKey.generate()
        self.token: str | None = None

    @property
    def verify_key(self) -> str:
        return base64.b64encode(bytes(self.key.verify_key)).decode()

    def sign(self, message) -> bytes:
        """Standard base64 of the 64-byte signature followed by the message (libsodium combined mode)."""
        raw = message if isinstance(message, bytes) else json.dumps(message).encode()
        return base64.b64encode(self.key.sign(raw))

    def envelope(self, now: datetime | None = None, **overrides) -> dict:
        now = now or clock.now()
        claims = {"agent-id": self.agent_id, "business-id": BUSINESS_ID,
                  "issued-at": now.isoformat(), "expires-at": (now + timedelta(minutes=10)).isoformat(),
                  "drp.version": "1.0"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def exercise(self, exercise: str = "sale:opt-out", **overrides) -> dict:
        claims = self.envelope(exercise=exercise, regime="ccpa", name="Ana Ruiz", email="ana.ruiz@example.org",
                               email_verified=True, phone_number="+19095550100", phone_number_verified=False)
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def revoke(self, request_id: str, reason: str | None = None, now: datetime | None = None, **overrides) -> dict:
        """A revoke message: the envelope, made out to one request, with an optional reason."""
        claims = self.envelope(now, request_id=request_id, reason=reason)
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def auth(self, token: str | None = None) -> dict:
        return {"Authorization": f"Bearer {token or self.token}"}


def register(app, agent: Agent) -> None:
    """What an operator does with `flask drp agent add`."""
    with app.app_context():
        exchange.add_agent(db.session(), agent_id=agent.agent_id, verify_key=agent.verify_key, name=agent.name)


def pair(client, agent: Agent) -> str:
    """Pairwise setup through the API; the agent keeps its token."""
    resp = client.post(f"/drp/v1/agent/{agent.agent_id}", data=agent.sign(agent.envelope()),
                       content_type="text/plain")
    assert resp.status_code == 200, resp.status_code
    agent.token = resp.get_json()["token"]
    return agent.token


def send(client, agent: Agent, claims: dict, token: str | None = None):
    return client.post("/drp/v1/data-rights-request", data=agent.sign(claims), content_type="text/plain",
                       headers=agent.auth(token))


class CallbackReceiver:
    """A real HTTP server on 127.0.0.1 that records each POST and answers with the scripted codes
    (then 200)."""

    def __init__(self, codes=(), port: int = 0, delay: float = 0):
        self.codes, self.delay = list(codes), delay
        self.received: list[dict] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                time.sleep(receiver.delay)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    code = receiver.codes.pop(0) if receiver.codes else 200
                    receiver.received.append({"path": self.path, "headers": dict(self.headers),
                                              "body": json.loads(body), "answered": code})
                    receiver.cond.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/drp/status"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 10) -> list[dict]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.received) >= count, timeout=timeout)
        return list(self.received)
