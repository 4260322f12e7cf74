"""Hypothesis strategies over every route of the app, and the two rules each answer must keep:
no 5xx, and nothing stored when the request is refused. Used by tests/app/test_fuzz_routes.py
(a few hundred examples) and benchmarks/fuzz_routes.py (10,000 and more).
"""
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import SQLModel

from portal import db
from portal.services.staff import accounts

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
    """Real objects whose ids and references the fuzzer puts into URLs now and then."""
    reference: str
    staff_id: int


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
    return contexts, Fixtures(case.reference, staff_id), rules


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


def check_one(app, request, tally: Tally) -> None:
    """Send one fuzzed request; record a problem on a 5xx, or on rows stored by a refused request."""
    ctx, method, path, query, headers, body = request
    before = row_counts(app)
    resp = send(ctx, method, path, query, headers, body)
    tally.statuses[resp.status_code] += 1
    where = f"{ctx.name} {method} {path} query={query!r} headers={headers!r} body={body!r}"[:2000]
    if resp.status_code >= 500:
        tally.problems.append(f"{resp.status_code} for {where}")
    elif resp.status_code >= 400:
        after = row_counts(app)
        changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
        if changed:
            tally.problems.append(f"{resp.status_code} stored {changed} for {where}")
