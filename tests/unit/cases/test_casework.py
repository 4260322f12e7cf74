"""Case actions as services, without HTTP: rules, refusals, optimistic locking, response files."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from portal import clock, db
from portal.lifecycle import PACIFIC, IllegalTransition, add_business_days, local_date
from portal.models import (
    AuditEvent,
    CaseOutcome,
    ContestedStatement,
    DownstreamNotice,
    IdentityCheck,
    OutboxMessage,
    PrivacyRequest,
    ResponseDownload,
    StaffUser,
)
from portal.services import audit
from portal.services.cases import casework, notices, outcomes, submission, transitions
from portal.services.cases.outcomes import Completion
from portal.services.cases.submission import NewRequest
from portal.services.cases.transitions import StaleCase
from portal.services.documents import response_files
from portal.services.identity import tiers


@pytest.fixture
def staff(session):
    user = StaffUser(email="worker@billgenix.example", role="support")
    session.add(user)
    session.commit()
    return user


def _case(session, kind="access", status="verifying", scope="categories", email="ana@example.org", received_at=None):
    new = NewRequest(request_type=kind, first_name="Ana", last_name="Ruiz", email=email,
                     access_scope=scope if kind == "access" else None,
                     correction_current="old" if kind == "correct" else None,
                     correction_details="new" if kind == "correct" else None,
                     declaration_signature="Ana Ruiz" if tiers.declaration_required(kind, scope) else None)
    req = submission.submit(session, new=new, received_at=received_at).request
    if req.status == "awaiting_email":
        transitions.transition(session, req, "verifying", actor="requester")
    if status == "in_progress" and req.status != "in_progress":
        transitions.transition(session, req, "in_progress", actor="system")
    session.commit()
    return req


def _events(session, req):
    return [e.action for e in session.execute(select(AuditEvent).where(AuditEvent.request_id == req.id)
                                              .order_by(AuditEvent.id)).scalars()]


def test_available_actions_follow_the_lifecycle(session):
    req = _case(session)
    assert casework.available_actions(req) == ["verify", "request_info", "fraud_hold", "extend", "deny"]
    req.status, req.hold_reason = "on_hold", "data_mismatch"
    assert casework.available_actions(req) == ["verify", "request_info", "clear_hold", "extend", "deny"]
    req.hold_reason = "fraud_suspected"
    assert casework.available_actions(req) == ["verify", "clear_hold", "extend", "deny"]
    req.status, req.hold_reason = "in_progress", None
    assert casework.available_actions(req) == ["complete", "extend", "deny"]
    assert casework.available_actions(req, on=req.response_due + timedelta(days=1)) == ["complete", "deny"]
    for final in ("completed", "partially_completed", "denied", "withdrawn", "expired"):
        req.status = final
        assert casework.available_actions(req) == []
    session.rollback()


def test_verify_identity_tiers(session, staff):
    categories, specific = _case(session), _case(session, scope="specific", email="b@example.org")
    delete = _case(session, "delete", email="c@example.org")
    assert [tiers.points_required(r) for r in (categories, specific, delete)] == [2, 3, 3]
    with pytest.raises(IllegalTransition):
        casework.verify_identity(session, req=specific, staff=staff, sources={"email": "claim_file", "phone": "phone_call"}, note=None,
                              expected_version=specific.version)
    with pytest.raises(IllegalTransition):
        casework.verify_identity(session, req=categories, staff=staff, sources={"email": "claim_file", "shoe_size": "document"}, note=None,
                              expected_version=categories.version)
    session.rollback()
    casework.verify_identity(session, req=categories, staff=staff, sources={"phone": "phone_call", "email": "claim_file", "postal_code": ""}, note=" ",
                          expected_version=categories.version)
    check = session.execute(select(IdentityCheck)).scalar_one()
    assert (check.data_points, check.note, check.staff_id) == ("email:claim_file,phone:phone_call", None, staff.id)
    assert categories.status == "in_progress" and _events(session, categories)[-1] == "identity_verified"


def test_a_stale_version_writes_nothing(session, staff):
    req = _case(session)
    seen = req.version
    casework.place_fraud_hold(session, req=req, staff=staff, reason="Odd", expected_version=seen)
    before = len(_events(session, req))
    for action in (
        lambda: casework.clear_hold(session, req=req, staff=staff, reason="x", expected_version=seen),
        lambda: casework.verify_identity(session, req=req, staff=staff, sources={"email": "claim_file", "phone": "phone_call"}, note=None,
                                      expected_version=seen),
        lambda: outcomes.deny(session, req=req, staff=staff, basis="duplicate", categories="claim file", explanation="x", expected_version=seen),
        lambda: casework.extend(session, req=req, staff=staff, days=5, reason="x", expected_version=seen),
    ):
        with pytest.raises(StaleCase):
            action()
        session.rollback()
    fresh = session.get(PrivacyRequest, req.id)
    assert (fresh.status, fresh.hold_reason, fresh.outcome_code, fresh.extended_due) == ("on_hold", "fraud_suspected", None, None)
    assert len(_events(session, fresh)) == before


def test_a_concurrent_write_between_load_and_flush_is_refused(app, session, staff):
    """Two sessions load version N; the first commits; the second's UPDATE ... WHERE version = N
    matches no row, so SQLAlchemy raises StaleDataError and nothing of the second is kept."""
    req = _case(session)
    with Session(db.engine(), expire_on_commit=False) as other:
        theirs = other.get(PrivacyRequest, req.id)
        version = theirs.version
        other.expunge(theirs)  # keep what this reader saw, as a page that stays open in a browser does
        other.rollback()  # and release SQLite's lock so the first writer can go ahead
        casework.verify_identity(session, req=req, staff=staff, sources={"email": "claim_file", "phone": "phone_call"}, note=None,
                              expected_version=req.version)
        other.add(theirs)
        assert theirs.version == version == req.version - 1
        with pytest.raises(StaleDataError):
            outcomes.deny(other, req=theirs, staff=staff, basis="legal_obligation", categories="claim file", explanation="Kept.",
                       expected_version=version)
        other.rollback()
    fresh = session.execute(select(PrivacyRequest).where(PrivacyRequest.id == req.id)
                            .execution_options(populate_existing=True)).scalar_one()
    assert fresh.status == "in_progress" and fresh.outcome_code is None
    assert session.execute(select(CaseOutcome)).first() is None


def test_request_information_and_answer(session, staff):
    req = _case(session)
    casework.request_information(session, req=req, staff=staff, message=" Your claim number? ", expected_version=req.version)
    assert (req.status, req.hold_reason) == ("on_hold", "information_requested")
    assert casework.can_answer(req)
    mail = session.execute(select(OutboxMessage).where(OutboxMessage.template == "information_requested")).scalar_one()
    assert "Your claim number?" in mail.text_body
    with pytest.raises(IllegalTransition):
        casework.answer_information(session, req=req, body="   ")
    casework.answer_information(session, req=req, body="WC-1")
    assert (req.status, req.hold_reason) == ("verifying", None)
    assert _events(session, req)[-2:] == ["information_requested", "information_provided"]
    with pytest.raises(IllegalTransition):
        casework.answer_information(session, req=req, body="again")


def test_deny_rules_and_the_contested_statement(session, staff):
    req = _case(session, "correct")
    for basis, explanation in (("nonsense", "x"), ("duplicate", "  ")):
        with pytest.raises(IllegalTransition):
            outcomes.deny(session, req=req, staff=staff, basis=basis, categories="claim file", explanation=explanation, expected_version=req.version)
    with pytest.raises(IllegalTransition):
        outcomes.deny(session, req=req, staff=staff, basis="duplicate", categories="claim file", explanation="x",
                   assessment="x", contested_statement=" ".join(["w"] * 251), expected_version=req.version)
    session.rollback()
    statement = " ".join(["w"] * 250)
    outcomes.deny(session, req=req, staff=staff, basis="legal_obligation", categories="claim file", explanation="Kept as filed.",
               contested_statement=statement, assessment="The adjuster's report is the source.", expected_version=req.version)
    assert (req.status, req.outcome_code, req.outcome_citation) == ("denied", "legal_obligation", "Cal. Civ. Code §1798.145(a)(1)")
    assert session.execute(select(ContestedStatement.statement)).scalar_one() == statement
    access = _case(session, email="x@example.org")
    with pytest.raises(IllegalTransition):  # a contested statement belongs to corrections only
        outcomes.deny(session, req=access, staff=staff, basis="duplicate", categories="claim file", explanation="x", contested_statement="Disputed",
                   expected_version=access.version)


@pytest.mark.parametrize("kind", ["opt_out", "limit"])
def test_opt_out_and_limit_cannot_be_extended_or_denied_as_unverifiable(session, staff, kind):
    """§7026(f), §7027(g): no extension; §7060(b): no verification, so no "unverifiable" denial."""
    req = _case(session, kind, "in_progress")
    assert casework.available_actions(req) == ["complete", "deny"]
    assert list(outcomes.denial_bases(kind)) == ["fraud_suspected"]
    with pytest.raises(IllegalTransition):
        submission.extend(session, req=req, days=10, reason="Busy", actor="staff:1")
    assert req.extended_due is None
    with pytest.raises(IllegalTransition):
        outcomes.deny(session, req=req, staff=staff, basis="unverifiable", categories="all", explanation="x",
                   expected_version=req.version)
    assert req.status == "in_progress"
    outcomes.deny(session, req=req, staff=staff, basis="fraud_suspected", categories="all",
               explanation="Scripted submissions from one address.", expected_version=req.version)
    assert req.status == "denied" and "§702" in req.outcome_citation


def test_the_fraud_basis_of_a_correction_cites_the_correction_rule_not_a_deletion_exception(session, staff):
    req = _case(session, "correct", email="fraud@example.org")
    outcomes.deny(session, req=req, staff=staff, basis="fraud_suspected", categories="all",
                  explanation="Scripted submissions from one address.", assessment="Documented fraud.",
                  expected_version=req.version)
    assert req.outcome_citation == "Cal. Code Regs. tit. 11, §7023(h)" and "1798.105" not in req.outcome_citation


@pytest.mark.parametrize(("kind", "cite"), [("delete", "§7022(a)"), ("correct", "§7023(a)"),
                                            ("access", "§7024(a)-(b)")])
def test_the_unverifiable_basis_cites_the_rule_of_the_request_type(session, staff, kind, cite):
    req = _case(session, kind, email=f"{kind}@example.org")
    outcomes.deny(session, req=req, staff=staff, basis="unverifiable", categories="all", explanation="No match.",
               assessment="No match against our records." if kind == "correct" else None, expected_version=req.version)
    assert req.outcome_citation.endswith(cite) and "7022(b)(1)" not in req.outcome_citation


def test_denial_bases_split_medical_and_keep_workers_compensation_off(app, session):
    bases = outcomes.denial_bases("delete")
    assert bases["exempt_cmia"]["citation"] == "Cal. Civ. Code §1798.146(a)(1)(A)"
    assert bases["exempt_hipaa_phi"]["citation"] == "Cal. Civ. Code §1798.146(a)(1)(A), (C)"
    assert "exempt_medical" not in bases and "legal_retention_wc" not in bases
    app.config["DENIAL_BASIS_OVERRIDES"] = {"legal_retention_wc": {"enabled": True}}
    assert "legal_retention_wc" in outcomes.denial_bases("delete")
    assert "counsel" in outcomes.denial_bases("delete")["legal_retention_wc"]["help"]


def test_completion_problems_per_type(session, staff):
    delete = _case(session, "delete", "in_progress")
    assert set(outcomes.completion_problems(delete, Completion(message=""))) == {"message", "deleted_summary"}
    assert set(outcomes.completion_problems(delete, Completion(message="m", partial=True, deleted_summary="d"))) == {
        "kept_basis", "kept_summary", "covered_categories"}
    correct = _case(session, "correct", "in_progress", email="c@example.org")
    assert set(outcomes.completion_problems(correct, Completion(message="m"))) == {
        "correction_result", "assessment", "corrected_details"}
    assert set(outcomes.completion_problems(correct, Completion(message="m", correction_result="partially_corrected",
                                                             assessment="Your letter", corrected_details="2 New Ave"))) == {
        "correction_result"}
    access = _case(session, "access", "in_progress", scope="specific", email="a@example.org")
    assert set(outcomes.completion_problems(access, Completion(message="m", files={"json": b"[1,", "csv": b""}))) == {
        "response_json", "response_csv"}
    assert outcomes.completion_problems(access, Completion(message="m", files={"json": b"[]", "csv": b"a,b\n1,2\n"})) == {}
    with pytest.raises(IllegalTransition):
        outcomes.complete(session, req=delete, staff=staff, completion=Completion(message="m"), expected_version=delete.version)


def test_complete_refused_before_verification(session, staff):
    req = _case(session)
    with pytest.raises(IllegalTransition):
        outcomes.complete(session, req=req, staff=staff, completion=Completion(message="m"), expected_version=req.version)
    assert req.status == "verifying"


def test_response_files_stored_as_documents_downloaded_and_expiring(app, session, staff):
    req = _case(session, "access", "in_progress", scope="specific")
    outcomes.complete(session, req=req, staff=staff, expected_version=req.version,
                   completion=Completion(message="Here it is.", files={"json": b'{"a": 1}', "csv": b"a\n1\n"}))
    [csv_file, json_file] = response_files.files_for(session, req)
    assert (csv_file.kind, json_file.kind) == ("csv", "json")
    assert json_file.document.purpose == "response_file" and json_file.document.request_id == req.id
    assert json_file.filename == f"{req.reference}-response.json" and json_file.size == 8
    assert json_file.expires_at - json_file.created_at == timedelta(days=14)
    doc, data = response_files.download(session, req=req, file_id=json_file.id)
    assert data == b'{"a": 1}' and doc.id == json_file.document_id
    assert session.execute(select(ResponseDownload)).scalar_one().file_id == json_file.id
    assert _events(session, req)[-1] == "document_downloaded"
    other = _case(session, "opt_out", "in_progress", email="o@example.org")
    with pytest.raises(response_files.FileGone):
        response_files.download(session, req=other, file_id=json_file.id)
    with pytest.raises(response_files.FileGone):
        response_files.download(session, req=req, file_id=json_file.id, now=json_file.expires_at)
    # A blob altered in storage is refused, not served.
    from portal.services.documents.storage import get_storage
    get_storage().put(csv_file.document.storage_name, b"not what was stored")
    with pytest.raises(response_files.FileGone):
        response_files.download(session, req=req, file_id=csv_file.id)
    assert len(session.execute(select(ResponseDownload)).all()) == 1


def test_a_rejected_response_file_sends_nothing(session, staff):
    req = _case(session, "access", "in_progress", scope="specific")
    with pytest.raises(IllegalTransition):
        outcomes.complete(session, req=req, staff=staff, expected_version=req.version,
                       completion=Completion(message="m", files={"csv": b"<html><script>x</script>"}))
    session.rollback()
    assert session.get(PrivacyRequest, req.id).status == "in_progress"
    assert session.execute(select(OutboxMessage).where(OutboxMessage.template == "completed")).first() is None


def test_the_requester_files_a_contested_statement_after_a_partial_correction(app, session, staff):
    """§7023: after a correction made in part, once, up to 250 words, after the close too; kept with
    the record (tests/app/test_notices.py follows it to the recipients)."""
    req = _case(session, "correct", "in_progress")
    assert not outcomes.can_contest(session, req)
    outcomes.complete(session, req=req, staff=staff, expected_version=req.version, completion=Completion(
        message="We corrected the address, not the injury date.", partial=True, correction_result="partially_corrected",
        kept_basis="legal_obligation", kept_summary="The injury date", covered_categories="Claim file: injury date",
        assessment="Your letter, and the adjuster's report the date came from.", corrected_details="Address: 2 New Ave"))
    assert req.status == "partially_completed" and outcomes.can_contest(session, req)
    assert outcomes.outcome_for(session, req).assessment.startswith("Your letter")
    with pytest.raises(IllegalTransition):
        outcomes.file_contested_statement(session, req=req, statement=" ".join(["word"] * 251))
    recipient = notices.RecipientData(name="Mailroom LLC", kind="contractor", request_types=["correct"], method="email",
                                      email="privacy@mailroom.example")
    mailroom = notices.save_recipient(session, data=recipient, actor="test")
    statement = "My injury was on March 3. My doctor's note (diagnosis: lumbar strain) says so."
    row = outcomes.file_contested_statement(session, req=req, statement=statement)
    assert (row.statement, row.filed_by, row.staff_id) == (statement, "requester", None)
    assert {"contested_statement_filed", "contested_statement_sent"} <= set(_events(session, req))
    [notice] = session.execute(select(DownstreamNotice).where(DownstreamNotice.purpose == "contested_statement")).scalars()
    sent = session.get(OutboxMessage, notice.outbox_message_id)
    assert sent.to_addr == "privacy@mailroom.example" and statement in sent.text_body
    recipient.active = False  # so the next correction completes without notices
    notices.save_recipient(session, data=recipient, recipient=mailroom, actor="test")
    assert not outcomes.can_contest(session, req)
    with pytest.raises(IllegalTransition):
        outcomes.file_contested_statement(session, req=req, statement="again")
    other = _case(session, "correct", "in_progress", email="z@example.org")
    session.refresh(staff)  # expired by the refused call's rollback; loading it must not flush the case
    outcomes.complete(session, req=other, staff=staff, expected_version=other.version, completion=Completion(
        message="Corrected.", correction_result="corrected", assessment="Your lease.", corrected_details="Address"))
    assert not outcomes.can_contest(session, other)  # fully corrected: nothing to contest


def test_correction_documents_at_submission_and_nothing_saved_when_refused(session):
    import io

    from portal.models import Document
    from portal.services.documents import kinds
    from portal.services.documents import store as documents

    from ...files import PE, png
    new = NewRequest(request_type="correct", first_name="Ana", last_name="Ruiz", email="doc@example.org",
                     correction_current="old", correction_details="new", declaration_signature="Ana Ruiz",
                     documents=((io.BytesIO(png()), "lease.png", "image/png"),))
    req = submission.submit(session, new=new).request
    [doc] = documents.for_request(session, request_id=req.id, purpose="correction")
    assert doc.original_name == "lease.png" and doc.uploaded_by == "requester"
    bad = NewRequest(request_type="correct", first_name="Bo", last_name="Lee", email="bad@example.org",
                     correction_current="old", correction_details="new", declaration_signature="Bo Lee",
                     documents=((io.BytesIO(PE), "x.pdf", "application/pdf"),))
    with pytest.raises(kinds.DocumentRejected):
        submission.submit(session, new=bad)
    assert session.execute(select(PrivacyRequest).where(PrivacyRequest.email == "bad@example.org")).first() is None
    assert len(session.execute(select(Document)).all()) == 1


SENSITIVE_JSON = (b'{"name": "Ana Ruiz", "claims": [{"claim_number": "WC-1", "ssn": "123-45-6789"}], '
                  b'"notes": "card 4111 1111 1111 1111"}')


@pytest.mark.parametrize(("kind", "data", "field"), [
    ("json", SENSITIVE_JSON, "claims[0].ssn"),
    ("json", b'{"profile": {"driversLicense": "D1234567"}}', "profile.driversLicense"),
    ("json", b'{"bank": {"routing_number": "121000358"}}', "bank.routing_number"),
    ("json", b'{"insurance": {"member_id": "XJH123"}}', "insurance.member_id"),
    ("json", b'{"account": {"password": "hunter2"}}', "account.password"),
    ("json", b'{"security_question": "First pet?"}', "security_question"),
    ("csv", b"name,medical_record_number\nAna,MRN-77\n", "medical_record_number"),
    ("csv", b"name,note\nAna,SSN 123-45-6789\n", "note"),
])
def test_response_files_never_disclose_what_7024d_forbids(session, staff, kind, data, field):
    """Refused by default, naming the field; or masked to "collected: yes" when staff choose it."""
    req = _case(session, "access", "in_progress", scope="specific")
    problems = outcomes.completion_problems(req, Completion(message="m", files={kind: data}))
    assert field in problems[f"response_{kind}"] and "never disclose" in problems[f"response_{kind}"]
    with pytest.raises(IllegalTransition):
        outcomes.complete(session, req=req, staff=staff, completion=Completion(message="m", files={kind: data}),
                       expected_version=req.version)
    session.rollback()
    req = session.get(PrivacyRequest, req.id)
    outcomes.complete(session, req=req, staff=staff, expected_version=req.version,
                   completion=Completion(message="m", files={kind: data}, sensitive="mask"))
    [offered] = response_files.files_for(session, req)
    _doc, stored = response_files.download(session, req=req, file_id=offered.id)
    assert b"collected: yes" in stored
    for secret in (b"123-45-6789", b"D1234567", b"121000358", b"XJH123", b"hunter2", b"First pet", b"MRN-77",
                   b"4111 1111"):
        assert secret not in stored
    assert b"Ana" in stored or b"WC-1" in stored or kind == "json"


def test_files_only_for_specific_pieces_and_a_structured_categories_answer(session, staff):
    categories = _case(session, "access", "in_progress", scope="categories")
    problems = outcomes.completion_problems(categories, Completion(message="m", files={"json": b"[]"}))
    assert "files" in problems and {"answer_categories", "answer_sources", "answer_purposes"} <= set(problems)
    answer = {"categories": ["Identifiers", "Medical information"], "sources": ["Your treating physician"],
              "purposes": ["Billing your claim"], "recipients": []}
    outcomes.complete(session, req=categories, staff=staff, expected_version=categories.version,
                   completion=Completion(message="Here is what we hold.", categories_response=answer))
    outcome = outcomes.outcome_for(session, categories)
    assert outcome.categories_response == {"categories": ["Identifiers", "Medical information"],
                                           "sources": ["Your treating physician"], "purposes": ["Billing your claim"]}
    mail = session.execute(select(OutboxMessage).where(OutboxMessage.template == "completed")).scalars().all()[-1]
    assert mail is not None


def test_intake_received_at_counts_from_the_california_date(app):
    now = datetime(2026, 3, 10, 6, 0, tzinfo=timezone.utc)  # still 9 March in California
    assert casework.intake_received_at(date(2026, 3, 9), now=now) == now
    moment = casework.intake_received_at(date(2026, 3, 2), now=now)
    assert local_date(moment) == date(2026, 3, 2) and moment.astimezone(PACIFIC).hour == 12


def test_phone_intake_deadlines(session, staff):
    received = casework.intake_received_at(local_date(clock.now()) - timedelta(days=20))
    new = NewRequest(request_type="opt_out", first_name="Luis", last_name="Ortega", email="l@example.org")
    req = submission.submit(session, new=new, manner="phone", received_at=received, actor=audit.staff_actor(staff)).request
    assert req.manner == "phone" and req.received_at == received
    assert req.response_due == add_business_days(local_date(received), 15)  # §7026(f), from the date received
    assert _events(session, req)[0] == "submitted"


def test_word_count():
    assert outcomes.word_count("  one two\nthree\tfour ") == 4 and outcomes.word_count("") == 0
