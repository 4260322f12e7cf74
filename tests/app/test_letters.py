"""Requesters without an email get every answer in writing (§1798.130(a)(2), §7021(b)): each requester
message becomes a letter owed, in the same words and the request's language; the case page shows the
postal address; staff print each letter and record it as sent; a postal case is not denied
automatically before its letter is recorded."""
from datetime import timedelta

from sqlalchemy import select

from portal import clock, db
from portal.lifecycle import local_date
from portal.models import OutboxMessage, PostalLetter, PrivacyRequest
from portal.services.cases import submission

from ..support import csrf_from, days_ago, make_staff, post_form, sign_in

ADDRESS = "12 Main St, Fontana CA 92335"


def _intake(app, client):
    data = {"manner": "mail", "received_on": local_date(clock.now()).isoformat(), "request_type": "access",
            "access_scope": "categories", "lookback": "12_months", "first_name": "Luis", "last_name": "Ortega",
            "email": "", "postal_address": ADDRESS, "confirmed_by": "letter", "acknowledged_by": "letter"}
    resp = post_form(client, "/staff/requests/new", data)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    with app.app_context():
        return db.session().execute(select(PrivacyRequest)).scalar_one()


def _letters(app):
    with app.app_context():
        return db.session().execute(select(PostalLetter).order_by(PostalLetter.id)).scalars().all()


def test_a_postal_requester_is_owed_letters_staff_print_and_record(app, client):
    sign_in(client, make_staff(app, "support"))
    req = _intake(app, client)
    assert not req.email and req.status == "on_hold"
    assert ADDRESS in client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    letters = _letters(app)
    assert letters and all(item.sent_on is None for item in letters)
    with app.app_context():
        assert not db.session().execute(select(OutboxMessage)).first()  # nothing was mailed to nobody
    listing = client.get("/staff/letters").get_data(as_text=True)
    assert req.reference in listing
    hold = letters[-1]
    page = client.get(f"/staff/letters/{hold.id}").get_data(as_text=True)
    assert ADDRESS in page and req.reference in page and app.config["ORG_NAME"] in page
    assert "could not confirm your identity" in hold.body  # the hold mail's own words
    # Day 46: not denied automatically while the letter asking for more details has not gone out.
    with app.app_context():
        s = db.session()
        case = s.get(PrivacyRequest, req.id)
        case.received_at = days_ago(46)
        case.response_due = local_date(days_ago(46)) + timedelta(days=45)
        s.commit()
        submission.expire_unconfirmed(s)
        assert s.get(PrivacyRequest, req.id).status == "on_hold"
    for item in _letters(app):
        resp = client.post(f"/staff/letters/{item.id}/sent", data={
            "csrf_token": csrf_from(page), "sent_on": local_date(clock.now()).isoformat(), "method": "First-class mail"})
        assert resp.status_code == 303
    assert req.reference not in client.get("/staff/letters").get_data(as_text=True)
    with app.app_context():
        s = db.session()
        submission.expire_unconfirmed(s)
        assert s.get(PrivacyRequest, req.id).status == "denied"
    denial = _letters(app)[-1]
    assert denial.template == "denied" and denial.sent_on is None  # the answer is owed by post too
