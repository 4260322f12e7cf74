"""Names typed the way their owners type them still match the business's records (the identity index
keeps keyed hashes of the forms of each name), impostors who know a name, a ZIP code and an employer
still never pass, and a proven email the records hold for someone else holds the case for staff."""
import io
from datetime import date

import pytest
from sqlalchemy import func, select

from portal import clock, db
from portal.lifecycle import IN_PROGRESS, ON_HOLD, VERIFYING
from portal.models import AuditEvent, IdentityNameKey, PrivacyRequest
from portal.services.cases import submission, verification
from portal.services.cases.submission import NewRequest
from portal.services.cases.transitions import transition
from portal.services.identity import subjects

from ...support import body

HEADER = "subject_id,email,phone,first_name,last_name,date_of_birth,claim_number,date_of_injury,employer,postal_code\n"
RECORDS = HEADER + (
    "S-1,siobhan@example.org,(909) 555-0101,Siobhan,O'Brien,1981-05-06,WC-2024-0001,2024-01-02,Acme Roofing Inc,92373\n"
    "S-2,maria@example.org,(909) 555-0102,María Elena,Ramírez Gómez,1979-03-04,WC-2024-0002,2024-02-03,Sunrise Packing,92501\n"
    "S-3,john@example.org,(909) 555-0103,John,Smith Jr.,1970-07-08,WC-2024-0003,2024-03-04,Valley Farms Co.,90012\n")
DOB = {"S-1": date(1981, 5, 6), "S-2": date(1979, 3, 4), "S-3": date(1970, 7, 8)}
ZIP = {"S-1": "92373", "S-2": "92501", "S-3": "90012"}
EMPLOYER = {"S-1": "Acme Roofing", "S-2": "Sunrise Packing", "S-3": "Valley Farms"}


@pytest.fixture
def index(app):
    with app.app_context():
        subjects.import_csv(db.session(), stream=io.BytesIO(RECORDS.encode()))


def match(app, *, first, last, email="someone@example.net", **fields):
    """Submit a request to know the categories, prove the email, match as confirming does."""
    with app.app_context():
        s = db.session()
        new = NewRequest(request_type="access", access_scope="categories", first_name=first, last_name=last,
                         email=email, **fields)
        req = submission.submit(s, new=new).request
        req.email_confirmed_at = clock.now()
        transition(s, req, VERIFYING, actor="requester", action="email_confirmed")
        attempt = verification.match_identity(s, req)
        s.commit()
        return s.get(PrivacyRequest, req.id), attempt


@pytest.mark.parametrize("subject,first,last", [
    ("S-1", "Siobhan", "OBrien"), ("S-1", "Siobhan", "O’Brien"), ("S-2", "Maria", "Ramirez Gomez"),
    ("S-2", "María Elena", "Ramírez"), ("S-2", "Maria", "Gomez"), ("S-3", "John", "Smith"),
])
def test_a_name_typed_as_its_owner_types_it_matches_with_the_date_of_birth(app, index, subject, first, last):
    req, attempt = match(app, first=first, last=last, date_of_birth=DOB[subject], postal_code=ZIP[subject])
    assert (req.status, attempt.outcome, attempt.subject_key) == (IN_PROGRESS, "verified", subject)
    assert attempt.matched == "name_dob,postal_code"


@pytest.mark.parametrize("subject,first,last", [("S-1", "Siobhan", "OBrien"), ("S-2", "Maria", "Ramirez"),
                                                 ("S-3", "John", "Smith")])
def test_impostors_who_know_the_name_zip_and_employer_never_pass(app, index, subject, first, last):
    req, attempt = match(app, first=first, last=last, postal_code=ZIP[subject], employer=EMPLOYER[subject],
                         phone="(213) 555-0199")
    assert req.status == ON_HOLD and attempt.subject_key is None
    guessed, attempt = match(app, first=first, last=last, postal_code=ZIP[subject], employer=EMPLOYER[subject],
                             date_of_birth=date(1975, 1, 1), email="other@example.net")
    assert guessed.status == ON_HOLD and attempt.subject_key is None


def test_a_surname_and_birth_date_alone_name_no_one(app, index):
    req, attempt = match(app, first="Ana", last="Ramirez", date_of_birth=DOB["S-2"], postal_code=ZIP["S-2"])
    assert req.status == ON_HOLD and attempt.subject_key is None


def test_the_index_keeps_only_keyed_hashes_of_the_name_forms_and_forgets_them_with_the_subject(app, index):
    with app.app_context():
        s = db.session()
        rows = s.execute(select(IdentityNameKey)).scalars().all()
        assert {r.subject_key for r in rows} == {"S-1", "S-2", "S-3"}
        assert all(len(r.name_dob_hash) == 64 and int(r.name_dob_hash, 16) >= 0 for r in rows)
        by_subject = {k: sum(r.subject_key == k for r in rows) for k in DOB}
        assert by_subject["S-2"] > by_subject["S-1"]  # two given names and two surnames: more forms
        assert subjects.forget(s, subject_key="S-2")
        assert s.execute(select(func.count()).select_from(IdentityNameKey)
                         .where(IdentityNameKey.subject_key == "S-2")).scalar_one() == 0
        subjects.import_csv(s, stream=io.BytesIO((HEADER + "S-1,,,Siobhan,Kelly,1981-05-06,,,,\n").encode()))
        kelly = subjects.name_keys({"first_name": "Siobhan", "last_name": "Kelly", "date_of_birth": "1981-05-06"})
        stored = set(s.execute(select(IdentityNameKey.name_dob_hash).where(IdentityNameKey.subject_key == "S-1")).scalars())
        assert stored == set(kelly)  # a re-import replaces the forms too


def test_a_proven_email_held_for_another_person_holds_the_case_for_staff(app, index, mailbox):
    """María's details with John's mailbox: never verified past it, whatever else matches."""
    req, attempt = match(app, first="María Elena", last="Ramírez Gómez", email="john@example.org",
                         date_of_birth=DOB["S-2"], postal_code=ZIP["S-2"], phone="(909) 555-0102",
                         claim_number="WC-2024-0002")
    assert (req.status, req.hold_reason, attempt.outcome) == (ON_HOLD, "identity_conflict", "identity_conflict")
    with app.app_context():
        event = db.session().execute(select(AuditEvent).where(AuditEvent.request_id == req.id,
                                                              AuditEvent.action == "identity_conflict_hold")).scalar_one()
    assert "held in the records for a different person" in event.detail and "john" not in event.detail
    assert not [m for m in mailbox.to("john@example.org") if "more details" in m["Subject"]]  # no tip-off


def test_the_hold_mail_names_the_same_kinds_of_detail_for_everyone(app, index, mailbox):
    held, _ = match(app, first="Siobhan", last="Brien", email="one@example.net", postal_code="92373")
    nobody, _ = match(app, first="Nadie", last="Nunca", email="two@example.net", phone="(213) 555-0100",
                      date_of_birth=date(1990, 1, 1))
    a = body(mailbox.last("one@example.net")).replace(held.reference, "REF").replace("Siobhan", "NAME")
    b = body(mailbox.last("two@example.net")).replace(nobody.reference, "REF").replace("Nadie", "NAME")
    assert a == b
    assert "The name as it appears on the claim or the bills" in a and "The date of birth" in a


def test_the_name_as_the_records_hold_it_can_be_added_from_the_status_page(app, index, client):
    from ...support import csrf_from, status_client
    req, attempt = match(app, first="Shiv", last="Kelly", date_of_birth=DOB["S-1"], postal_code=ZIP["S-1"])
    assert req.status == ON_HOLD and attempt.subject_key is None
    browser = status_client(app, req.reference)
    page = browser.get(f"/requests/{req.reference}").get_data(as_text=True)
    assert "First name, as on your claim or bills (optional)" in page
    half = browser.post(f"/requests/{req.reference}/details", data={"csrf_token": csrf_from(page), "first_name": "Siobhan"})
    assert half.status_code == 422 and "Give both the first and the last name, or neither." in half.get_data(as_text=True)
    sent = browser.post(f"/requests/{req.reference}/details", data={
        "csrf_token": csrf_from(page), "first_name": "Siobhan", "last_name": "O'Brien"})
    assert sent.status_code == 303
    with app.app_context():
        after = db.session().get(PrivacyRequest, req.id)
        assert (after.status, after.first_name, after.last_name) == (IN_PROGRESS, "Siobhan", "O'Brien")
        event = db.session().execute(select(AuditEvent).where(AuditEvent.request_id == req.id,
                                                              AuditEvent.action == "data_points_added")).scalar_one()
    assert event.detail == "added: name" and "Siobhan" not in event.detail
