"""The requester's whole journey through the Flask test client."""
import re

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.models import AuditEvent, OutboxMessage, PrivacyRequest

from ..support import body, csrf_from, link_in, post_form, request_form


def _requests(app):
    from portal import db
    with app.app_context():
        return db.session().execute(select(PrivacyRequest)).scalars().all()


@pytest.mark.parametrize("request_type", ["access", "delete", "correct"])
def test_know_delete_correct_need_email_confirmation(client, app, mailbox, request_type):
    resp = post_form(client, "/requests/new", request_form(request_type))
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith("/requests/sent?next=confirm_email")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Check your email" in page

    [req] = _requests(app)
    assert req.status == "awaiting_email" and req.manner == "web"
    mail = mailbox.last("ana.ruiz@example.org")
    assert mail["Subject"] == "Confirm your privacy request"
    assert mail.get_body(preferencelist=("html",)) is not None
    verify = link_in(mail, "/verify/")

    # A GET shows the button and spends nothing: a mail scanner's pre-fetch is harmless.
    for _ in range(2):
        page = client.get(verify)
        assert page.status_code == 200 and "Confirm my request" in page.get_data(as_text=True)
    assert _requests(app)[0].status == "awaiting_email"

    resp = client.post(verify, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/requests/{req.reference}"
    detail = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert req.reference in detail and "Verifying identity" in detail

    [req] = _requests(app)
    # No identity index holds the requester here: the case waits for more details (never "no data").
    assert (req.status, req.hold_reason) == ("on_hold", "data_mismatch") and req.email_confirmed_at and req.acknowledged_at
    assert "We need more details to confirm your identity" in detail and "Help us confirm it is you" in detail
    ack, hold = [m for m in mailbox.to("ana.ruiz@example.org")][-2:]
    assert "more details" in hold["Subject"]
    text = body(ack)
    assert req.reference in text and "What happens next" in text
    assert f"{req.response_due:%B} {req.response_due.day}, {req.response_due.year}" in text

    # The token is single-use.
    again = client.post(verify, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)


@pytest.mark.parametrize("request_type", ["opt_out", "limit"])
def test_opt_out_and_limit_take_effect_at_submission(client, app, mailbox, request_type):
    resp = post_form(client, "/requests/new", request_form(request_type))
    assert resp.status_code == 303 and "next=in_effect" in resp.headers["Location"]
    assert "in effect" in client.get(resp.headers["Location"]).get_data(as_text=True)
    [req] = _requests(app)
    assert req.status == "in_progress" and req.effective_at == req.received_at
    assert (req.response_due - clock.local_date(req.received_at)).days >= 19  # 15 business days
    receipt = mailbox.last("ana.ruiz@example.org")
    assert req.reference in body(receipt) and "/verify/" not in body(receipt)


def test_status_link_opens_one_request_only(client, app, mailbox):
    post_form(client, "/requests/new", request_form("opt_out"))
    post_form(client, "/requests/new", request_form("limit", email="other@example.org"))
    mine, other = sorted(_requests(app), key=lambda r: r.id)
    mailbox.deliver()

    resp = post_form(client, "/status", {"reference": mine.reference.lower().replace("-", " "),
                                         "email": "ANA.RUIZ@example.org"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/status/sent"
    link = link_in(mailbox.last("ana.ruiz@example.org"), "/status/")
    assert client.get(f"/requests/{mine.reference}").status_code == 403

    page = client.get(link)
    assert page.status_code == 200
    resp = client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.headers["Location"] == f"/requests/{mine.reference}"
    detail = client.get(f"/requests/{mine.reference}")
    assert detail.status_code == 200 and "In progress" in detail.get_data(as_text=True)
    # The session is bound to that one request.
    assert client.get(f"/requests/{other.reference}").status_code == 403
    assert client.get("/requests/PR-0000-0000").status_code == 403


def test_status_answers_the_same_whether_or_not_it_matches(client, app, mailbox):
    post_form(client, "/requests/new", request_form("opt_out"))
    [req] = _requests(app)
    before = len(mailbox.messages)
    answers = []
    for reference, addr in [(req.reference, "ana.ruiz@example.org"), (req.reference, "someone@example.org"),
                            ("PR-ZZZZ-ZZZZ", "ana.ruiz@example.org")]:
        resp = post_form(client, "/status", {"reference": reference, "email": addr})
        answers.append((resp.status_code, resp.headers["Location"]))
    assert len(set(answers)) == 1
    assert len(mailbox.messages) == before + 1  # only the matching pair got a link


def test_withdraw_from_the_status_page(client, app, mailbox):
    post_form(client, "/requests/new", request_form("delete"))
    [req] = _requests(app)
    post_form(client, "/status", {"reference": req.reference, "email": req.email})
    link = link_in(mailbox.last(req.email), "/status/")
    page = client.get(link)
    client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    detail = client.get(f"/requests/{req.reference}").get_data(as_text=True)
    assert "Withdraw request" in detail and "We will respond by" in detail

    refused = client.post(f"/requests/{req.reference}/withdraw", data={"csrf_token": csrf_from(detail)})
    assert refused.status_code == 422 and "Tick the box" in refused.get_data(as_text=True)
    resp = client.post(f"/requests/{req.reference}/withdraw", data={"csrf_token": csrf_from(detail), "confirm": "y"})
    assert resp.status_code == 303
    assert _requests(app)[0].status == "withdrawn"
    assert "withdrawn" in body(mailbox.last(req.email))
    closed = client.get(f"/requests/{req.reference}").get_data(as_text=True)
    assert "Withdraw request" not in closed and "We will respond by" not in closed and "Closed" in closed


def _open_status(client, mailbox, req):
    post_form(client, "/status", {"reference": req.reference, "email": req.email})
    link = link_in(mailbox.last(req.email), "/status/")
    page = client.get(link)
    client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    return client.get(f"/requests/{req.reference}").get_data(as_text=True)


@pytest.mark.parametrize(("kind", "status"), [("delete", "verifying"), ("access", "in_progress"),
                                              ("opt_out", "in_progress"), ("correct", "on_hold")])
def test_withdraw_at_any_open_status_until_the_response_is_sent(client, app, mailbox, kind, status):
    from ..support import new_case
    req = new_case(app, kind, status)
    detail = _open_status(client, mailbox, req)
    assert "Withdraw request" in detail
    resp = client.post(f"/requests/{req.reference}/withdraw", data={"csrf_token": csrf_from(detail), "confirm": "y"})
    assert resp.status_code == 303 and _requests(app)[0].status == "withdrawn"


def test_duplicate_points_to_the_open_request(client, app, mailbox):
    first = post_form(client, "/requests/new", request_form("access"))
    second = post_form(client, "/requests/new", request_form("access", email="Ana.Ruiz@Example.org"))
    assert first.headers["Location"] == second.headers["Location"]  # same answer: no enumeration
    [req] = _requests(app)
    # Still unconfirmed: the second submission re-sends a confirmation link for the first request.
    assert [m["Subject"] for m in mailbox.to(req.email)] == ["Confirm your privacy request"] * 2

    verify = link_in(mailbox.last(req.email), "/verify/")
    page = client.get(verify)
    client.post(verify, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    post_form(client, "/requests/new", request_form("access"))
    assert len(_requests(app)) == 1
    pointer = mailbox.last(req.email)
    assert pointer["Subject"] == "You already have an open privacy request" and req.reference in body(pointer)
    # A different type is not a duplicate.
    post_form(client, "/requests/new", request_form("opt_out"))
    assert len(_requests(app)) == 2


def test_expired_link_offers_a_new_one(client, app, mailbox):
    from datetime import timedelta

    from portal import db
    from portal.models import VerificationToken
    post_form(client, "/requests/new", request_form("access"))
    verify = link_in(mailbox.last("ana.ruiz@example.org"), "/verify/")
    with app.app_context():
        s = db.session()
        token = s.execute(select(VerificationToken)).scalar_one()
        token.expires_at = token.expires_at - timedelta(hours=49)
        s.commit()
    page = client.get(verify)
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    resp = client.post(verify + "/resend", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 200
    fresh = link_in(mailbox.last("ana.ruiz@example.org"), "/verify/")
    assert fresh != verify and client.get(fresh).status_code == 200


def test_tampered_link_is_refused(client):
    page = client.get("/verify/not-a-real-token")
    assert page.status_code == 404 and "not valid" in page.get_data(as_text=True)
    assert client.get("/status/whatever.abc.def").status_code == 404


def test_every_change_is_audited_with_mail_in_the_same_transaction(client, app):
    post_form(client, "/requests/new", request_form("limit"))
    from portal import db
    with app.app_context():
        s = db.session()
        assert s.execute(select(func.count()).select_from(AuditEvent)).scalar() == 1
        assert s.execute(select(func.count()).select_from(OutboxMessage)).scalar() == 1


def test_healthz(client, app):
    assert client.get("/healthz").get_json() == {"status": "ok", "database": True}


def test_home_lists_the_rights_and_contacts(client, app):
    page = client.get("/").get_data(as_text=True)
    for code in ("access", "delete", "correct", "opt_out", "limit"):
        assert f"/requests/new?type={code}" in page
    assert "/status" in page and "/agent/requests/new" in page and "/preferences" in page
    assert app.config["PRIVACY_EMAIL"] in page and app.config["PRIVACY_PHONE"] in page
    assert re.search(r"<title>[^<]*Billgenix</title>", page)
