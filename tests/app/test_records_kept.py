"""What §7101 keeps for its 24 months: a signed declaration outlives the case's verification data and
a completed deletion's case (§7062(c)); consent and GPC records stay 24 months; a contested statement may
run 250 words per piece contested (§7023(f)(3))."""
from datetime import timedelta

from sqlalchemy import select

from portal import clock, db
from portal.lifecycle import IN_PROGRESS, VERIFYING
from portal.models import ConsentRecord, ContestedStatement, PrivacyRequest, RequestRecord, SignedDeclaration
from portal.services.cases import outcomes, submission, transitions
from portal.services.cases.submission import NewRequest

from ..support import csrf_from, make_staff, new_case, post_action, sign_in, status_client

DONE = {"outcome": "completed", "message": "We deleted your data.", "deleted_summary": "Everything we held."}


def _purge(app, runner):
    result = runner.invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output


def _rows(app, model):
    with app.app_context():
        return db.session().execute(select(model)).scalars().all()


def test_a_signed_declaration_stays_with_the_record_after_the_deletion_case_goes(app, runner, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    req = new_case(app, "delete", IN_PROGRESS)
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    assert post_action(staff, req.reference, "complete", DONE).status_code == 303
    time_machine.move_to(clock.now() + timedelta(days=31), tick=False)
    _purge(app, runner)
    assert not _rows(app, PrivacyRequest)  # the completed deletion's case is gone (30 days)
    [record] = _rows(app, RequestRecord)
    [kept] = _rows(app, SignedDeclaration)
    assert (record.reference, kept.record_id, kept.signature) == (req.reference, record.id, "Ana Ruiz")
    assert kept.signed_at is not None
    time_machine.move_to(clock.now() + timedelta(days=740), tick=False)
    _purge(app, runner)
    assert not _rows(app, RequestRecord) and not _rows(app, SignedDeclaration)


def test_a_declaration_leaves_the_case_but_not_the_record_after_30_days(app, runner, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    req = new_case(app, "access", IN_PROGRESS, access_scope="specific")
    with app.app_context():
        s = db.session()
        case = s.get(PrivacyRequest, req.id)
        case.outcome_code, case.outcome_citation = "unverifiable", "Cal. Code Regs., tit. 11, § 7062(f)"
        transitions.transition(s, case, "denied", actor="system")
        s.commit()
    time_machine.move_to(clock.now() + timedelta(days=31), tick=False)
    _purge(app, runner)
    [case] = _rows(app, PrivacyRequest)
    assert case.declaration_signature is None
    [kept] = _rows(app, SignedDeclaration)
    assert kept.signature == "Ana Ruiz"


def test_consent_and_gpc_records_are_kept_24_months(app, client, runner, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    assert client.get("/api/consent", headers={"Sec-GPC": "1"}).status_code == 200
    page = client.get("/preferences")
    client.post("/preferences", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "action": "reject_all",
                                      "source": "center"})
    first = len(_rows(app, ConsentRecord))
    assert first >= 1
    time_machine.move_to(clock.now() + timedelta(days=401), tick=False)
    page = client.get("/preferences")
    client.post("/preferences", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "action": "accept_all",
                                      "source": "center"})
    _purge(app, runner)
    assert len(_rows(app, ConsentRecord)) == first + 1  # 401 days: the superseded ones stay (§7101)
    time_machine.move_to(clock.now() + timedelta(days=340), tick=False)
    _purge(app, runner)
    assert len(_rows(app, ConsentRecord)) == 1  # past 24 months: only the one in force


def test_a_contested_statement_may_have_250_words_per_piece_contested(app, mailbox):
    with app.app_context():
        s = db.session()
        new = NewRequest(request_type="correct", first_name="Ana", last_name="Ruiz", email="ana.ruiz@example.org",
                         correction_current="phone 1, zip 2", correction_details="phone 3, zip 4",
                         correction_points="phone,postal_code", declaration_signature="Ana Ruiz")
        req = submission.submit(s, new=new).request
        transitions.transition(s, req, VERIFYING, actor="requester")
        transitions.transition(s, req, IN_PROGRESS, actor="system")
        s.commit()
        reference = req.reference
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    assert post_action(staff, reference, "complete", {
        "outcome": "partially_completed", "correction_result": "partially_corrected",
        "message": "We corrected your phone; the postal code stays as the adjuster recorded it.",
        "kept_basis": "legal_obligation", "kept_summary": "The postal code", "covered_categories": "Claim file",
        "assessment": "The adjuster's first report, the source of the postal code.",
        "corrected_details": "Phone: 3"}).status_code == 303
    requester = status_client(app, reference)
    page = requester.get(f"/requests/{reference}").get_data(as_text=True)
    assert "up to 500 words" in page
    statement = " ".join(["word"] * 480)
    resp = requester.post(f"/requests/{reference}/contest", data={"csrf_token": csrf_from(page), "statement": statement})
    assert resp.status_code == 303
    [row] = _rows(app, ContestedStatement)
    assert outcomes.word_count(row.statement) == 480
