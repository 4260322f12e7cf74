"""Staff sign-in, sessions, TOTP, invitations and the staff admin pages, through the test client."""
import re
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from sqlalchemy import select

from portal import clock, db
from portal.models import AuditEvent, StaffUser
from portal.services.staff import accounts

from ..support import STAFF_PASSWORD, body, csrf_from, link_in, post_form

FAILED = "The email address, password or code is not right."


def _user(app, email):
    with app.app_context():
        return db.session().execute(select(StaffUser).where(StaffUser.email == email)).scalar_one()


def _create(app, email="ana@staff.example", role="support"):
    with app.app_context():
        return accounts.create(db.session(), email=email, role=role, password=STAFF_PASSWORD)


def _login(client, email, password=STAFF_PASSWORD, otp="", next_url=None):
    url = "/staff/login" + (f"?next={next_url}" if next_url else "")
    return post_form(client, url, {"email": email, "password": password, "otp": otp})


def _error_text(resp) -> str:
    match = re.search(r'<div class="error-summary" role="alert" id="sign-in-failed">(.*?)</div>',
                      resp.get_data(as_text=True), re.S)
    assert match, "no sign-in error on the page"
    return match.group(1)


def test_sign_in_and_out(client, app):
    _create(app)
    page = client.get("/staff/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for name in ("email", "password", "otp"):
        assert f'name="{name}"' in html
    resp = _login(client, "ana@staff.example")
    assert resp.status_code == 303 and resp.headers["Location"] == "/staff/"
    account = client.get("/staff/account").get_data(as_text=True)
    assert "ana@staff.example" in account and "Sign out" in account
    assert client.get("/staff/login").status_code == 302  # already signed in

    assert client.post("/staff/logout").status_code == 400  # no CSRF token
    resp = client.post("/staff/logout", data={"csrf_token": csrf_from(account)})
    assert resp.status_code == 303 and resp.headers["Location"] == "/staff/login"
    resp = client.get("/staff/account")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/staff/login?next=/staff/account")
    with app.app_context():
        actions = [e.action for e in db.session().execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions == ["staff_created", "staff_signed_in", "staff_signed_out"]


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(client, app):
    _create(app, role="admin")
    resp = client.get("/staff/admin/staff")
    assert resp.status_code == 302
    resp = _login(client, "ana@staff.example", next_url="/staff/admin/staff")
    assert resp.headers["Location"] == "/staff/admin/staff"
    client.post("/staff/logout", data={"csrf_token": csrf_from(client.get("/staff/account").get_data(as_text=True))})
    for evil in ("https://evil.example/", "//evil.example/staff/", "/\\evil.example"):
        resp = _login(client, "ana@staff.example", next_url=evil)
        assert resp.headers["Location"] == "/staff/", evil
        client.post("/staff/logout", data={"csrf_token": csrf_from(client.get("/staff/account").get_data(as_text=True))})


def test_unknown_email_and_wrong_password_get_the_same_answer(client, app):
    _create(app)
    unknown = _login(client, "nobody@staff.example")
    wrong = _login(client, "ana@staff.example", password="not the password")
    assert unknown.status_code == wrong.status_code == 422
    assert _error_text(unknown) == _error_text(wrong)
    assert FAILED in _error_text(wrong)
    # What was typed as email comes back; the password never does.
    assert 'value="not the password"' not in wrong.get_data(as_text=True)


def test_lockout_and_unlock_after_the_window(client, app, time_machine):
    _create(app)
    for _ in range(5):
        assert _login(client, "ana@staff.example", password="not the password").status_code == 422
    locked = _login(client, "ana@staff.example")
    assert locked.status_code == 422
    assert _error_text(locked) == _error_text(_login(client, "nobody@staff.example"))
    user = _user(app, "ana@staff.example")
    assert user.locked_until is not None
    later = user.locked_until + timedelta(seconds=1)
    time_machine.move_to(later, tick=False)
    assert _login(client, "ana@staff.example").status_code == 303


def test_login_is_rate_limited(app_config):
    from portal import create_app
    app = create_app({**app_config, "RATELIMIT_LOGIN": "3 per minute"})
    client = app.test_client()
    codes = [_login(client, "nobody@staff.example").status_code for _ in range(4)]
    assert codes == [422, 422, 422, 429]
    app.extensions["db_engine"].dispose()


def test_missing_fields_are_reported_beside_them(client):
    resp = post_form(client, "/staff/login", {"email": "", "password": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="email-error"' in html and 'id="password-error"' in html and "sign-in-failed" not in html


def test_totp_enrolment_and_sign_in_with_a_code(client, app, time_machine):
    _create(app)
    _login(client, "ana@staff.example")
    page = client.get("/staff/account").get_data(as_text=True)
    resp = client.post("/staff/account/totp", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303
    page = client.get("/staff/account").get_data(as_text=True)
    assert re.search(r'<img src="data:image/svg\+xml[^"]+" alt="QR code[^"]+"', page)
    secret = re.search(r'id="totp-secret" class="secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    totp = pyotp.TOTP(secret)

    bad = client.post("/staff/account/totp/confirm", data={"csrf_token": csrf_from(page), "code": "123456"
                                                           if totp.now() != "123456" else "654321"})
    assert bad.status_code == 422 and "That code is not right" in bad.get_data(as_text=True)
    assert not _user(app, "ana@staff.example").totp_enabled

    resp = client.post("/staff/account/totp/confirm", data={"csrf_token": csrf_from(page), "code": totp.now()})
    assert resp.status_code == 303
    account = client.get("/staff/account")
    assert account.status_code == 200  # this session carries on with the new epoch
    assert "Two-step sign-in is on" in account.get_data(as_text=True)
    assert _user(app, "ana@staff.example").totp_enabled

    client.post("/staff/logout", data={"csrf_token": csrf_from(account.get_data(as_text=True))})
    without = _login(client, "ana@staff.example")
    assert without.status_code == 422 and FAILED in _error_text(without)
    # The code that confirmed the enrolment is spent; the next time step's code signs in.
    step = _user(app, "ana@staff.example").totp_last_step
    at = datetime.fromtimestamp((step + 1) * 30 + 5, timezone.utc)
    time_machine.move_to(at, tick=False)
    assert _login(client, "ana@staff.example", otp=totp.at(step * 30)).status_code == 422
    assert _login(client, "ana@staff.example", otp=totp.at(at)).status_code == 303
    assert client.get("/staff/account").status_code == 200


def test_sessions_end_after_role_change_and_deactivation(app, staff_login):
    admin_client, support_client = app.test_client(), app.test_client()
    admin = staff_login(admin_client, role="admin")
    support = staff_login(support_client, role="support")
    assert support_client.get("/staff/account").status_code == 200

    page = admin_client.get(f"/staff/admin/staff/{support.id}").get_data(as_text=True)
    resp = admin_client.post(f"/staff/admin/staff/{support.id}/role", data={"csrf_token": csrf_from(page), "role": "viewer"})
    assert resp.status_code == 303
    resp = support_client.get("/staff/account")
    assert resp.status_code == 302 and "/staff/login" in resp.headers["Location"]

    _login(support_client, support.email)
    assert "(Viewer)" in support_client.get("/staff/account").get_data(as_text=True)
    resp = admin_client.post(f"/staff/admin/staff/{support.id}/deactivate", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303
    assert support_client.get("/staff/account").status_code == 302
    assert _login(support_client, support.email).status_code == 422
    event = [e for e in _events(app) if e.action == "staff_deactivated"][0]
    assert event.actor == f"staff:{admin.id}" and event.detail == f"staff:{support.id}" and event.request_id is None


def _events(app):
    with app.app_context():
        return db.session().execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()


def test_idle_and_absolute_session_limits(client, app, time_machine, staff_login):
    start = clock.now()
    at = lambda minutes: time_machine.move_to(start + timedelta(minutes=minutes), tick=False)  # noqa: E731
    at(0)
    staff_login(client)
    at(29)
    assert client.get("/staff/account").status_code == 200  # activity keeps it alive
    at(58)
    assert client.get("/staff/account").status_code == 200
    at(58 + 31)
    resp = client.get("/staff/account")
    assert resp.status_code == 302
    assert "Your session ended" in client.get(resp.headers["Location"]).get_data(as_text=True)

    client2 = app.test_client()
    at(0)
    staff_login(client2)
    for minutes in range(25, 12 * 60, 25):  # active all day, never idle for 30 minutes
        at(minutes)
        assert client2.get("/staff/account").status_code == 200
    at(12 * 60 + 1)
    assert client2.get("/staff/account").status_code == 302


def test_htmx_requests_are_told_to_sign_in(client):
    resp = client.get("/staff/account", headers={"HX-Request": "true"})
    assert resp.status_code == 401 and resp.headers["HX-Redirect"].startswith("/staff/login")


ADMIN_GETS = ["/staff/admin/staff", "/staff/admin/staff/{id}"]
ADMIN_POSTS = [("/staff/admin/staff", {"email": "new@staff.example", "role": "support", "name": ""}),
               ("/staff/admin/staff/{id}/role", {"role": "viewer"}),
               ("/staff/admin/staff/{id}/reset-totp", {}),
               ("/staff/admin/staff/{id}/deactivate", {}),
               ("/staff/admin/staff/{id}/reactivate", {})]


@pytest.mark.parametrize("role, expected", [(None, 302), ("viewer", 403), ("support", 403), ("admin", 200),
                                            ("requester", 302)])
def test_admin_pages_by_role(client, app, staff_login, role, expected):
    target = _create(app, email="target@staff.example")
    if role == "requester":
        with client.session_transaction() as s:  # a requester's status session is not a staff session
            s["status_access"] = {"ref": "PR-0000-0000", "until": 2 ** 40}
    elif role:
        staff_login(client, role=role)
    signed_in = role in ("viewer", "support", "admin")
    token = csrf_from(client.get("/staff/account" if signed_in else "/staff/login").get_data(as_text=True))
    for url in ADMIN_GETS:
        resp = client.get(url.format(id=target.id))
        assert resp.status_code == expected, url
        if expected == 302:
            assert resp.headers["Location"].startswith("/staff/login")
    for url, data in ADMIN_POSTS:
        resp = client.post(url.format(id=target.id), data={"csrf_token": token, **data})
        assert resp.status_code == (303 if expected == 200 else expected), url
    if role != "admin":
        assert len(_events(app)) == 1 + (role in ("viewer", "support")) * 2  # nothing but creations, sign-ins
        assert _user(app, "target@staff.example").role == "support"


@pytest.mark.parametrize("url, data", ADMIN_POSTS + [
    ("/staff/admin/staff/{id}/invite", {}), ("/staff/account/password", {}), ("/staff/account/totp", {}),
    ("/staff/account/totp/confirm", {"code": "123456"}), ("/staff/logout", {})])
def test_every_post_needs_the_csrf_token(client, app, staff_login, url, data):
    target = _create(app, email="target@staff.example")
    staff_login(client, role="admin")
    before = len(_events(app))
    resp = client.post(url.format(id=target.id), data=data)
    assert resp.status_code == 400 and "This form has expired" in resp.get_data(as_text=True)
    assert len(_events(app)) == before
    assert client.get("/staff/account").status_code == 200  # still signed in


def test_the_login_post_needs_the_csrf_token(client, app):
    _create(app)
    assert client.post("/staff/login", data={"email": "ana@staff.example", "password": STAFF_PASSWORD}).status_code == 400
    assert client.get("/staff/account").status_code == 302


def test_invite_a_colleague_who_sets_a_password(client, app, mailbox, staff_login):
    staff_login(client, role="admin")
    resp = post_form(client, "/staff/admin/staff", {"email": "Bo@Staff.example", "name": "Bo Chen", "role": "support"})
    assert resp.status_code == 303
    listing = client.get("/staff/admin/staff").get_data(as_text=True)
    assert "bo@staff.example" in listing and "Invited" in listing
    again = post_form(client, "/staff/admin/staff", {"email": "bo@staff.example", "name": "", "role": "viewer"})
    assert again.status_code == 422 and "already a staff account" in again.get_data(as_text=True)

    mail = mailbox.last("bo@staff.example")
    assert "privacy console" in mail["Subject"]
    link = link_in(mail, "/staff/invite/")
    assert "72 hours" in body(mail)
    other = app.test_client()
    for _ in range(2):  # a GET (a mail scanner's pre-fetch) spends nothing
        page = other.get(link)
        assert page.status_code == 200 and "Set your password" in page.get_data(as_text=True)
    weak = other.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "password": "short",
                                  "confirm": "short"})
    assert weak.status_code == 422 and "at least 12 characters" in weak.get_data(as_text=True)
    resp = other.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                  "password": STAFF_PASSWORD, "confirm": STAFF_PASSWORD})
    assert resp.status_code == 303 and resp.headers["Location"] == "/staff/login"
    assert _login(other, "bo@staff.example").status_code == 303
    assert other.get(link).status_code == 410
    assert other.get(link[:-3] + "abc").status_code == 404
    assert other.post(link, data={"password": STAFF_PASSWORD, "confirm": STAFF_PASSWORD}).status_code == 400


def test_the_last_admin_cannot_deactivate_or_demote_themself(client, app, staff_login):
    admin = staff_login(client, role="admin")
    page = client.get(f"/staff/admin/staff/{admin.id}").get_data(as_text=True)
    for url, data in ((f"/staff/admin/staff/{admin.id}/deactivate", {}), (f"/staff/admin/staff/{admin.id}/role", {"role": "support"})):
        resp = client.post(url, data={"csrf_token": csrf_from(page), **data})
        assert resp.status_code == 409 and "last active admin" in resp.get_data(as_text=True)
    assert _user(app, admin.email).active and _user(app, admin.email).role == "admin"
    assert client.get("/staff/account").status_code == 200


def test_unknown_staff_member_is_404_for_admins(client, staff_login):
    staff_login(client, role="admin")
    assert client.get("/staff/admin/staff/9999").status_code == 404


def test_change_password_ends_other_sessions(app, staff_login):
    one, two = app.test_client(), app.test_client()
    user = staff_login(one)
    _login(two, user.email)
    page = one.get("/staff/account").get_data(as_text=True)
    wrong = one.post("/staff/account/password", data={"csrf_token": csrf_from(page), "current_password": "nope",
                                                      "password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert wrong.status_code == 422 and "current password is not right" in wrong.get_data(as_text=True)
    resp = one.post("/staff/account/password", data={"csrf_token": csrf_from(page), "current_password": STAFF_PASSWORD,
                                                     "password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert resp.status_code == 303
    assert one.get("/staff/account").status_code == 200
    assert two.get("/staff/account").status_code == 302
    assert _login(two, user.email, password="a brand new passphrase").status_code == 303


def test_console_navigation(client, app, staff_login):
    staff_login(client, role="viewer")
    html = client.get("/staff/account").get_data(as_text=True)
    nav = re.search(r'<nav aria-label="Console".*?</nav>', html, re.S).group(0)
    assert 'href="/staff/account" aria-current="page"' in nav and "/staff/admin/staff" not in nav
    assert "/staff/metrics" not in nav and "/staff/requests/new" not in nav and "/staff/consent" not in nav
    client2 = app.test_client()
    staff_login(client2, role="admin")
    nav = re.search(r'<nav aria-label="Console".*?</nav>', client2.get("/staff/").get_data(as_text=True), re.S).group(0)
    for href in ("/staff/", "/staff/requests/new", "/staff/metrics", "/staff/consent", "/staff/admin/staff"):
        assert f'href="{href}"' in nav


def test_never_logs_the_password(client, app, caplog):
    _create(app)
    caplog.set_level("DEBUG")
    _login(client, "ana@staff.example", password="my secret attempt")
    _login(client, "ana@staff.example")
    assert "my secret attempt" not in caplog.text and STAFF_PASSWORD not in caplog.text
    assert "ana@staff.example" not in caplog.text


def test_locked_time_is_stored_as_utc(app):
    user = _create(app)
    with app.app_context():
        for _ in range(5):
            accounts.authenticate(db.session(), email=user.email, password="wrong password")
        locked = db.session().get(StaffUser, user.id).locked_until
    assert locked.utcoffset() == timedelta(0) and locked > clock.now()


def test_the_console_nav_follows_the_role(client, app):
    _create(app)
    _login(client, "ana@staff.example")
    nav = re.search(r'<nav aria-label="Console".*?</nav>', client.get("/staff/account").get_data(as_text=True), re.S)
    assert 'href="/staff/"' in nav.group(0) and 'href="/staff/requests/new"' in nav.group(0)
    assert 'href="/staff/admin/staff"' not in nav.group(0) and 'href="/staff/metrics"' not in nav.group(0)
