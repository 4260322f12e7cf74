"""Agents and consumers alike (§7063, §7062): the agent form asks what the consumer's form asks for
the type, the same tiers apply, and the consumer can verify directly from the confirmation mail."""
import io

from sqlalchemy import select

from portal import db
from portal.models import AuditEvent, PrivacyRequest
from portal.services.identity import subjects

from ..support import csrf_from, link_in, make_staff, post_action, sign_in
from .test_agent_journey import AGENT, confirm_agent_email, submit

RECORDS = ("subject_id,email,phone,first_name,last_name,date_of_birth,claim_number,employer,postal_code\n"
           "S-9,ana.ruiz@example.org,(909) 555-0142,Ana,Ruiz,1980-04-23,WC-2024-0017,Acme Roofing,92373\n")
CHECKLIST = ["signed", "names_agent", "scope", "dated", "not_expired"]


def the_case(app):
    with app.app_context():
        return db.session().execute(select(PrivacyRequest)).scalar_one()


def index(app):
    with app.app_context():
        subjects.import_csv(db.session(), stream=io.BytesIO(RECORDS.encode()))


def test_the_agent_form_asks_what_the_consumers_form_asks(client, app):
    page = client.get("/agent/requests/new").get_data(as_text=True)
    for name in ("access_scope", "lookback", "correction_current", "correction_details", "correction_points",
                 "date_of_birth", "claim_number", "date_of_injury", "employer", "postal_code"):
        assert f'name="{name}"' in page, name
    resp = submit(client, request_type="access", access_scope="")
    assert resp.status_code == 422 and "Choose what the consumer would like to receive" in resp.get_data(as_text=True)
    resp = submit(client, request_type="correct")
    assert resp.status_code == 422 and "needed to correct" in resp.get_data(as_text=True)


def test_agent_case_is_matched_with_the_same_tiers_after_acceptance(client, app, mailbox):
    index(app)
    data = {**AGENT, "request_type": "access", "access_scope": "specific", "consumer_phone": "909 555 0142",
            "claim_number": "WC20240017", "employer": "ACME ROOFING", "authorization_kind": "power_of_attorney"}
    assert submit(client, data=data).status_code == 303
    confirm_agent_email(client, mailbox.last(AGENT["agent_email"]))
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    req = the_case(app)
    assert req.access_scope == "specific" and req.employer == "ACME ROOFING"
    assert post_action(staff, req.reference, "accept_agent", {"checklist": CHECKLIST}).status_code == 303
    # Three points match; with a power of attorney the agent's declared authority, accepted by staff,
    # stands in for the consumer's declaration (§7063(b)): specific pieces, not downgraded.
    req = the_case(app)
    assert (req.status, req.access_scope) == ("in_progress", "specific")
    with app.app_context():
        detail = db.session().execute(select(AuditEvent.detail).where(
            AuditEvent.action == "identity_verified")).scalar_one()
    assert "subject S-9" in detail and "email" not in detail  # the agent's own email never counts


def test_the_consumer_verifies_directly_from_the_confirmation_mail(client, app, mailbox):
    index(app)
    assert submit(client).status_code == 303  # a deletion, signed permission, consumer reachable
    confirm_agent_email(client, mailbox.last(AGENT["agent_email"]))
    link = link_in(mailbox.last("ana.ruiz@example.org"), "/agent/confirm/")
    consumer = app.test_client()
    page = consumer.get(link).get_data(as_text=True)
    assert 'name="claim_number"' in page and 'name="declaration_signature"' in page
    bad = consumer.post(link, data={"csrf_token": csrf_from(page), "decision": "confirm", "date_of_birth": "23/04/1980"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    resp = consumer.post(link, data={"csrf_token": csrf_from(page), "decision": "confirm", "phone": "(909) 555-0142",
                                     "date_of_birth": "1980-04-23", "claim_number": "wc-2024-0017",
                                     "declaration": "y", "declaration_signature": "Ana Ruiz"})
    assert resp.status_code == 200
    req = the_case(app)
    assert req.declaration_signature == "Ana Ruiz" and req.claim_number == "wc-2024-0017"
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    assert post_action(staff, req.reference, "accept_agent", {"checklist": CHECKLIST}).status_code == 303
    assert the_case(app).status == "in_progress"  # phone, name + date of birth, claim number: the high tier
