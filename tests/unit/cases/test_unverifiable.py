"""The expiry rule: an unconfirmed web request (or one still held for details) is denied as
unverifiable with its basis mailed, never before the response due date; intake is never expired."""
from datetime import datetime, time, timedelta

from sqlalchemy import select

from portal import clock, db
from portal.lifecycle import ON_HOLD
from portal.models import OutboxMessage, PrivacyRequest
from portal.services.cases import submission
from portal.services.cases.submission import NewRequest
from portal.services.cases.transitions import transition


def submit(session, email="ana@example.org", received_at=None, request_type="access"):
    return submission.submit(session, new=NewRequest(request_type=request_type, first_name="Ana", last_name="Ruiz",
                                                   email=email, access_scope="categories"),
                           received_at=received_at).request


def at_local(day, hour=9):
    return datetime.combine(day, time(hour), tzinfo=clock.PACIFIC)


def test_unconfirmed_requests_are_denied_at_the_due_date_not_before(app):
    with app.app_context():
        s = db.session()
        received = clock.now() - timedelta(days=20)
        req = submit(s, received_at=received)
        day_before_due = at_local(req.due - timedelta(days=1), 23)
        assert submission.expire_unconfirmed(s, now=day_before_due) == 0  # past the 14 days, but not yet due
        assert s.get(PrivacyRequest, req.id).status == "awaiting_email"
        assert submission.expire_unconfirmed(s, now=at_local(req.due, 0)) == 1
        req = s.get(PrivacyRequest, req.id)
        assert (req.status, req.outcome_code) == ("denied", "unverifiable")
        # The access request's own citation (§7024(a)-(b)); a deletion would cite §7022(a).
        assert req.outcome_citation.endswith("§7024(a)-(b)") and "/privacy" in req.response_message
        denial = s.execute(select(OutboxMessage).where(OutboxMessage.template == "denied")).scalar_one()
        assert "never confirmed" in denial.text_body and "Identity could not be verified" in denial.text_body


def test_a_recent_unconfirmed_request_is_left_alone_even_on_its_due_date(app):
    app.config["UNCONFIRMED_EXPIRY_DAYS"] = 60  # configured longer than the 45-day deadline
    with app.app_context():
        s = db.session()
        req = submit(s, received_at=clock.now())
        assert submission.expire_unconfirmed(s, now=at_local(req.due, 12)) == 0


def test_a_case_held_for_details_is_denied_at_the_due_date(app):
    with app.app_context():
        s = db.session()
        req = submit(s, received_at=clock.now())
        req.email_confirmed_at = clock.now()
        transition(s, req, "verifying", actor="requester")
        transition(s, req, ON_HOLD, actor="system", hold_reason="data_mismatch")
        fraud = submit(s, email="other@example.org", received_at=clock.now())
        transition(s, fraud, "verifying", actor="requester")
        transition(s, fraud, ON_HOLD, actor="system", hold_reason="fraud_suspected")
        s.commit()
        assert submission.expire_unconfirmed(s, now=at_local(req.due, 10)) == 1
        assert s.get(PrivacyRequest, req.id).status == "denied"
        assert s.get(PrivacyRequest, fraud.id).status == ON_HOLD  # staff decide on fraud holds
