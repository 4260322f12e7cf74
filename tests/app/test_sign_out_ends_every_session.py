"""Signing out ends every copy of a staff session, not just the browser's cookie."""
from ..support import csrf_from


def _copy_session(source, app):
    """A second browser holding a copy of `source`'s session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", source.get_cookie("session").value)
    return thief


def test_a_copied_session_cookie_stops_working_after_sign_out(client, app, staff_login):
    staff_login(client)
    thief = _copy_session(client, app)
    assert thief.get("/staff/").status_code == 200  # the copy works while the session is open
    page = client.get("/staff/account").get_data(as_text=True)
    assert client.post("/staff/logout", data={"csrf_token": csrf_from(page)}).status_code == 303
    for path in ("/staff/", "/staff/account"):
        resp = thief.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/staff/login")


def test_a_copied_session_cookie_stops_working_after_a_password_change(client, app, staff_login):
    from ..support import STAFF_PASSWORD
    staff_login(client)
    thief = _copy_session(client, app)
    page = client.get("/staff/account").get_data(as_text=True)
    resp = client.post("/staff/account/password", data={
        "csrf_token": csrf_from(page), "current_password": STAFF_PASSWORD,
        "password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert resp.status_code == 303
    assert client.get("/staff/").status_code == 200  # this browser stays signed in
    assert thief.get("/staff/").status_code == 302


def test_signing_in_again_after_sign_out_works(client, app, staff_login):
    from ..support import STAFF_PASSWORD, post_form
    user = staff_login(client)
    page = client.get("/staff/account").get_data(as_text=True)
    client.post("/staff/logout", data={"csrf_token": csrf_from(page)})
    resp = post_form(client, "/staff/login", {"email": user.email, "password": STAFF_PASSWORD})
    assert resp.status_code == 303 and client.get("/staff/").status_code == 200
