"""The cookie-preference center, banner, GPC, receipts and the consent API through the test client."""
import csv
import io
import json

import pytest
from sqlalchemy import event, select

from portal import create_app
from portal import db as portal_db
from portal.models import AuditEvent, ConsentRecord

from ..support import csrf_from, publish_policy


@pytest.fixture(autouse=True)
def _sells_or_shares(app_config):
    """These tests exercise the sale/sharing category: on, with the policy text that discloses it."""
    app_config["SELLS_OR_SHARES"] = True

GPC = {"Sec-GPC": "1"}
SITE = "https://www.billgenix.example"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "CONSENT_ALLOWED_ORIGINS": [SITE]}


def _records(app) -> list[ConsentRecord]:
    with app.app_context():
        return portal_db.session().execute(select(ConsentRecord).order_by(ConsentRecord.id)).scalars().all()


def _choose(client, action, source="center", headers=None, **data):
    page = client.get("/preferences", headers=headers)
    form = {"csrf_token": csrf_from(page.get_data(as_text=True)), "action": action, "source": source, **data}
    return client.post("/preferences", data=form, headers=headers)


def _api(client, headers=None):
    resp = client.get("/api/consent", headers=headers)
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    return resp.get_json()


# --- the center and the banner ----------------------------------------------------------------

def test_center_lists_categories_with_symmetric_choices(client, app):
    page = client.get("/preferences")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for text in ("Strictly necessary", "Always on", "Functional", "Analytics", "Advertising (sale or sharing)",
                 "Reject all", "Accept all", "Save choices", "You have not chosen yet"):
        assert text in html
    # Every choice is the same kind of button: none is styled more prominently than another.
    for action in ("reject_all", "accept_all", "save"):
        assert f'<button class="button" type="submit" name="action" value="{action}">' in html
    assert 'href="/requests/new?type=opt_out">Do Not Sell or Share My Personal Information</a>' in html
    assert "Opt-Out Request Honored" not in html and 'id="consent-banner"' not in html
    assert _records(app) == [] and "portal_consent_id" not in page.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("action, expected", [
    ("accept_all", {"functional": True, "analytics": True, "advertising": True}),
    ("reject_all", {"functional": False, "analytics": False, "advertising": False}),
    ("save", {"functional": False, "analytics": True, "advertising": False}),
])
def test_center_records_each_choice(client, app, action, expected):
    resp = _choose(client, action, analytics="y")
    assert resp.status_code == 303 and resp.headers["Location"] == "/preferences"
    [record] = _records(app)
    assert record.choices == expected and record.source == "center" and not record.gpc
    page = client.get("/preferences").get_data(as_text=True)
    assert "Your cookie choices are saved." in page and "Your choices were last saved on" in page
    assert _api(client)["choices"] == {"necessary": True, **expected}


def test_center_without_csrf_or_with_a_bad_action_is_refused(client, app):
    assert client.post("/preferences", data={"action": "reject_all", "source": "center"}).status_code == 400
    resp = _choose(client, "sell_everything")
    assert resp.status_code == 422 and "Choose one of the buttons." in resp.get_data(as_text=True)
    assert _records(app) == []


def test_banner_until_a_choice_then_gone(client, app):
    home = client.get("/").get_data(as_text=True)
    assert 'id="consent-banner"' in home and "Reject all" in home and "Accept all" in home
    assert "Opt-Out Request Honored" not in home
    assert 'name="next" value="/"' in home
    resp = client.post("/preferences", data={"csrf_token": csrf_from(home), "action": "reject_all",
                                             "source": "banner", "next": "/status"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/status"
    [record] = _records(app)
    assert record.source == "banner" and not any(record.choices.values())
    assert 'id="consent-banner"' not in client.get("/status").get_data(as_text=True)


def test_banner_with_htmx_returns_the_partial(client, app):
    home = client.get("/").get_data(as_text=True)
    resp = client.post("/preferences", headers={"HX-Request": "true"}, data={
        "csrf_token": csrf_from(home), "action": "accept_all", "source": "banner", "next": "/"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and html.lstrip().startswith('<section class="consent-banner consent-banner-saved"')
    assert "<html" not in html and "Your cookie choices are saved" in html
    assert _records(app)[0].choices["advertising"] is True


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_banner_never_redirects_off_site(client, target):
    home = client.get("/").get_data(as_text=True)
    resp = client.post("/preferences", data={"csrf_token": csrf_from(home), "action": "reject_all",
                                             "source": "banner", "next": target})
    assert resp.status_code == 303 and resp.headers["Location"] == "/preferences"


def test_footer_and_nav_link_to_the_center_and_the_opt_out_request(client):
    html = client.get("/status").get_data(as_text=True)
    assert 'href="/preferences">Cookie preferences</a>' in html
    assert 'href="/requests/new?type=opt_out">Do Not Sell or Share My Personal Information</a>' in html


# --- Global Privacy Control -----------------------------------------------------------------------

def test_gpc_on_the_center_is_honored_before_any_click(client, app):
    page = client.get("/preferences", headers=GPC)
    html = page.get_data(as_text=True)
    assert "Opt-Out Request Honored" in html and "We applied it on" in html
    assert 'id="advertising" name="advertising" value="y" disabled' in html
    assert "Off while your browser sends the Global Privacy Control signal." in html
    assert "portal_consent_id=" in page.headers.get("Set-Cookie", "")
    [record] = _records(app)
    assert (record.source, record.gpc, record.choices) == ("gpc", True, {"advertising": False})
    client.get("/preferences", headers=GPC)
    assert len(_records(app)) == 1  # recorded once per change, not on every view

    # Accepting all while the signal is on never turns advertising on.
    _choose(client, "accept_all", headers=GPC)
    latest = _records(app)[-1]
    assert latest.gpc and latest.choices == {"functional": True, "analytics": True, "advertising": False}


def test_gpc_off_center_shows_no_notice_and_keeps_the_switch(client):
    html = client.get("/preferences").get_data(as_text=True)
    assert "Opt-Out Request Honored" not in html
    assert 'id="advertising" name="advertising" value="y" aria-describedby' in html


def test_gpc_on_the_banner(client, app):
    html = client.get("/", headers=GPC).get_data(as_text=True)
    assert 'id="consent-banner"' in html and "Opt-Out Request Honored" in html
    [record] = _records(app)
    assert record.source == "gpc"


def test_gpc_after_an_earlier_accept_opts_out_and_keeps_the_rest(client, app):
    _choose(client, "accept_all")
    assert _api(client)["choices"]["advertising"] is True
    state = _api(client, headers=GPC)
    assert state["choices"] == {"necessary": True, "functional": True, "analytics": True, "advertising": False}
    assert state["gpc"]["signal"] and state["gpc"]["honored"] and state["gpc"]["applied_at"]
    assert [r.source for r in _records(app)] == ["center", "gpc"]
    # The banner does not come back: the visitor had chosen; the center says the signal is honored.
    assert 'id="consent-banner"' not in client.get("/", headers=GPC).get_data(as_text=True)
    assert "Opt-Out Request Honored" in client.get("/preferences", headers=GPC).get_data(as_text=True)


def test_gpc_on_the_api_for_a_new_visitor(client, app):
    state = _api(client, headers=GPC)
    assert state["gpc"] == {"signal": True, "honored": True, "applied_at": state["gpc"]["applied_at"],
                            "notice": state["gpc"]["notice"]} and state["gpc"]["notice"]["title"]
    assert state["choices"]["advertising"] is False and state["decided"] is False
    assert state["banner"]["gpc_honored"] == "Opt-Out Request Honored"
    [record] = _records(app)
    assert record.source == "gpc"


def test_gpc_off_on_the_api(client, app):
    state = _api(client)
    assert state["gpc"] == {"signal": False, "honored": False, "applied_at": None}
    assert state["decided"] is False and _records(app) == []


def test_gpc_json_declares_support(client):
    resp = client.get("/.well-known/gpc.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.get_json() == {"gpc": True, "lastUpdate": "2026-11-28"}


# --- policy versions, history, receipts, restarts ---------------------------------------------------

def test_new_policy_version_prompts_again(client, app):
    _choose(client, "accept_all")
    assert 'id="consent-banner"' not in client.get("/").get_data(as_text=True)
    publish_policy(app, "2027-01-01")
    home = client.get("/").get_data(as_text=True)
    assert 'id="consent-banner"' in home
    center = client.get("/preferences").get_data(as_text=True)
    assert "Our cookie policy has changed (now version 2027-01-01)" in center
    state = _api(client)
    assert state["decided"] is False and state["choices"]["analytics"] is False
    _choose(client, "reject_all")
    assert [r.policy_version for r in _records(app)] == ["2026-11-01", "2027-01-01"]


def test_history_and_receipts(client, app):
    assert "There is no choice on record" in client.get("/preferences/history").get_data(as_text=True)
    assert client.get("/preferences/receipt").status_code == 404
    _choose(client, "accept_all")
    _choose(client, "save", functional="y")
    first, second = _records(app)
    html = client.get("/preferences/history").get_data(as_text=True)
    assert html.count("<tr>") == 3 and html.index(second.receipt_id) < html.index(first.receipt_id)
    assert "Preference center" in html and "Not chosen" not in html

    resp = client.get("/preferences/receipt")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="consent-receipt-{second.receipt_id}.json"'
    receipt = json.loads(resp.get_data())
    assert receipt["consentReceiptID"] == second.receipt_id and receipt["piiPrincipalId"] == second.consent_id
    statuses = {p["purposeCategory"][0]: p["status"] for p in receipt["services"][0]["purposes"]}
    assert statuses == {"necessary": "always_on", "functional": "granted", "analytics": "declined",
                        "advertising": "declined"}
    older = json.loads(client.get(f"/preferences/receipt/{first.receipt_id}").get_data())
    assert older["consentReceiptID"] == first.receipt_id

    # Another browser cannot fetch these receipts or see this history.
    other = app.test_client()
    assert other.get(f"/preferences/receipt/{first.receipt_id}").status_code == 404
    assert first.receipt_id not in other.get("/preferences/history").get_data(as_text=True)


def test_records_survive_a_restart(app_config):
    first = create_app(app_config)
    client = first.test_client()
    _choose(client, "save", analytics="y")
    cookie = client.get_cookie("portal_consent_id").value
    first.extensions["db_engine"].dispose()

    second = create_app(app_config)
    again = second.test_client()
    again.set_cookie("portal_consent_id", cookie)
    state = _api(again)
    assert state["decided"] and state["choices"]["analytics"] is True and state["choices"]["functional"] is False
    assert len(_records(second)) == 1
    second.extensions["db_engine"].dispose()


# --- the consent API ---------------------------------------------------------------------------------

def test_api_get_answers_from_the_signed_cookie_without_a_query(client, app):
    _choose(client, "save", functional="y")
    statements = []
    event.listen(app.extensions["db_engine"], "before_cursor_execute", lambda *a: statements.append(a[2]))
    state = _api(client, headers={"Origin": SITE})
    assert state["decided"] and state["choices"]["functional"] is True
    assert statements == []
    # Without the cache cookie: exactly one (indexed) query.
    client.delete_cookie("portal_consent_state")
    assert _api(client)["choices"]["functional"] is True
    assert len([s for s in statements if "consent_record" in s]) == 1
    # A forged consent id never reaches the database.
    client.set_cookie("portal_consent_id", "x' OR 1=1 --")
    client.delete_cookie("portal_consent_state")
    statements.clear()
    assert _api(client)["decided"] is False and statements == []


def test_fast_path_answers_like_the_flask_path(client):
    _choose(client, "save", analytics="y")
    fast = client.get("/api/consent", headers={"Origin": SITE})  # answered from the signed cookie
    client.delete_cookie("portal_consent_state")
    slow = client.get("/api/consent", headers={"Origin": SITE})  # through Flask, one query
    assert fast.get_json() == slow.get_json() and fast.get_json()["decided"] is True
    assert "Set-Cookie" not in fast.headers  # no session, no new cookie on the hot path
    assert client.get_cookie("portal_consent_state") is not None  # the Flask path issued it again
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
                 "Cache-Control", "Vary", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"):
        assert fast.headers[name] == slow.headers[name], name
    refused = client.get("/api/consent", headers={"Origin": "https://evil.example"})  # the fast path again
    assert refused.get_json()["decided"] is True and "Set-Cookie" not in refused.headers
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Credentials" not in refused.headers


def test_api_cors_allowed_and_refused_origins(client):
    allowed = client.get("/api/consent", headers={"Origin": SITE})
    assert allowed.headers["Access-Control-Allow-Origin"] == SITE
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in allowed.headers["Vary"] and allowed.headers["Cache-Control"] == "no-store, private"
    refused = client.get("/api/consent", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Credentials" not in refused.headers

    preflight = client.options("/api/consent", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == SITE
    assert "X-Consent-Token" in preflight.headers["Access-Control-Allow-Headers"]
    bad = client.options("/api/consent",
                         headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert bad.status_code == 403 and "Access-Control-Allow-Origin" not in bad.headers


def _api_post(client, body, origin=SITE, token=None, headers=None):
    token = token if token is not None else _api(client)["token"]
    return client.post("/api/consent", json=body,
                       headers={"Origin": origin, "X-Consent-Token": token, **(headers or {})})


def test_api_post_records_a_choice(client, app):
    resp = _api_post(client, {"action": "save", "choices": {"analytics": True}})
    assert resp.status_code == 200 and resp.headers["Access-Control-Allow-Origin"] == SITE
    state = resp.get_json()
    assert state["decided"] and state["choices"] == {"necessary": True, "functional": False, "analytics": True,
                                                     "advertising": False}
    [record] = _records(app)
    assert record.source == "api" and record.choices["analytics"] is True
    assert _api(client)["choices"]["analytics"] is True
    assert _api_post(client, {"action": "reject_all"}).get_json()["choices"]["analytics"] is False


def test_api_post_with_gpc_keeps_advertising_off(client, app):
    resp = _api_post(client, {"action": "accept_all"}, headers=GPC)
    state = resp.get_json()
    assert state["choices"]["advertising"] is False and state["choices"]["analytics"] is True
    assert state["gpc"]["honored"]
    assert [(r.source, r.gpc) for r in _records(app)] == [("api", True)]


def test_api_post_refuses_other_origins_missing_tokens_and_bad_bodies(client, app):
    assert _api_post(client, {"action": "accept_all"}, origin="https://evil.example").status_code == 403
    assert client.post("/api/consent", json={"action": "accept_all"}, headers={"X-Consent-Token": _api(client)["token"]}
                       ).status_code == 403  # no Origin at all
    assert _api_post(client, {"action": "accept_all"}, token="forged").status_code == 403
    other = app.test_client()
    stolen = _api(other)["token"]  # a token for someone else's consent id
    assert _api_post(client, {"action": "accept_all"}, token=stolen).status_code == 403
    assert _api_post(client, {"action": "sell"}).status_code == 400
    assert _api_post(client, {"choices": {"tracking": True}}).status_code == 400
    assert _api_post(client, ["accept_all"]).status_code == 400
    assert _records(app) == []
    # The portal's own origin may post too.
    assert _api_post(client, {"action": "reject_all"}, origin="http://localhost").status_code == 200


# --- staff ---------------------------------------------------------------------------------------------

def test_admin_sees_statistics_and_exports_csv(app, staff_login):
    visitor = app.test_client()
    _choose(visitor, "accept_all")
    _choose(app.test_client(), "reject_all")
    _api(app.test_client(), headers=GPC)
    admin = app.test_client()
    staff_login(admin, role="admin")
    html = admin.get("/staff/consent").get_data(as_text=True)
    assert "Policy version 2026-11-01" in html
    assert "<dt>Records</dt><dd>3</dd>" in html and "<dt>Visitors</dt><dd>3</dd>" in html
    assert "<dt>Visitors with Global Privacy Control</dt><dd>1</dd>" in html
    assert '<th scope="row">Analytics</th><td>1</td>' in html

    resp = admin.get("/staff/consent/export.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="consent-records.csv"'
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["source"] for r in rows] == ["center", "center", "gpc"]
    assert [r["advertising"] for r in rows] == ["granted", "declined", "declined"]
    with app.app_context():
        [audit] = portal_db.session().execute(select(AuditEvent).where(AuditEvent.action == "consent_export")).scalars()
        assert audit.actor.startswith("staff:")


@pytest.mark.parametrize("path", ["/staff/consent", "/staff/consent/export.csv"])
@pytest.mark.parametrize("role", ["support", "viewer"])
def test_other_roles_are_refused(app, staff_login, path, role):
    client = app.test_client()
    staff_login(client, role=role)
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/staff/consent", "/staff/consent/export.csv"])
def test_signed_out_visitors_are_sent_to_sign_in(client, path):
    resp = client.get(path)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/staff/login")


def test_posts_are_rate_limited_but_the_hot_path_is_not(app_config):
    app = create_app({**app_config, "RATELIMIT_CONSENT": "2 per minute"})
    client = app.test_client()
    token = _api(client)["token"]
    codes = [_api_post(client, {"action": "reject_all"}, token=token).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert all(client.get("/api/consent").status_code == 200 for _ in range(5))
    app.extensions["db_engine"].dispose()


# --- after an opt-out (§7026(k), §7028, §7025(c)(1)) ----------------------------------------------

def test_after_an_opt_out_a_new_policy_asks_only_about_the_other_categories(client, app):
    _choose(client, "reject_all")
    publish_policy(app, "2027-01-01")
    home = client.get("/").get_data(as_text=True)
    banner = home[home.index('id="consent-banner"'):home.index("</section>", home.index('id="consent-banner"'))]
    assert "Functional, Analytics" in banner and "Advertising" not in banner
    resp = _choose(client, "accept_all", source="banner", next="/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    state = _api(client)
    assert state["decided"] and state["choices"]["analytics"] and state["choices"]["advertising"] is False
    assert 'id="consent-banner"' not in client.get("/").get_data(as_text=True)


def test_turning_advertising_back_on_takes_a_confirmation_that_says_what_it_means(client, app):
    _choose(client, "reject_all")
    center = client.get("/preferences").get_data(as_text=True)
    assert "Turning this on takes a second step" in center
    resp = _choose(client, "save", advertising="y", functional="y")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/preferences/confirm-sale")
    assert _api(client)["choices"]["advertising"] is False and _api(client)["choices"]["functional"] is True
    page = client.get(resp.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "a sale or sharing of your personal information" in html
    resp = client.post(resp.headers["Location"], data={"csrf_token": csrf_from(html)})
    assert resp.status_code == 303
    assert _api(client)["choices"] == {"necessary": True, "functional": True, "analytics": False, "advertising": True}
    # Without the CSRF token, nothing changes.
    _choose(client, "reject_all")
    assert client.post("/preferences/confirm-sale", data={}).status_code == 400
    assert _api(client)["choices"]["advertising"] is False


def test_while_gpc_is_on_the_confirmation_is_refused(client, app):
    client.get("/preferences", headers=GPC)
    page = client.get("/preferences/confirm-sale", headers=GPC)
    assert page.status_code == 409 and "Opt-Out Request Honored" in page.get_data(as_text=True)
    token = csrf_from(client.get("/preferences").get_data(as_text=True))
    assert client.post("/preferences/confirm-sale", data={"csrf_token": token}, headers=GPC).status_code == 409
    assert _api(client, headers=GPC)["choices"]["advertising"] is False


def test_gpc_on_the_status_page_is_recorded_on_the_request(client, app, mailbox):
    from ..support import link_in, new_case
    req = new_case(app, "access")
    page = client.get("/status")
    client.post("/status", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "reference": req.reference,
                                 "email": req.email})
    link = link_in(mailbox.last(req.email), "/status/")
    page = client.get(link)
    client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert client.get(f"/requests/{req.reference}", headers=GPC).status_code == 200
    client.get(f"/requests/{req.reference}", headers=GPC)
    with app.app_context():
        actions = portal_db.session().execute(select(AuditEvent.action).where(
            AuditEvent.request_id == req.id)).scalars().all()
    assert actions.count("gpc_opt_out_recorded") == 1
    # A visitor without the status session: nothing is written on any request.
    other = app.test_client()
    other.get("/", headers=GPC)
    with app.app_context():
        assert portal_db.session().execute(select(AuditEvent).where(
            AuditEvent.action == "gpc_opt_out_recorded")).scalars().all().__len__() == 1


def test_accept_all_in_the_center_after_an_opt_out_asks_for_the_confirmation(client, app):
    _choose(client, "reject_all")
    resp = _choose(client, "accept_all")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/preferences/confirm-sale")
    choices = _api(client)["choices"]
    assert choices["functional"] and choices["analytics"] and choices["advertising"] is False
