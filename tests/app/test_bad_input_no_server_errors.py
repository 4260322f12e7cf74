"""Each input that once answered with a server error is now a 4xx with the site's error page."""
import time

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import ConsentRecord, PrivacyRequest

from ..support import STAFF_PASSWORD, csrf_from, new_case, post_form, request_form

SITE = "https://www.billgenix.example"
NAMELESS = b"--x\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--x--\r\n"
NAMELESS_FILE = b'--x\r\nContent-Disposition: form-data; filename="a.pdf"\r\n\r\n%PDF-1.7\r\n--x--\r\n'


@pytest.fixture
def app_config(app_config):
    return {**app_config, "CONSENT_ALLOWED_ORIGINS": [SITE]}


def _count(app, model) -> int:
    with app.app_context():
        return db.session().execute(select(func.count()).select_from(model)).scalar()


def _site_error_page(resp, code):
    assert resp.status_code == code
    html = resp.get_data(as_text=True)
    assert "<html" in html and 'href="/"' in html  # the site's layout, with its links
    return html


@pytest.mark.parametrize("url", ["/requests/new", "/staff/login", "/status", "/agent/requests/new",
                                 "/inquiries/new", "/preferences"])
@pytest.mark.parametrize("body", [NAMELESS, NAMELESS_FILE], ids=["field", "file"])
def test_a_nameless_multipart_part_is_a_400_before_sign_in(client, app, url, body):
    resp = client.post(url, data=body, content_type="multipart/form-data; boundary=x")
    _site_error_page(resp, 400)
    assert _count(app, PrivacyRequest) == 0


def test_a_nameless_part_beside_a_valid_form_is_refused_and_stores_nothing(client, app):
    page = client.get("/requests/new?type=opt_out").get_data(as_text=True)
    fields = {"csrf_token": csrf_from(page), **request_form("opt_out")}
    parts = b"".join(b'--x\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (k.encode(), v.encode())
                     for k, v in fields.items())
    resp = client.post("/requests/new", data=parts + NAMELESS,
                       content_type="multipart/form-data; boundary=x")
    assert resp.status_code == 400 and _count(app, PrivacyRequest) == 0


def test_a_blank_preferences_action_means_save(client, app):
    page = client.get("/preferences").get_data(as_text=True)
    resp = client.post("/preferences", data={"csrf_token": csrf_from(page), "action": " "})
    assert resp.status_code == 303
    assert _count(app, ConsentRecord) == 1


def test_deeply_nested_json_is_a_400(client, app):
    token = client.get("/api/consent").get_json()["token"]
    deep = "[" * 100_000 + "]" * 100_000
    resp = client.post("/api/consent", data=deep, content_type="application/json",
                       headers={"Origin": SITE, "X-Consent-Token": token})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_body"
    deep_object = '{"action": "save", "choices": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001
    resp = client.post("/api/consent", data=deep_object, content_type="application/json",
                       headers={"Origin": SITE, "X-Consent-Token": token})
    assert resp.status_code == 400 and _count(app, ConsentRecord) == 0


@pytest.mark.parametrize("next_url", ["/staff/%0d%0aSet-Cookie:%20x=1", "/staff/%0aX", "/staff/%09", "/staff/%20x"])
def test_a_login_next_with_control_characters_goes_home(client, app, staff_login, next_url):
    from portal.services.staff import accounts
    with app.app_context():
        accounts.create(db.session(), email="ana@staff.example", role="support", password=STAFF_PASSWORD)
    resp = post_form(client, f"/staff/login?next={next_url}", {"email": "ana@staff.example", "password": STAFF_PASSWORD})
    assert resp.status_code == 303 and resp.headers["Location"] == "/staff/"


@pytest.mark.parametrize("path", ["/", "/nope", "/requests/new", "/staff/"])
def test_a_host_label_over_63_characters_gets_the_error_page(client, path):
    resp = client.get(path, headers={"Host": "a" * 64 + ".example"})
    _site_error_page(resp, 400)


def test_queue_search_ending_in_the_last_code_point(client, app, staff_login):
    new_case(app, first_name="Zoe", last_name="Zu")
    staff_login(client)
    for q in ("\U0010ffff", "zu\U0010ffff", "Zoe \U0010ffff"):
        resp = client.get("/staff/", query_string={"q": q})
        assert resp.status_code == 200
    assert "Zu" in client.get("/staff/", query_string={"q": "zu"}).get_data(as_text=True)


@pytest.mark.parametrize("after", ["2026-01-01.99999999999999999999", "2026-01-01.-5",
                                   "9999-12-31.9223372036854775808", "0001-01-01.1"])
def test_huge_or_odd_queue_cursors_are_ignored(client, app, staff_login, after):
    staff_login(client)
    assert client.get("/staff/", query_string={"after": after}).status_code == 200


def test_huge_ids_in_urls_are_not_found(client, app, staff_login):
    case = new_case(app)
    with client.session_transaction() as s:  # the requester's status session for this case
        s["status_access"] = {"ref": case.reference, "until": int(time.time()) + 600}
    huge = "9" * 30
    assert client.get(f"/requests/{case.reference}/files/{huge}").status_code == 404
    assert client.get(f"/requests/{case.reference}/files/{2**31}").status_code == 404
    staff_login(client, role="admin")
    assert client.get(f"/staff/admin/staff/{huge}").status_code == 404
    assert client.get(f"/staff/admin/staff/{2**63}").status_code == 404
    page = client.get("/staff/account").get_data(as_text=True)
    assert client.post(f"/staff/admin/staff/{huge}/role", data={"csrf_token": csrf_from(page), "role": "viewer"}
                       ).status_code == 404


@pytest.mark.parametrize("start,end", [("2026-01-01", "9999-12-31"), ("0001-01-01", "9999-12-31")])
def test_records_export_to_the_last_date(client, app, staff_login, start, end):
    new_case(app)
    staff_login(client, role="admin")
    resp = client.get("/staff/records.csv", query_string={"start": start, "end": end})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.get_data(as_text=True).count("\n") == 2  # the header and the one case


def test_a_stale_case_version_too_large_for_the_database_is_a_conflict_not_a_500(client, app, staff_login):
    from ..support import post_action
    case = new_case(app)
    staff_login(client)
    resp = post_action(client, case.reference, "fraud_hold", {"reason": "Two claims at once", "version": "9" * 30})
    assert 400 <= resp.status_code < 500


def test_non_ascii_tokens_codes_and_emails_are_compared_as_bytes(client, app):
    # hmac.compare_digest raises TypeError on a str with non-ASCII characters: these were 500s.
    client.get("/api/consent")
    resp = client.post("/api/consent", json={"action": "save"},
                       headers={"Origin": SITE, "X-Consent-Token": "\xff\xfa\xff"})
    assert resp.status_code == 403 and resp.get_json()["error"] == "invalid_token"
    client.set_cookie("portal_consent_state", "eyJhIjoxfQ.\xe9\xe9")
    assert client.get("/api/consent").status_code == 200
    case = new_case(app, email="ana.ruiz@example.org")
    resp = post_form(client, "/status", {"reference": case.reference, "email": "anä.ruiz@example.org"})
    assert resp.status_code in (303, 422)


def test_a_totp_code_in_other_digits_is_refused_not_a_500(app):
    from datetime import datetime, timezone

    from portal.services.staff import accounts
    with app.app_context():
        user = accounts.create(db.session(), email="ana@staff.example", role="support", password=STAFF_PASSWORD)
        user.totp_secret = "JBSWY3DPEHPK3PXP"
        assert accounts.totp_step(user, "\u0661\u0662\u0663\u0664\u0665\u0666",
                                       datetime(2026, 11, 30, tzinfo=timezone.utc)) is None
