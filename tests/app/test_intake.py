"""Staff intake of phone, mail and email requests: no emailed link, email optional with a postal
address as the alternative, identity/intent confirmation and acknowledgement recorded, matching at once."""
import io
from datetime import timedelta

from sqlalchemy import select

from portal import clock, db
from portal.clock import local_date
from portal.models import AuditEvent, OutboxMessage, PrivacyRequest
from portal.services.cases import submission
from portal.services.identity import subjects

from ..support import make_staff, post_form, sign_in

RECORDS = ("subject_id,phone,first_name,last_name,date_of_birth,claim_number\n"
           "S-5,(951) 555-0101,Luis,Ortega,1969-05-06,WC-2022-0099\n")


def intake(client, **overrides):
    data = {"manner": "mail", "received_on": local_date(clock.now()).isoformat(), "request_type": "access",
            "first_name": "Luis", "last_name": "Ortega", "email": "", "postal_address": "12 Main St\nRialto CA 92376",
            "phone": "951-555-0101", "claim_number": "WC 2022 0099", "date_of_birth": "",
            "access_scope": "categories", "lookback": "12_months", "confirmed_by": "letter", "acknowledged_by": "letter"}
    data.update(overrides)
    return post_form(client, "/staff/requests/new", data)


def cases(app):
    with app.app_context():
        return db.session().execute(select(PrivacyRequest)).scalars().all()


def test_a_letter_without_email_is_taken_in_matched_and_verified(app, client):
    with app.app_context():
        subjects.import_csv(db.session(), stream=io.BytesIO(RECORDS.encode()))
    sign_in(client, make_staff(app, "support"))
    resp = intake(client)
    assert resp.status_code == 303
    [req] = cases(app)
    assert (req.email, req.manner, req.status) == ("", "mail", "in_progress")  # phone + claim number matched
    assert req.postal_address.startswith("12 Main St") and req.acknowledged_at is not None
    with app.app_context():
        s = db.session()
        assert s.execute(select(OutboxMessage)).first() is None  # nobody to mail: staff write the letter
        actions = list(s.execute(select(AuditEvent.action).where(AuditEvent.request_id == req.id)).scalars())
        detail = s.execute(select(AuditEvent.detail).where(AuditEvent.action == "submitted")).scalar_one()
    assert actions == ["submitted", "identity_verified"]
    assert "confirmed letter" in detail and "acknowledged letter" in detail
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "S-5" in page


def test_intake_needs_an_email_or_a_postal_address_and_email_for_an_email_acknowledgement(app, client):
    sign_in(client, make_staff(app, "support"))
    resp = intake(client, postal_address="")
    assert resp.status_code == 422 and "Give an email address or a postal address" in resp.get_data(as_text=True)
    resp = intake(client, acknowledged_by="email")
    assert resp.status_code == 422 and "needs the email address" in resp.get_data(as_text=True)
    resp = intake(client, confirmed_by="")
    assert resp.status_code == 422 and "Choose how identity and intent were confirmed" in resp.get_data(as_text=True)
    assert cases(app) == []


def test_email_is_a_manner_of_submission(app, client, mailbox):
    sign_in(client, make_staff(app, "support"))
    resp = intake(client, manner="email", email="luis@example.org", postal_address="", confirmed_by="email",
                  acknowledged_by="email", request_type="opt_out")
    assert resp.status_code == 303
    [req] = cases(app)
    assert (req.manner, req.status) == ("email", "in_progress") and req.effective_at is not None
    assert mailbox.last("luis@example.org")["Subject"] == f"We received your request: {req.reference}"


def test_intake_cases_are_never_expired(app, client):
    sign_in(client, make_staff(app, "support"))
    intake(client, received_on=(local_date(clock.now()) - timedelta(days=30)).isoformat())
    [req] = cases(app)
    assert req.status == "on_hold"  # nothing matched: held for staff, no email link pending
    with app.app_context():
        s = db.session()
        assert submission.expire_unconfirmed(s, now=clock.now()) == 0
        assert s.get(PrivacyRequest, req.id).status == "on_hold"


def test_the_console_shows_acknowledgements_due_and_overdue(app, client):
    from ..support import new_case
    overdue = new_case(app, "access", "awaiting_email", email="a@example.org",
                       received_at=clock.now() - timedelta(days=20))
    due = new_case(app, "delete", "awaiting_email", email="b@example.org")
    done = new_case(app, "access", "awaiting_email", email="c@example.org")  # its link mail acknowledged it
    with app.app_context():  # as cases from before the link mail carried the acknowledgement (§7021(a))
        s = db.session()
        for req in (overdue, due):
            s.get(PrivacyRequest, req.id).acknowledged_at = None
        s.commit()
    sign_in(client, make_staff(app, "support"))
    page = client.get("/staff/").get_data(as_text=True)
    section = page.split("Acknowledgements to send")[1].split("</section>")[0]
    assert overdue.reference in section and "overdue since" in section
    assert due.reference in section and "due by" in section
    assert done.reference not in section
