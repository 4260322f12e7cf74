"""Bad input gets a 4xx with a human message and stores nothing."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal import db
from portal.models import OutboxMessage, PrivacyRequest

from ..support import csrf_from, post_form, request_form


def stored(app) -> tuple[int, int]:
    with app.app_context():
        s = db.session()
        return (s.execute(select(func.count()).select_from(PrivacyRequest)).scalar(),
                s.execute(select(func.count()).select_from(OutboxMessage)).scalar())


@pytest.mark.parametrize(("overrides", "message"), [
    ({"email": "not-an-email"}, "Enter an email address like name@example.com."),
    ({"email": ""}, "Please enter your email address."),
    ({"first_name": "x" * 101}, "Use at most 100 characters."),
    ({"details": "y" * 5001}, "Use at most 5,000 characters."),
    ({"date_of_birth": "1980-13-45"}, "Enter the date as YYYY-MM-DD"),
    ({"date_of_birth": "2999-01-01"}, "Enter a date of birth between 1900 and today."),
    ({"date_of_birth": "yesterday"}, "Enter the date as YYYY-MM-DD"),
    ({"request_type": "sell_my_soul"}, "Choose one of the kinds of request listed."),
    ({"request_type": ""}, "Choose the kind of request."),
    ({"first_name": "<script>alert(1)</script>"}, "Use letters, spaces, apostrophes, hyphens and periods only."),
    ({"details": "hello <script>alert(1)</script>"}, "Please use plain text only"),
    ({"phone": "call me maybe"}, "Use digits, spaces and + ( ) - only."),
    ({"access_scope": "everything"}, "Choose what you would like to receive."),
])
def test_invalid_fields_are_explained_and_nothing_is_stored(client, app, overrides, message):
    resp = post_form(client, "/requests/new", request_form("access", **overrides))
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in resp.get_data(as_text=True)  # echoed back escaped
    assert stored(app) == (0, 0)


@pytest.mark.parametrize(("kind", "missing", "message"), [
    ("correct", "correction_details", "This is needed to correct your information."),
    ("delete", "declaration", "This request needs the signed declaration."),
    ("access", "declaration_signature", "Type your full name to sign."),
])
def test_type_specific_requirements(client, app, kind, missing, message):
    data = request_form(kind)
    if kind == "access":
        data.update(access_scope="specific", declaration="y", declaration_signature="Ana Ruiz")
    data.pop(missing)
    resp = post_form(client, "/requests/new", data)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert stored(app) == (0, 0)


def test_the_signature_must_match_the_name(client, app):
    resp = post_form(client, "/requests/new", request_form("delete", declaration_signature="Someone Else"))
    assert resp.status_code == 422 and "must match the first and last name" in resp.get_data(as_text=True)


def test_missing_or_wrong_csrf_token_is_refused(client, app):
    resp = client.post("/requests/new", data=request_form("opt_out"))
    assert resp.status_code == 400 and "This form has expired" in resp.get_data(as_text=True)
    resp = client.post("/requests/new", data={**request_form("opt_out"), "csrf_token": "forged"})
    assert resp.status_code == 400
    assert stored(app) == (0, 0)


def test_oversize_body_is_refused_with_a_friendly_page(client, app):
    resp = client.post("/requests/new", data={"details": "x" * (13 * 1024 * 1024)})
    assert resp.status_code == 413 and "too large" in resp.get_data(as_text=True)


@pytest.mark.parametrize(("method", "path", "code"), [
    ("GET", "/no/such/page", 404), ("DELETE", "/requests/new", 405), ("GET", "/requests/sent?next=x&type=y", 404),
])
def test_error_pages_are_friendly_and_in_the_layout(client, method, path, code):
    resp = client.open(path, method=method)
    page = resp.get_data(as_text=True)
    assert resp.status_code == code and f"Error {code}" in page and 'class="site-header"' in page


def test_an_unexpected_error_shows_the_500_page_without_a_trace(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")
    resp = app.test_client().get("/boom")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 500 and "Something went wrong on our side" in page
    assert "secret internals" not in page and "Traceback" not in page


def test_htmx_inline_validation_returns_one_field(client):
    page = client.get("/requests/new").get_data(as_text=True)
    resp = client.post("/requests/validate/email", data={"email": "nope", "csrf_token": csrf_from(page)},
                       headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and html.lstrip().startswith('<div class="field has-error" id="field-email"')
    assert "Enter an email address like" in html and "<html" not in html
    assert client.post("/requests/validate/email", data={"email": "nope"}).status_code == 400  # CSRF
    assert client.post("/requests/validate/csrf_token", data={"csrf_token": csrf_from(page)}).status_code == 404


def test_htmx_type_switch_returns_the_type_fields(client):
    resp = client.get("/requests/new/fields?request_type=correct", headers={"HX-Request": "true"})
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="type-fields">') and "What should it say instead?" in html
    assert "Only for access requests" not in html
    # The form's own URL answers with the whole page, whatever element htmx says it targets.
    page = client.get("/requests/new?type=correct", headers={"HX-Request": "true", "HX-Target": "type-fields"})
    assert "<html" in page.get_data(as_text=True) and 'hx-get="/requests/new/fields"' in page.get_data(as_text=True)


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.fixed_dictionaries({
    "request_type": st.one_of(st.sampled_from(["access", "delete", "correct", "opt_out", "limit"]), text),
    "first_name": text, "last_name": text, "email": st.one_of(st.emails(), text), "phone": text,
    "claim_number": text, "date_of_birth": st.one_of(st.dates().map(str), text), "details": text,
    "correction_current": text, "correction_details": text,
    "access_scope": st.sampled_from(["categories", "specific", "", "x"]),
    "lookback": st.sampled_from(["12_months", "since_2022", "forever"]),
    "declaration": st.sampled_from(["", "y"]), "declaration_signature": text,
}))
def test_any_form_input_is_either_accepted_or_explained(client, app, data):
    app.config["RATELIMIT_REQUEST_EMAIL"] = app.config["RATELIMIT_FORM_POSTS"] = "10000 per hour"  # tested below
    before = stored(app)[0]
    resp = post_form(client, "/requests/new", data)
    assert resp.status_code in (303, 422), resp.status_code
    after = stored(app)[0]
    if resp.status_code == 422:
        assert after == before and "Please fix the following" in resp.get_data(as_text=True)
    else:
        assert after in (before, before + 1)  # a duplicate of an open request adds none


def test_submissions_are_rate_limited_with_a_friendly_page(client, app):
    app.config["RATELIMIT_REQUEST_ADDRESS"] = "3 per hour"
    codes = [post_form(client, "/requests/new", request_form("opt_out", email=f"r{i}@example.org")).status_code
             for i in range(4)]
    assert codes == [303, 303, 303, 429]
    page = post_form(client, "/requests/new", request_form("opt_out"))
    assert page.status_code == 429 and "You can send this form again in about" in page.get_data(as_text=True)
    assert client.get("/requests/new").status_code == 200  # reading the form is never limited
