"""Matching against the identity index: every tier with exactly enough points and one short, the
correction exclusion, the downgrade mail, fraud holds, and answers that reveal nothing."""
import io
from datetime import date

import pytest
from sqlalchemy import select

from portal import clock, db
from portal.lifecycle import IN_PROGRESS, ON_HOLD, VERIFYING
from portal.models import AuditEvent, PrivacyRequest, VerificationAttempt
from portal.services.cases import submission, verification
from portal.services.cases.submission import NewRequest
from portal.services.cases.transitions import transition
from portal.services.identity import subjects, tiers

from ...support import body

RECORDS = ("subject_id,email,phone,first_name,last_name,date_of_birth,claim_number,date_of_injury,employer,postal_code\n"
           "S-1001,ana.ruiz@example.org,(909) 555-0142,José,García-López,1980-02-29,WC-2024-0017,2024-03-04,"
           "Acme Roofing Inc,92373\n")
# Each point as the requester may type it (accents dropped, surnames swapped, other formats).
POINTS = {
    "phone": {"phone": "909.555.0142"},
    "name_dob": {"date_of_birth": date(1980, 2, 29)},
    "claim_number": {"claim_number": "wc 2024 0017"},
    "date_of_injury": {"date_of_injury": date(2024, 3, 4)},
    "employer": {"employer": "ACME ROOFING"},
    "postal_code": {"postal_code": "92373-4410"},
}


@pytest.fixture
def index(app):
    with app.app_context():
        subjects.import_csv(db.session(), stream=io.BytesIO(RECORDS.encode()))


def confirm_and_match(app, *, points=(), email="someone.else@example.net", request_type="access", scope="categories",
                      sign=True, correction_points=None, first_name="Jose", last_name="Lopez Garcia", extra=None):
    """Submit as a requester giving `points`, prove the email, and match as confirm_email does."""
    fields = {}
    for p in points:
        fields.update(POINTS[p])
    if "name_dob" not in points:
        fields.pop("date_of_birth", None)
    fields.update(extra or {})
    with app.app_context():
        s = db.session()
        needs = tiers.declaration_required(request_type, scope if request_type == "access" else None)
        new = NewRequest(request_type=request_type, first_name=first_name, last_name=last_name, email=email,
                         access_scope=scope if request_type == "access" else None,
                         correction_current="old" if request_type == "correct" else None,
                         correction_details="new" if request_type == "correct" else None,
                         correction_points=correction_points,
                         declaration_signature=f"{first_name} {last_name}" if needs and sign else None, **fields)
        req = submission.submit(s, new=new).request
        req.email_confirmed_at = clock.now()
        transition(s, req, VERIFYING, actor="requester", action="email_confirmed")
        attempt = verification.match_identity(s, req)
        s.commit()
        return req.reference, attempt


def case(app, reference):
    with app.app_context():
        return db.session().execute(select(PrivacyRequest).where(PrivacyRequest.reference == reference)).scalar_one()


@pytest.mark.parametrize("request_type,scope,needed", [
    ("access", "categories", 2), ("access", "specific", 3), ("delete", None, 3), ("correct", None, 3)])
def test_every_tier_exactly_enough_verifies(app, index, request_type, scope, needed):
    points = ["phone", "claim_number", "employer", "postal_code"][:needed]
    ref, attempt = confirm_and_match(app, points=points, request_type=request_type, scope=scope)
    req = case(app, ref)
    assert (req.status, attempt.outcome, attempt.subject_key) == (IN_PROGRESS, "verified", "S-1001")
    with app.app_context():
        event = db.session().execute(select(AuditEvent).where(AuditEvent.request_id == req.id,
                                                              AuditEvent.action == "identity_verified")).scalar_one()
    assert "subject S-1001" in event.detail and ", ".join(points) in event.detail
    assert "555" not in event.detail and "WC" not in event.detail.upper().replace("WC-", "")


@pytest.mark.parametrize("request_type,scope,needed,hold", [
    ("access", "categories", 2, "data_mismatch"), ("delete", None, 3, "high_certainty_required"),
    ("correct", None, 3, "high_certainty_required")])
def test_every_tier_one_short_holds(app, index, mailbox, request_type, scope, needed, hold):
    points = ["phone", "claim_number", "employer"][:needed - 1]
    ref, attempt = confirm_and_match(app, points=points, request_type=request_type, scope=scope)
    req = case(app, ref)
    assert (req.status, req.hold_reason) == (ON_HOLD, hold)
    hold_mail = [m for m in mailbox.to("someone.else@example.net") if "more details" in m["Subject"]]
    assert len(hold_mail) == 1


def test_name_alone_is_no_point_but_name_with_date_of_birth_is(app, index):
    _ref, attempt = confirm_and_match(app, points=["employer", "postal_code"])
    assert attempt.outcome == "data_mismatch" and attempt.subject_key is None  # weak points find no one
    _ref, attempt = confirm_and_match(app, points=["name_dob", "employer"], email="b@example.net")
    assert attempt.outcome == "verified" and attempt.matched == "name_dob,employer"


def test_the_email_counts_only_when_the_business_holds_it(app, index):
    _ref, attempt = confirm_and_match(app, points=["phone"], email="ana.ruiz@example.org")
    assert attempt.outcome == "verified" and attempt.matched == "email,phone"
    _ref, attempt = confirm_and_match(app, points=["phone"], email="other.ana@example.org")
    assert attempt.outcome == "data_mismatch" and attempt.matched == "phone"


def test_specific_pieces_one_short_is_downgraded_with_a_mail(app, index, mailbox):
    ref, attempt = confirm_and_match(app, points=["phone", "claim_number"], scope="specific")
    req = case(app, ref)
    assert (attempt.outcome, req.status, req.access_scope) == ("downgraded", IN_PROGRESS, "categories")
    text = body(mailbox.last("someone.else@example.net"))
    assert "categories" in text and "7024(a)" in text and "/privacy" in text


def test_specific_pieces_without_the_declaration_is_not_verified_at_the_high_tier(app, index):
    _ref, attempt = confirm_and_match(app, points=["phone", "claim_number", "employer"], scope="specific", sign=False)
    assert attempt.outcome == "downgraded"


def test_a_correction_is_not_verified_by_the_field_it_corrects(app, index):
    _ref, attempt = confirm_and_match(app, points=["phone", "claim_number", "employer"], request_type="correct",
                                      correction_points="phone")
    assert attempt.outcome == "high_certainty_required" and "phone" not in attempt.matched.split(",")
    _ref, attempt = confirm_and_match(app, points=["phone", "claim_number", "employer", "postal_code"],
                                      request_type="correct", correction_points="phone", email="c@example.net")
    assert attempt.outcome == "verified" and attempt.matched == "claim_number,employer,postal_code"


def test_the_requester_adds_details_from_the_status_page_and_is_matched_again(app, index):
    ref, _attempt = confirm_and_match(app, points=["phone"])
    with app.app_context():
        s = db.session()
        req = s.get(PrivacyRequest, case(app, ref).id)
        attempt = verification.add_points(s, req=req, values={"claim_number": "WC20240017"})
        assert (attempt.outcome, req.status) == ("verified", IN_PROGRESS)


def test_failed_matches_against_one_subject_place_a_fraud_hold_without_a_word(app, index, mailbox):
    for n in range(2):
        _ref, attempt = confirm_and_match(app, points=["phone"], email=f"try{n}@example.net")
        assert attempt.outcome == "data_mismatch"
    ref, attempt = confirm_and_match(app, points=["phone"], email="try3@example.net")
    req = case(app, ref)
    assert (attempt.outcome, req.status, req.hold_reason) == ("fraud_suspected", ON_HOLD, "fraud_suspected")
    mails = [m["Subject"] for m in mailbox.to("try3@example.net")]
    assert not any("more details" in s or "security" in s.lower() or "fraud" in s.lower() for s in mails)
    # Even a full match is held once a subject has drawn repeated failures.
    ref, attempt = confirm_and_match(app, points=["phone", "claim_number"], email="ana.ruiz@example.org")
    assert attempt.outcome == "fraud_suspected"


def test_many_requests_of_one_type_from_one_email_place_a_fraud_hold(app, index):
    app.config["FRAUD_REQUESTS_PER_EMAIL"] = 2
    ref, _attempt = confirm_and_match(app, points=["phone", "claim_number"])
    with app.app_context():
        s = db.session()
        submission.withdraw(s, req=submission.get_by_reference(s, ref))
    _ref, attempt = confirm_and_match(app, points=["phone", "claim_number", "employer"])
    assert attempt.outcome == "fraud_suspected"


def test_requests_of_other_types_are_not_a_fraud_signal(app, index):
    app.config["FRAUD_REQUESTS_PER_EMAIL"] = 2
    confirm_and_match(app, points=["phone", "claim_number", "employer"], request_type="delete", scope=None)
    _ref, attempt = confirm_and_match(app, points=["phone", "claim_number", "employer"])
    assert attempt.outcome == "verified"


def test_the_answer_does_not_reveal_whether_the_business_holds_data(app, index, mailbox):
    """One matching point (a held subject) and none at all (nobody) read the same to the requester."""
    held, _ = confirm_and_match(app, points=["phone"], email="one@example.net")
    nobody, _ = confirm_and_match(app, points=[], email="two@example.net", first_name="Nadie", last_name="Nunca",
                                  extra={"phone": "(213) 555-0100"})
    a = body(mailbox.last("one@example.net")).replace(held, "REF").replace("Jose", "NAME")
    b = body(mailbox.last("two@example.net")).replace(nobody, "REF").replace("Nadie", "NAME")
    assert a == b
    assert case(app, held).hold_reason == case(app, nobody).hold_reason == "data_mismatch"


def test_attempts_record_point_names_never_values(app, index):
    _ref, attempt = confirm_and_match(app, points=["phone", "claim_number"])
    with app.app_context():
        row = db.session().get(VerificationAttempt, attempt.id)
    assert row.matched == "phone,claim_number" and row.required == 2
