"""Hypothesis strategies over every route of the app, and the two rules each answer must keep:
no 5xx, and nothing stored when the request is refused (a refused Data Rights Protocol call is put
on record in the audit log, by design, and nothing else). With DRP on, a share of the requests are
signed DRP messages of random shapes from a registered, paired agent. Used by
tests/app/test_fuzz_routes.py (a few hundred examples) and benchmarks/fuzz_routes.py (10,000 and more).
"""
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote

from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import SQLModel

from portal import clock, db
from portal.services.staff import accounts

from .drp_agents import Agent, pair, register
from .support import STAFF_PASSWORD, csrf_from, new_case, post_form

# Values that broke something once, or could: control characters, the last code point, huge and
# negative numbers, dates at the ends of the calendar, markup, paths, SQL, very long strings.
NASTY = ["", " ", "\r\n", "a\r\nBcc: x@example.org", "\x00", "\t", "\U0010ffff", "zu\U0010ffff", "9" * 30,
         str(2**31), str(2**63), "-1", "0", "1.5", "1e400", "NaN", "9999-12-31", "0001-01-01", "2026-02-30",
         "<script>alert(1)</script>", "../../etc/passwd", "%00", "' OR 1=1 --", "PR-0000-0000", "pr 0000 0000",
         "x" * 5000, "é" * 300, "@", "a@b", "ana.ruiz@example.org", "null", "[]", "{}", "accept_all", "reject_all",
         "save", "2026-01-01.1", "2026-01-01." + "9" * 30, "/staff/", "//evil.example", "https://evil.example/"]
text = st.one_of(st.sampled_from(NASTY), st.text(max_size=40),
                 st.text(alphabet=st.characters(codec="utf-8"), max_size=8))
# What can travel in a header at all (HTTP has no way to send a line break or NUL in one).
header_text = text.map(lambda v: re.sub(r"[\x00-\x1f\x7f]", "", v))
# Names of query parameters the pages read, plus a few nobody reads.
QUERY_NAMES = ["type", "q", "status", "request_type", "hold_reason", "band", "manner", "after", "next", "lang",
               "year", "format", "start", "end", "page", "x"]


@dataclass
class Context:
    """A client in one role, the CSRF token of its session and the form field names it can see."""
    name: str
    client: object
    csrf: str
    fields: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Fixtures:
    """Real objects whose ids and references the fuzzer puts into URLs now and then; with DRP on, a
    paired agent that signs the fuzzed messages, one of its requests, and an agent for pairing."""
    reference: str
    staff_id: int
    agent: Agent | None = None
    pairing_agent: Agent | None = None
    drp_request_id: str | None = None


_NAME_ATTR = re.compile(r'name="([^"]+)"')


def _form_fields(client, paths) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        html = client.get(path).get_data(as_text=True)
        found[path] = sorted(set(_NAME_ATTR.findall(html)) - {"csrf_token"})
    return found


def prepare(app) -> tuple[list[Context], Fixtures, list]:
    """Three clients (anonymous, a support member, an admin), one case and the route rules."""
    case = new_case(app, first_name="Zoe", last_name="Zu")
    contexts = []
    anonymous = app.test_client()
    anonymous_csrf = csrf_from(anonymous.get("/requests/new").get_data(as_text=True))
    contexts.append(Context("anonymous", anonymous, anonymous_csrf, _form_fields(anonymous, [
        "/requests/new", "/requests/new?type=correct", "/status", "/agent/requests/new", "/inquiries/new",
        "/preferences", "/staff/login"])))
    staff_id = None
    for role in ("support", "admin"):
        client = app.test_client()
        email = f"fuzz-{role}@staff.example"
        with app.app_context():
            staff_id = accounts.create(db.session(), email=email, role=role, password=STAFF_PASSWORD).id
        assert post_form(client, "/staff/login", {"email": email, "password": STAFF_PASSWORD}).status_code == 303
        token = csrf_from(client.get("/staff/account").get_data(as_text=True))
        contexts.append(Context(role, client, token, _form_fields(client, [
            "/staff/account", "/staff/admin/staff", f"/staff/requests/{case.reference}", "/staff/requests/new"])))
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    fixtures = Fixtures(case.reference, staff_id)
    if app.config["DRP_ENABLED"]:
        fixtures.agent, fixtures.pairing_agent = Agent("FUZZ_AGENT", "Fuzz"), Agent("FUZZ_PAIRING", "Pairing")
        for agent in (fixtures.agent, fixtures.pairing_agent):
            register(app, agent)
        client = app.test_client()
        pair(client, fixtures.agent)
        made = client.post("/drp/v1/data-rights-request", data=fixtures.agent.sign(fixtures.agent.exercise("deletion")),
                           headers=fixtures.agent.auth(), content_type="text/plain")
        fixtures.drp_request_id = made.get_json()["request_id"]
    return contexts, fixtures, rules


@st.composite
def fuzz_request(draw, contexts: list[Context], fixtures: Fixtures, rules: list):
    """One request: a context, a route with fuzzed (or real) path values, a query, a body."""
    ctx = draw(st.sampled_from(contexts))
    rule = draw(st.sampled_from(rules))
    methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}) or ["OPTIONS"]
    method = draw(st.sampled_from(methods))
    path = _build_path(draw, rule, fixtures)
    query = {name: draw(text) for name in draw(st.lists(st.sampled_from(QUERY_NAMES), max_size=3, unique=True))}
    headers = {}
    if draw(st.booleans()):
        headers["HX-Request"] = "true"
    if draw(st.integers(0, 9)) == 0:
        headers["Host"] = draw(st.sampled_from(["a" * 64 + ".example", "[::1", "exa mple", "x" * 300]))
    if rule.rule.startswith("/api/"):
        headers["Origin"] = draw(st.sampled_from(["https://www.billgenix.example", "http://portal.test", "null"]))
        headers["X-Consent-Token"] = draw(header_text)
    body = None
    if method == "POST":
        body = _draw_body(draw, ctx, rule)
    return ctx, method, path, query, headers, body


# ---- signed Data Rights Protocol messages of random shapes ------------------------------------

CLAIM_NAMES = ["agent-id", "business-id", "issued-at", "expires-at", "drp.version", "exercise", "regime", "name",
               "email", "email_verified", "phone_number", "phone_number_verified", "address", "address_verified",
               "relationships", "power_of_attorney", "agent-request-id", "status_callback", "request_id", "reason"]
# Values a claim should not have: every JSON shape, and strings that broke something once.
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4), max_leaves=12)
CLAIM_VALUES = st.one_of(json_value, st.sampled_from([
    "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+00:00", "9999-12-31T23:50:00+00:00", "2026-02-30T00:00:00Z",
    "deletion", "sale:opt-in", "access:specific", "ccpa", "voluntary", "Ana\r\nBcc: x@example.org", "Ana\x00Ruiz",
    "http://127.0.0.1/cb", "http://2130706433/", "https://agent.example/cb\r\nX: 1", "https://[::1/",
    "https://agent.example:99999/", "1.0\x00", "x" * 3000, {"postal_code": "92373\x00"}, ["a\nb"]]))


@st.composite
def _claims(draw, agent: Agent, fixtures: Fixtures, kind: str):
    """A message: well-formed for its call with some claims replaced, or anything at all."""
    shape = draw(st.sampled_from(["altered", "altered", "altered", "any", "nested", "not json"]))
    if shape == "not json":
        return draw(st.binary(max_size=300))
    if shape == "nested":
        depth = draw(st.integers(500, 9000))
        return ("[" * depth + "]" * depth).encode() if draw(st.booleans()) else \
            b'{"exercise": "deletion", "x": ' + b"{\"a\": " * depth + b"1" + b"}" * depth + b"}"
    if shape == "any":
        return json.dumps(draw(json_value)).encode()
    moment = clock.now() + timedelta(seconds=draw(st.integers(-3600, 600)))
    base = {"pair": agent.envelope(moment), "exercise": agent.exercise(draw(st.sampled_from(
        ["deletion", "access", "sale:opt-out", "access:specific"])), **{"issued-at": moment.isoformat()}),
            "revoke": agent.revoke(fixtures.drp_request_id, "changed my mind", moment)}[kind]
    for name in draw(st.lists(st.sampled_from(CLAIM_NAMES), max_size=4, unique=True)):
        if draw(st.integers(0, 5)) == 0:
            base.pop(name, None)
        else:
            base[name] = draw(CLAIM_VALUES)
    return json.dumps(base).encode()


@st.composite
def drp_request(draw, contexts: list[Context], fixtures: Fixtures):
    """One signed DRP call: an exercise, a pairing, a revoke or a status read, its message (or its
    path) of a random shape, signed by the agent's own key (now and then by another key)."""
    ctx = draw(st.sampled_from(contexts))
    agent = fixtures.agent
    ids = st.one_of(st.just(fixtures.drp_request_id), text.map(lambda v: quote(v, safe="") or "x"))
    call = draw(st.sampled_from(["exercise", "exercise", "exercise", "pair", "revoke", "status", "agent"]))
    headers = {"Authorization": f"Bearer {agent.token}"} if draw(st.integers(0, 9)) else {}
    signer = agent if draw(st.integers(0, 9)) else Agent("OTHER_KEY")
    if call == "pair":
        pairing = fixtures.pairing_agent  # a fresh token for it never unpairs the agent the other calls use
        body = ("signed", (pairing if draw(st.integers(0, 9)) else Agent("OTHER_KEY")).sign(
            draw(_claims(pairing, fixtures, "pair"))))
        return ctx, "POST", f"/drp/v1/agent/{pairing.agent_id}", {}, {}, body
    if call == "exercise":
        return ctx, "POST", "/drp/v1/data-rights-request", {}, headers, ("signed", signer.sign(
            draw(_claims(agent, fixtures, "exercise"))))
    if call == "revoke":
        return ctx, "DELETE", f"/drp/v1/data-rights-request/{draw(ids)}", {}, headers, ("signed", signer.sign(
            draw(_claims(agent, fixtures, "revoke"))))
    if call == "status":
        return ctx, "GET", f"/drp/v1/data-rights-request/{draw(ids)}", {}, headers, None
    return ctx, "GET", f"/drp/v1/agent/{draw(st.sampled_from([agent.agent_id, 'NOBODY', 'x' * 80]))}", {}, headers, None


def any_request(contexts: list[Context], fixtures: Fixtures, rules: list):
    """Every route fuzzed as before; with DRP on, a third of the requests are signed DRP calls."""
    routes = fuzz_request(contexts, fixtures, rules)
    if fixtures.agent is None:
        return routes
    return st.one_of(routes, routes, drp_request(contexts, fixtures))


def _build_path(draw, rule, fixtures: Fixtures) -> str:
    parts = []
    for is_arg, piece in rule._trace:
        if not is_arg:
            parts.append(piece)
            continue
        converter = rule._converters[piece]
        kind = type(converter).__name__
        if kind == "AnyConverter":
            value = draw(st.sampled_from(sorted(converter.items) + ["bogus"]))
        elif piece in ("staff_id", "file_id", "document_id"):
            value = draw(st.one_of(st.sampled_from([str(fixtures.staff_id), "1", "0", "9" * 30, str(2**31)]),
                                   st.integers(0, 2**64).map(str)))
        elif piece == "reference":
            value = draw(st.one_of(st.just(fixtures.reference), text))
        elif piece == "action":
            value = draw(st.sampled_from(["verify", "fraud_hold", "clear_hold", "message", "extend", "deny",
                                          "complete", "bogus", "note"]))
        else:
            value = draw(text)
        parts.append(quote(value, safe="") or "x")
    return "".join(parts).lstrip("|") or "/"


def _draw_body(draw, ctx: Context, rule):
    style = draw(st.sampled_from(["form", "form", "multipart", "json", "raw", "nameless"]))
    if style == "json":
        return "json", draw(st.one_of(
            st.recursive(st.none() | st.booleans() | st.integers() | text,
                         lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
                         max_leaves=10),
            st.sampled_from(["[" * 5000 + "]" * 5000, '{"choices": ' * 3000 + "1" + "}" * 3000])))
    if style == "raw":
        return "raw", draw(st.binary(max_size=200))
    names = sorted({n for fields in ctx.fields.values() for n in fields})
    chosen = draw(st.lists(st.sampled_from(names), max_size=8, unique=True)) if names else []
    data = {name: draw(text) for name in chosen}
    if draw(st.integers(0, 4)) > 0:  # most of the time with a valid token, under every prefix in use
        data["csrf_token"] = ctx.csrf
        for name in chosen:
            if "-" in name:
                data[name.split("-", 1)[0] + "-csrf_token"] = ctx.csrf
    if style == "nameless":
        return "nameless", data
    return style, data


def send(ctx: Context, method: str, path: str, query: dict, headers: dict, body):
    kw = {"query_string": query, "headers": headers}
    if body is not None:
        style, payload = body
        if style == "json":
            kw["data"] = payload if isinstance(payload, str) else json.dumps(payload)
            kw["content_type"] = "application/json"
        elif style == "raw":
            kw["data"], kw["content_type"] = payload, "application/octet-stream"
        elif style == "signed":  # a DRP message: base64 text
            kw["data"], kw["content_type"] = payload, "text/plain"
        elif style == "nameless":
            parts = b"".join(b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                             % (k.encode(), v.encode("utf-8", "surrogatepass")) for k, v in payload.items())
            kw["data"] = parts + b"--B\r\nContent-Disposition: form-data\r\n\r\nv\r\n--B--\r\n"
            kw["content_type"] = "multipart/form-data; boundary=B"
        else:
            kw["data"] = payload
            if style == "multipart":
                kw["content_type"] = "multipart/form-data"
    return ctx.client.open(path, method=method, **kw)


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        session = db.session()
        counts = {t.name: session.execute(select(func.count()).select_from(t)).scalar()
                  for t in SQLModel.metadata.sorted_tables}
        session.rollback()
        return counts


@dataclass
class Tally:
    """What a fuzz run saw: answers per status, and the problems (should stay empty)."""
    statuses: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    drp: Counter = field(default_factory=Counter)  # the answers to /drp/ calls, by status
    not_ready: int = 0  # /readyz saying 503 on purpose (no delivering process has beaten for READY_MAX_WORKER_AGE_SECONDS)


def _not_ready(path: str, resp) -> bool:
    """/readyz's own answer that the service is not ready, with the check that failed: in a long
    run without a worker, no heartbeat comes for READY_MAX_WORKER_AGE_SECONDS (120 s)."""
    if path != "/readyz" or resp.status_code != 503 or not resp.is_json:
        return False
    report = resp.get_json()
    return report.get("status") == "unavailable" and any(not c.get("ok") for c in report.get("checks", {}).values())


def check_one(app, request, tally: Tally) -> None:
    """Send one fuzzed request; record a problem on a 5xx, or on rows stored by a refused request."""
    ctx, method, path, query, headers, body = request
    before = row_counts(app)
    resp = send(ctx, method, path, query, headers, body)
    tally.statuses[resp.status_code] += 1
    if path.startswith("/drp/"):
        tally.drp[resp.status_code] += 1
    where = f"{ctx.name} {method} {path} query={query!r} headers={headers!r} body={body!r}"[:2000]
    if resp.status_code >= 500 and _not_ready(path, resp):
        tally.not_ready += 1
    elif resp.status_code >= 500:
        tally.problems.append(f"{resp.status_code} for {where}")
    elif resp.status_code >= 400:
        after = row_counts(app)
        # Every refused DRP call is put on record (the audit log): that row is the refusal itself.
        on_record = {"audit_event"} if path.startswith("/drp/") else set()
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t] and t not in on_record}
        if changed:
            tally.problems.append(f"{resp.status_code} stored {changed} for {where}")
