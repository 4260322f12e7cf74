"""Helpers for the clients' tests: a client business with a real Ed25519 key that signs its API
messages (combined mode, as the DRP's), a real HTTP receiver on loopback that checks the portal's
webhook signatures and can reply, and cases whose person the identity index holds for a client."""
import base64
import io
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nacl.signing import SigningKey

from portal import clock, db
from portal.models import VerificationAttempt
from portal.services.cases import submission, transitions
from portal.services.clients import registry
from portal.services.delivery import webhooks
from portal.services.identity import subjects

from .support import get_case, new_case

SECRET = "the clinic and the portal share this secret!"


class ClientBusiness:
    """A client business's side of the API: its key and the messages it signs."""

    def __init__(self, key: str = "clinic"):
        self.key = key
        self.signing = SigningKey.generate()

    @property
    def verify_key(self) -> str:
        return base64.b64encode(bytes(self.signing.verify_key)).decode()

    def sign(self, claims: dict, signing: SigningKey | None = None) -> bytes:
        return base64.b64encode((signing or self.signing).sign(json.dumps(claims).encode()))

    def envelope(self, app, **claims) -> dict:
        now = clock.now()
        return {"client-id": self.key, "audience": app.config["BASE_URL"].rstrip("/") + "/clients/v1",
                "issued-at": now.isoformat(), "expires-at": (now + timedelta(minutes=5)).isoformat(), **claims}

    def headers(self) -> dict:
        return {"X-Portal-Client": self.key, "Content-Type": "text/plain"}


class Receiver:
    """The client's webhook endpoint: records what arrives with a good signature (401 otherwise)."""

    def __init__(self, secret: str = SECRET):
        self.secret = secret.encode()
        self.received: list[dict] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers.get(webhooks.TIMESTAMP_HEADER, "0")
                good = webhooks.verify_signature(receiver.secret, stamp, body,
                                                 self.headers.get(webhooks.SIGNATURE_HEADER, "")) \
                    and abs(time.time() - int(stamp)) < 300
                if good:
                    receiver.received.append({"topic_key": self.headers.get(webhooks.KEY_HEADER),
                                              **json.loads(body)})
                else:
                    receiver.refused += 1
                self.send_response(200 if good else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/privacy"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def signed_reply(self, payload: dict) -> tuple[bytes, dict]:
        """A reply the client signs with the shared secret, as the portal signs its own webhooks."""
        body = json.dumps(payload).encode()
        stamp = str(int(clock.timestamp()))
        return body, {webhooks.TIMESTAMP_HEADER: stamp,
                      webhooks.SIGNATURE_HEADER: webhooks.signature(self.secret, stamp, body),
                      "Content-Type": "application/json"}


def add_client(app, key="clinic", name="Valley Clinic", agreement="baa", webhook=None, verify_key=None,
               secret=SECRET, email=None):
    with app.app_context():
        return registry.save(db.session(), actor="test", data=registry.ClientData(
            key=key, name=name, kind="provider", agreement=agreement, email=email or f"privacy@{key}.example",
            webhook_url=webhook, webhook_secret=secret if webhook else None, verify_key=verify_key)).client


def import_index(app, rows: list[dict]):
    columns = sorted({k for r in rows for k in r})
    lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
    with app.app_context():
        return subjects.import_csv(db.session(), stream=io.BytesIO(("\n".join(lines) + "\n").encode()))


def verified_case(app, subject_key: str, request_type="access", details=None, email="ana.ruiz@example.org",
                  status="in_progress"):
    """A web case whose matching found `subject_key` in the index, moved to in_progress."""
    req = new_case(app, request_type, "verifying", email=email)
    with app.app_context():
        s = db.session()
        case = submission.get_by_reference(s, req.reference)
        case.details = details
        s.add(VerificationAttempt(request_id=case.id, subject_key=subject_key, matched="email,name_dob",
                                  outcome="verified"))
        if status == "in_progress":
            transitions.transition(s, case, "in_progress", actor="system")
        s.commit()
    return get_case(app, req.reference)
