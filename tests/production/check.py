"""The production check's driver (scripts/production-check.sh starts PostgreSQL, then this).

It brings up the topology of deploy/ on loopback, all from Debian's packages and this checkout:
nginx (the site file of deploy/nginx, a self-signed certificate), Redis, two gunicorn instances as
one upstream (deploy/gunicorn.conf.py), two `flask --app portal worker` processes and a real SMTP
server (aiosmtpd). Every portal process gets the same configuration (SECRET_KEY, ENCRYPTION_KEYS,
SUBJECT_HASH_KEY, the documents folder, the database, Redis) from the environment and an instance
folder of its own, as separate hosts would. Processes are restarted when they exit, as systemd's
Restart=always would, and the restarts are counted.

Then, through nginx over HTTPS: the redirect, HSTS and Secure cookies; the requester journey (mail
read from the SMTP server); a staff action; a rate limit shared by the two instances through Redis;
uploads that stall mid-body without holding up the portal;
a worker killed with SIGKILL in the middle of a batch of mail; PostgreSQL restarted under load
(clean 503s, then recovery); and finally every queued mail accounted for (none lost; duplicates
counted and explained). Exit status 1 on any failure.
"""
import argparse
import email
import email.policy
import mailbox
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from cryptography.fernet import Fernet

from .certificate import self_signed
from .nginx import REPO, render

VENV_BIN = Path(sys.executable).parent
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@check.example", "production check passphrase 7"
STATUS_LIMIT = 5  # RATELIMIT_STATUS for the run: small, so the shared count is quick to show
BULK = 40  # mails queued for the worker-kill step
SMTP_DELAY = 0.4  # seconds the relay takes per message: a worker spends most of its time waiting for the 250
# How long the stack may take to answer through nginx, polled every half second: migrations, two
# gunicorn hosts and a worker starting on a loaded 2-core machine took more than a minute.
START_SECONDS = 180
REFERENCE = re.compile(r"PR-[0-9A-Z]{4}-[0-9A-Z]{4}")
LEAK = re.compile(r"Traceback|sqlalchemy|psycopg|OperationalError", re.I)


class CheckFailed(Exception):
    pass


def expect(condition, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def say(message: str) -> None:
    print(f"[production-check] {message}", flush=True)


# ------------------------------------------------------------------ processes

@dataclass
class Service:
    """A process of the topology, restarted when it exits (like systemd's Restart=always)."""
    name: str
    argv: list[str]
    env: dict
    log: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0
    deaths: list[int] = field(default_factory=list)  # exit codes of the processes that ended on their own
    stopping: bool = False

    def start(self) -> None:
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()

    def supervise(self) -> None:
        if self.stopping or self.proc is None or self.proc.poll() is None:
            return
        self.deaths.append(self.proc.returncode)
        self.restarts += 1
        time.sleep(1)  # RestartSec
        if not self.stopping:
            self.start()

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.stopping = True
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


class Topology:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.workdir).resolve()
        self.services: dict[str, Service] = {}
        self.stop_supervising = threading.Event()
        self.supervisor = threading.Thread(target=self._supervise, daemon=True)
        self.cert = self.key = None
        self.base = f"https://127.0.0.1:{args.https_port}"
        self.maildir = self.work / "maildir"

    def _supervise(self):
        while not self.stop_supervising.wait(0.3):
            for service in list(self.services.values()):
                service.supervise()

    def portal_env(self, instance: str) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "GUNICORN_"))}
        env.update(self.shared, PORTAL_INSTANCE_PATH=str(self.work / "hosts" / instance))
        return env

    def add(self, name: str, argv: list[str], env: dict) -> Service:
        service = Service(name, argv, env, self.work / "logs" / f"{name}.log")
        self.services[name] = service
        service.start()
        return service

    def flask(self, *argv: str, instance: str = "admin", stdin: str | None = None) -> str:
        result = subprocess.run([str(VENV_BIN / "flask"), "--app", "portal", *argv], env=self.portal_env(instance),
                                cwd=REPO, input=stdin, capture_output=True, text=True, timeout=120)
        expect(result.returncode == 0, f"flask {' '.join(argv)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def up(self) -> None:
        a = self.args
        (self.work / "logs").mkdir(parents=True, exist_ok=True)
        documents = self.work / "shared-documents"
        # One configuration for every host: keys made once, given to all through the environment.
        self.shared = {
            "PORTAL_BASE_URL": self.base,
            "PORTAL_DATABASE_URL": a.database_url,
            "PORTAL_SECRET_KEY": secrets.token_urlsafe(48),
            "PORTAL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "PORTAL_SUBJECT_HASH_KEY": secrets.token_urlsafe(48),
            "PORTAL_DOCUMENTS_PATH": str(documents),
            "PORTAL_RATELIMIT_STORAGE_URL": f"redis://127.0.0.1:{a.redis_port}/0",
            "PORTAL_PROXY_FIX_X_FOR": "1",
            "PORTAL_MAIL_BACKGROUND_DELIVERY": "false",
            "PORTAL_MAIL_POLL_SECONDS": "0.5",
            "PORTAL_SMTP_HOST": "127.0.0.1",
            "PORTAL_SMTP_PORT": str(a.smtp_port),
            "PORTAL_RATELIMIT_STATUS": f"{STATUS_LIMIT} per hour",
            "PORTAL_RATELIMIT_SUBMIT": "1000 per hour",
            "PORTAL_STATUS_RESPONSE_SECONDS": "0.05",
        }
        self.cert, self.key = self_signed(self.work / "tls")
        self._create_database()
        self.add("redis", ["redis-server", "--port", str(a.redis_port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", str(self.work)], dict(os.environ))
        self.add("smtp", [sys.executable, "-m", "tests.production.smtp_sink", str(a.smtp_port), str(self.maildir),
                          str(SMTP_DELAY)], dict(os.environ))
        self.flask("db", "upgrade")
        self.flask("staff", "create", ADMIN_EMAIL, "--role", "admin", "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
        for n, port in enumerate(a.web_ports, 1):
            env = self.portal_env(f"web-{n}")
            env.update(GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2", GUNICORN_PROC_NAME=f"portal-web-{n}")
            self.add(f"web-{n}", [str(VENV_BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "wsgi:app"], env)
        for n in (1, 2):
            self.add(f"worker-{n}", [str(VENV_BIN / "flask"), "--app", "portal", "worker"], self.portal_env(f"worker-{n}"))
        prefix = self.work / "nginx"
        conf = render(prefix, cert=self.cert, key=self.key, http_port=a.http_port, https_port=a.https_port,
                      upstreams=[f"127.0.0.1:{p}" for p in a.web_ports])
        self.add("nginx", ["nginx", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log"),
                           "-g", "daemon off;"], dict(os.environ))
        self.supervisor.start()
        self._wait_until_served()

    def _create_database(self) -> None:
        url = self.args.database_url.replace("postgresql+psycopg://", "postgresql://")
        admin = url.rsplit("/", 1)[0] + "/postgres"
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')

    def _wait_until_served(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        with self.client() as c:
            while time.monotonic() < deadline:
                try:
                    ports_up = all(httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=2).status_code == 200
                                   for p in self.args.web_ports)
                    if ports_up and c.get("/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
        raise CheckFailed(f"the portal did not answer through nginx within {START_SECONDS} s (see the logs folder)")

    def client(self, source: str | None = None) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.cert))
        transport = httpx.HTTPTransport(verify=context, local_address=source) if source else None
        return httpx.Client(base_url=self.base, verify=context, transport=transport, timeout=30)

    def down(self) -> None:
        self.stop_supervising.set()
        for service in reversed(list(self.services.values())):
            service.stop()

    def pg(self, action: str) -> None:
        env = {**os.environ, "PORTAL_TEST_PG_DIR": self.args.pg_dir}
        subprocess.run([str(REPO / "scripts" / "test-postgres.sh"), action, str(self.args.pg_port)], env=env,
                       check=True, capture_output=True, timeout=60)

    def log_lines(self, name: str) -> list[str]:
        return self.services[name].log.read_text(errors="replace").splitlines()

    def mails(self) -> list[email.message.EmailMessage]:
        box = mailbox.Maildir(self.maildir, create=True)
        return [email.message_from_bytes(box.get_bytes(key), policy=email.policy.default) for key in box.keys()]

    def db(self):
        return psycopg.connect(self.args.database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


# ------------------------------------------------------------------ helpers for pages and mail

def csrf(html: str, name: str = "csrf_token") -> str:
    match = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]+)"', html) or \
        re.search(rf'value="([^"]+)"[^>]*name="{re.escape(name)}"', html)
    expect(match, f"no {name} in the page")
    return match.group(1)


def mail_text(message) -> str:
    part = message.get_body(("plain",)) or message
    return part.get_content()


def wait_for_mail(top: Topology, to: str, path: str, timeout: float = 30) -> tuple[str, str]:
    """The first link with `path` in a mail to `to`, and that mail's text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in top.mails():
            if to in str(message["To"]):
                text = mail_text(message)
                link = re.search(rf"{re.escape(top.base)}{re.escape(path)}\S+", text)
                if link:
                    return link.group(0).rstrip(".,)>"), text
        time.sleep(0.3)
    raise CheckFailed(f"no mail with a {path} link reached the SMTP server within {timeout:.0f} s")


def wait_for_reference(top: Topology, to: str, timeout: float = 30) -> str:
    """The request's reference, from the acknowledgement mail's subject."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in top.mails():
            found = REFERENCE.search(str(message["Subject"])) if to in str(message["To"]) else None
            if found:
                return found.group(0)
        time.sleep(0.3)
    raise CheckFailed(f"no mail with the request's reference reached the SMTP server within {timeout:.0f} s")


def submit(c: httpx.Client, email_address: str) -> httpx.Response:
    page = c.get("/requests/new?type=access")
    expect(page.status_code == 200, f"request form answered {page.status_code}")
    form = {"csrf_token": csrf(page.text), "request_type": "access", "first_name": "Ana", "last_name": "Ruiz",
            "email": email_address, "phone": "", "claim_number": "", "date_of_birth": "", "details": "",
            "access_scope": "categories", "lookback": "12_months"}
    return c.post("/requests/new", data=form)


# ------------------------------------------------------------------ the steps

def step_tls(top: Topology, report: dict) -> None:
    plain = httpx.get(f"http://127.0.0.1:{top.args.http_port}/requests/new?type=access", timeout=10)
    expect(plain.status_code == 301, f"plain HTTP answered {plain.status_code}, not a redirect")
    expect(plain.headers["location"] == f"{top.base}/requests/new?type=access",
           f"plain HTTP redirects to {plain.headers['location']}")
    with top.client() as c:
        page = c.get("/requests/new?type=access")
        hsts = page.headers.get_list("strict-transport-security")
        expect(hsts == ["max-age=31536000; includeSubDomains"], f"HSTS headers: {hsts}")
        cookies = page.headers.get_list("set-cookie")
        expect(cookies, "the form page set no cookie")
        for cookie in cookies:
            attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
            expect("secure" in attrs, f"a cookie without Secure: {cookie.split('=')[0]}")
        session = [x for x in cookies if x.startswith("session=")]
        expect(session and "httponly" in session[0].lower(), "the session cookie is not HttpOnly")
        static = c.get("/static/css/portal.css")
        expect(static.status_code == 200 and "content-security-policy" not in static.headers,
               "static files are not served by nginx")
        expect(static.headers.get("strict-transport-security"), "a static file without HSTS")
        missing = c.get("/no-such-page")
        expect(missing.status_code == 404 and missing.headers.get("strict-transport-security"), "404 without HSTS")
    served = sum("/static/css/portal.css" in line for n in (1, 2) for line in top.log_lines(f"web-{n}"))
    expect(served == 0, "a static file reached gunicorn")
    report["tls"] = "301 to HTTPS, one HSTS header (also on static files and errors), Secure+HttpOnly cookies"


def step_journey(top: Topology, report: dict) -> str:
    start = time.monotonic()
    address = "journey@check.example"
    with top.client() as c:
        done = submit(c, address)
        expect(done.status_code == 303, f"submission answered {done.status_code}")
        expect(c.get(done.headers["location"]).status_code == 200, "the confirmation page did not open")
        link, text = wait_for_mail(top, address, "/verify/")
        reference = REFERENCE.search(text)
        page = c.get(link)
        expect(page.status_code == 200, f"the verification link answered {page.status_code}")
        confirmed = c.post(link, data={"csrf_token": csrf(page.text)})
        expect(confirmed.status_code == 303, f"confirming answered {confirmed.status_code}")
        expect(c.get(confirmed.headers["location"]).status_code == 200, "the page after confirming did not open")
        reference = reference.group(0) if reference else wait_for_reference(top, address)
        form = c.get("/status")
        asked = c.post("/status", data={"csrf_token": csrf(form.text), "reference": reference, "email": address})
        expect(asked.status_code in (200, 303), f"asking for a status link answered {asked.status_code}")
        status_link, _ = wait_for_mail(top, address, "/status/")
        opener = c.get(status_link)
        expect(opener.status_code == 200, f"the status link answered {opener.status_code}")
        status_page = c.post(status_link, data={"csrf_token": csrf(opener.text)}, follow_redirects=True)
        expect(status_page.status_code == 200 and reference in status_page.text,
               f"the status page answered {status_page.status_code} without the reference")
    report["journey"] = f"submitted, verification mail, confirmed, status page for {reference} in {time.monotonic() - start:.1f} s"
    return reference


def staff_client(top: Topology) -> httpx.Client:
    c = top.client()
    page = c.get("/staff/login")
    signed = c.post("/staff/login", data={"csrf_token": csrf(page.text), "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    expect(signed.status_code == 303, f"staff sign-in answered {signed.status_code}")
    return c


def step_staff(top: Topology, report: dict, reference: str) -> None:
    c = staff_client(top)
    try:
        case = c.get(f"/staff/requests/{reference}")
        expect(case.status_code == 200, f"the case page answered {case.status_code}")
        note = "Checked through nginx by the production check"
        added = c.post(f"/staff/requests/{reference}/notes",
                       data={"note-csrf_token": csrf(case.text, "note-csrf_token"), "note-body": note})
        expect(added.status_code == 303, f"adding a note answered {added.status_code}")
        expect(note in c.get(f"/staff/requests/{reference}").text, "the note is not on the case")
    finally:
        c.close()
    report["staff"] = "signed in, added a note to the case, read it back"


def step_rate_limit(top: Topology, report: dict) -> None:
    before = {n: len(top.log_lines(f"web-{n}")) for n in (1, 2)}
    with top.client(source="127.0.0.2") as c:  # a client address of its own: its own rate-limit bucket
        token = csrf(c.get("/status").text)
        codes = [c.post("/status", data={"csrf_token": token, "reference": "PR-AAAA-BBBB",
                                         "email": "nobody@check.example"}).status_code for _ in range(2 * STATUS_LIMIT)]
    served = {n: sum('"POST /status' in line for line in top.log_lines(f"web-{n}")[before[n]:]) for n in (1, 2)}
    accepted = sum(code != 429 for code in codes)
    expect(all(served.values()), f"the POSTs did not reach both instances: {served}")
    expect(accepted == STATUS_LIMIT and codes.count(429) == STATUS_LIMIT,
           f"with a limit of {STATUS_LIMIT} per hour shared through Redis, {accepted} of {len(codes)} were accepted: {codes}")
    report["rate_limit"] = (f"{STATUS_LIMIT} per hour: {accepted} accepted, {codes.count(429)} refused (429) "
                            f"over web-1 ({served[1]} POSTs) and web-2 ({served[2]})")


def step_slow_clients(top: Topology, report: dict) -> None:
    """Clients that never finish their body hold nginx connections, not gunicorn workers: with more
    of them than there are gunicorn workers (2 instances x 2), the portal still answers at once."""
    context = ssl.create_default_context(cafile=str(top.cert))
    stalled = []
    try:
        for _ in range(6):
            raw = socket.create_connection(("127.0.0.1", top.args.https_port), timeout=10)
            conn = context.wrap_socket(raw, server_hostname="localhost")
            conn.sendall(b"POST /requests/new HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nrequest_type=")
            stalled.append(conn)
        time.sleep(1)
        timings = []
        with top.client() as c:
            for _ in range(8):
                began = time.monotonic()
                code = c.get("/healthz").status_code
                timings.append(time.monotonic() - began)
                expect(code == 200, f"/healthz answered {code} with slow clients connected")
    finally:
        for conn in stalled:
            conn.close()
    expect(max(timings) < 2, f"/healthz took up to {max(timings):.1f} s with 6 stalled uploads")
    report["slow_clients"] = f"6 uploads stalled mid-body; /healthz answered in at most {max(timings) * 1000:.0f} ms"


def step_kill_worker(top: Topology, report: dict) -> float:
    """Queue a batch of mail while the workers deliver it; SIGKILL one of them in the middle."""
    bulk_before = sum("bulk-" in str(m["To"]) for m in top.mails())
    failures: list[int] = []

    def queue():
        with top.client() as c:
            for i in range(BULK):
                code = submit(c, f"bulk-{i}@check.example").status_code
                if code != 303:
                    failures.append(code)

    submitter = threading.Thread(target=queue)
    submitter.start()
    deadline = time.monotonic() + 60
    delivered = 0
    while time.monotonic() < deadline and delivered < 5:
        time.sleep(0.05)
        delivered = sum("bulk-" in str(m["To"]) for m in top.mails()) - bulk_before
    top.services["worker-1"].kill9()
    killed_at = time.monotonic()
    in_hand = orphaned_claims(top)
    submitter.join()
    expect(not failures, f"bulk submissions answered {failures}")
    expect(delivered < BULK, f"the batch was delivered before the kill ({delivered} of {BULK})")
    report["kill"] = (f"worker-1 killed with SIGKILL after {delivered} of {BULK} queued mails had arrived, "
                      f"while submissions went on, with {in_hand} mail(s) in hand (claimed, never marked sent); "
                      "restarted as Restart=always would")
    return killed_at


def orphaned_claims(top: Topology) -> int:
    """Mails the killed worker held: claims that stay unchanged while the live worker's come and go."""
    query = "SELECT id, claimed_until FROM outbox_message WHERE status = 'pending' AND claimed_until IS NOT NULL"
    with top.db() as conn:
        first = set(conn.execute(query).fetchall())
        time.sleep(2 * SMTP_DELAY + 1)
        second = set(conn.execute(query).fetchall())
    return len(first & second)


def step_database_restart(top: Topology, report: dict, readyz: bool) -> None:
    results: list[tuple[float, str, int, bool]] = []
    stop = threading.Event()
    staff = staff_client(top)
    paths = ["/healthz", "/staff/"] + (["/readyz"] if readyz else [])
    acknowledged: list[str] = []

    def load(c: httpx.Client, path: str):
        while not stop.is_set():
            try:
                r = c.get(path)
                results.append((time.monotonic(), path, r.status_code, bool(LEAK.search(r.text))))
            except httpx.HTTPError as exc:
                results.append((time.monotonic(), path, -1, False))
                say(f"{path}: {type(exc).__name__}")
            time.sleep(0.05)

    def submissions():
        with top.client() as c:
            n = 0
            while not stop.is_set():
                n += 1
                address = f"load-{n}@check.example"
                try:
                    r = submit(c, address)
                    results.append((time.monotonic(), "POST /requests/new", r.status_code, bool(LEAK.search(r.text))))
                    if r.status_code == 303:
                        acknowledged.append(address)
                except (httpx.HTTPError, CheckFailed) as exc:
                    results.append((time.monotonic(), "POST /requests/new", -1, False))
                    say(f"submission: {exc}")
                time.sleep(0.1)

    clients = [top.client() for _ in paths]
    threads = [threading.Thread(target=load, args=(staff if p == "/staff/" else cl, p)) for p, cl in zip(paths, clients)]
    threads.append(threading.Thread(target=submissions))
    for t in threads:
        t.start()
    time.sleep(2)
    down_at = time.monotonic()
    top.pg("stop")
    stopped_at = time.monotonic()
    time.sleep(4)
    restart_at = time.monotonic()  # PostgreSQL answers again before pg_ctl start returns
    top.pg("start")
    up_at = time.monotonic()
    # Recovery: every path answers 200 (303 for a submission) again, for two seconds running.
    recovered_at = None
    deadline = up_at + 30
    while time.monotonic() < deadline:
        time.sleep(0.5)
        recent = [r for r in results if r[0] > time.monotonic() - 2 and r[1] != "/readyz"]
        if recent and all(code in (200, 303) for _, _, code, _ in recent) and \
                max((r[0] for r in results if r[1] == "/healthz" and r[2] != 200), default=0) < time.monotonic() - 2:
            recovered_at = time.monotonic() - 2
            break
    stop.set()
    for t in threads:
        t.join()
    for cl in clients:
        cl.close()
    staff.close()
    codes = Counter(code for _, _, code, _ in results)
    during = Counter(code for t, _, code, _ in results if down_at <= t <= up_at)
    expect(not any(leak for *_, leak in results), "an answer showed a stack trace or a driver error")
    expect(set(codes) <= {200, 303, 503}, f"answers other than 200/303/503 (500? 502?): {dict(codes)}")
    expect(during[503] > 0, f"no 503 while the database was down: {dict(during)}")
    expect(recovered_at is not None, "the portal did not recover within 30 s of the database's restart")
    for name in ("web-1", "web-2", "nginx"):
        expect(top.services[name].restarts == 0, f"{name} exited during the database restart")
    if readyz:
        ready = [code for t, p, code, _ in results if p == "/readyz" and stopped_at + 0.5 <= t <= restart_at]
        expect(ready and all(code == 503 for code in ready), f"/readyz during the outage: {Counter(ready)}")
    first_ok = min(t for t, p, code, _ in results if p == "/healthz" and code == 200 and t >= up_at)
    with top.db() as conn:
        stored = conn.execute("SELECT count(*) FROM privacy_request WHERE email LIKE 'load-%%'").fetchone()[0]
    expect(stored == len(acknowledged), f"{len(acknowledged)} submissions acknowledged, {stored} stored")
    report["database_restart"] = (
        f"{len(results)} answers under load: {dict(codes)}; while down ({up_at - down_at:.1f} s): {dict(during)}; "
        f"/healthz 200 again {first_ok - up_at:.1f} s after the restart; "
        f"{len(acknowledged)} acknowledged submissions, all stored")


def step_mail_accounting(top: Topology, report: dict, killed_at: float) -> None:
    """Every queued mail reached the SMTP server; duplicates counted and explained."""
    deadline = killed_at + 200  # a killed worker's claim lasts 120 s before another worker takes the mail
    while True:
        with top.db() as conn:
            rows = conn.execute("SELECT message_id, status FROM outbox_message").fetchall()
        received = Counter(str(m["Message-ID"]) for m in top.mails())
        missing = [mid for mid, _ in rows if mid not in received]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(1)
    failed = [mid for mid, status in rows if status == "failed"]
    duplicates = {mid: n for mid, n in received.items() if n > 1}
    deaths = sum(len(top.services[f"worker-{n}"].deaths) for n in (1, 2))
    expect(not missing, f"{len(missing)} of {len(rows)} queued mails never reached the SMTP server")
    expect(not failed, f"{len(failed)} mails marked failed")
    expect(sum(n - 1 for n in duplicates.values()) <= deaths,
           f"{sum(n - 1 for n in duplicates.values())} duplicate deliveries for {deaths} worker deaths")
    explained = ("each one is the mail a worker had in hand when it died (after the relay's 250, before "
                 "marking it sent); it went again with the same Message-ID, so receivers can drop the copy"
                 if duplicates else "none")
    report["mail"] = (f"{len(rows)} queued, {len(rows) - len(missing)} delivered, 0 lost; "
                      f"{sum(n - 1 for n in duplicates.values())} duplicates ({explained}); "
                      f"worker deaths: {deaths} (1 SIGKILL, the rest exits on their own: "
                      f"{[top.services[f'worker-{n}'].deaths for n in (1, 2)]})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pg-dir", required=True)
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--redis-port", type=int, default=6395)
    parser.add_argument("--smtp-port", type=int, default=8159)
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--https-port", type=int, default=8443)
    parser.add_argument("--web-ports", type=int, nargs=2, default=[8150, 8151])
    args = parser.parse_args()
    top = Topology(args)
    report: dict = {}
    started = time.monotonic()
    try:
        top.up()
        say(f"topology up in {time.monotonic() - started:.1f} s: nginx :{args.https_port} -> gunicorn "
            f":{args.web_ports[0]} and :{args.web_ports[1]}, 2 workers, Redis, PostgreSQL, SMTP")
        with top.client() as c:
            readyz = c.get("/readyz").status_code != 404
        say(f"/readyz {'present: checked during the outage' if readyz else 'absent: /healthz and pages checked'}")
        step_tls(top, report)
        say("tls: " + report["tls"])
        reference = step_journey(top, report)
        say("journey: " + report["journey"])
        step_staff(top, report, reference)
        say("staff: " + report["staff"])
        step_rate_limit(top, report)
        say("rate limit: " + report["rate_limit"])
        step_slow_clients(top, report)
        say("slow clients: " + report["slow_clients"])
        killed_at = step_kill_worker(top, report)
        say("kill: " + report["kill"])
        step_database_restart(top, report, readyz)
        say("database restart: " + report["database_restart"])
        step_mail_accounting(top, report, killed_at)
        say("mail: " + report["mail"])
        if readyz:
            with top.client() as c:
                expect(c.get("/readyz").status_code == 200, "/readyz did not turn 200 again")
        say(f"all passed in {time.monotonic() - started:.0f} s; restarts: "
            + ", ".join(f"{s.name} {s.restarts}" for s in top.services.values()))
        return 0
    except Exception as failure:  # noqa: BLE001  a failed expectation, or anything unexpected on the way
        say(f"FAILED: {failure}" if isinstance(failure, CheckFailed) else f"FAILED: {failure!r}")
        say(f"logs: {top.work / 'logs'}")
        return 1
    finally:
        top.down()


if __name__ == "__main__":
    sys.exit(main())
