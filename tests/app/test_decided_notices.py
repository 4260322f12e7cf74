"""Notices downstream follow decisions: a correction's recipients hear only once staff decided it,
only what was corrected, by the business's own identifiers; opt-out and limit cases are told and
completed by the worker once every notice is settled, on record and on the requester's timeline."""
import json

from sqlalchemy import select

from portal import db
from portal.background import scheduled_jobs
from portal.models import (
    AuditEvent,
    DownstreamNotice,
    PrivacyRequest,
    RequestMessage,
    VerificationAttempt,
    WebhookDelivery,
)
from portal.services.cases import auto_completion, submission
from portal.services.cases import notices as notice_service
from portal.services.delivery import worker

from ..support import body, get_case, make_staff, new_case, post_action, settle_notice, sign_in, status_client


def _recipient(app, **over) -> int:
    data = dict(name="Ledger Cloud", kind="service_provider", request_types=["correct"], method="email",
                email="privacy@ledger.example", identifiers=["subject_id", "claim_number", "name"])
    data.update(over)
    with app.app_context():
        return notice_service.save_recipient(db.session(), data=notice_service.RecipientData(**data), actor="test").id


def _notices(app, reference) -> list[DownstreamNotice]:
    with app.app_context():
        req_id = get_case(app, reference).id
        return db.session().execute(select(DownstreamNotice).where(
            DownstreamNotice.request_id == req_id).order_by(DownstreamNotice.id)).scalars().all()


def _matched(app, reference, points="email,name_dob,claim_number", claim="CLM-77"):
    with app.app_context():
        s = db.session()
        req = s.get(PrivacyRequest, get_case(app, reference).id)
        req.claim_number = claim
        s.add(VerificationAttempt(request_id=req.id, subject_key="SUBJ-0042", matched=points, required=2,
                                  outcome="verified"))
        s.commit()


def test_a_correction_notice_goes_only_after_the_decision_with_what_was_corrected(app, client, mailbox):
    _recipient(app)
    sign_in(client, make_staff(app, "support"))
    req = new_case(app, "correct", "in_progress", email="rosa@example.org", first_name="Rosa", last_name="Diaz")
    _matched(app, req.reference)
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "They are told once you complete the correction" in page and "Send the notices" not in page
    assert _notices(app, req.reference) == []  # nothing before the decision
    data = {"outcome": "partially_completed", "correction_result": "partially_corrected",
            "corrected_details": "Mailing address: 2 New Ave (the phone number stays as recorded).",
            "assessment": "The lease matches the new address; nothing supports the phone change.",
            "message": "We corrected your address, not your phone number.", "kept_basis": "legal_obligation",
            "kept_summary": "The phone number: the claim file shows the recorded one.", "covered_categories": "Phone"}
    unchanged = post_action(client, req.reference, "complete", {**data, "corrected_details": "2 New Ave"}, page=page)
    assert unchanged.status_code == 422 and "only what was corrected" in unchanged.get_data(as_text=True)
    assert _notices(app, req.reference) == []
    resp = post_action(client, req.reference, "complete", data, page=page)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:3000]
    [notice] = _notices(app, req.reference)
    sent = body(mailbox.last("privacy@ledger.example"))
    assert "Mailing address: 2 New Ave (the phone number stays as recorded)." in sent
    assert "Should be" not in sent and "as shown" not in sent
    assert "subject_id: SUBJ-0042" in sent and "claim_number: CLM-77" in sent
    assert "identified_by: our_records" in sent
    assert notice.state in ("queued", "delivered")


def test_a_requesters_unconfirmed_claim_number_is_not_sent_as_ours(app, client, mailbox):
    _recipient(app, method="webhook", webhook_url="https://hooks.ledger.example/notices", email=None,
               webhook_secret="s" * 40, identifiers=["claim_number", "name"])
    sign_in(client, make_staff(app, "support"))
    req = new_case(app, "correct", "in_progress", email="tom@example.org", first_name="Tom", last_name="Lee")
    _matched(app, req.reference, points="email,name_dob")  # the index did not match the claim number
    resp = post_action(client, req.reference, "complete", {
        "outcome": "completed", "correction_result": "corrected", "corrected_details": "Address: 2 New Ave",
        "assessment": "The lease shows it.", "message": "Corrected."})
    assert resp.status_code == 303
    with app.app_context():
        hook = db.session().execute(select(WebhookDelivery)).scalar_one()
    sent = json.loads(hook.body)
    assert "claim_number" not in sent["subject"] and sent["subject"]["identified_by"] == "as_given_by_the_requester"
    assert sent["correction"] == {"result": "corrected", "corrected": "Address: 2 New Ave"}


def test_a_denied_correction_tells_no_recipient_to_act(app, client):
    _recipient(app)
    sign_in(client, make_staff(app, "support"))
    req = new_case(app, "correct", "in_progress", email="ann@example.org")
    resp = post_action(client, req.reference, "deny", {"basis": "legal_obligation", "explanation": "We must keep it.",
                                                      "categories": "Address", "assessment": "The file shows it."})
    assert resp.status_code == 303 and _notices(app, req.reference) == []


def _job():
    return next(j for j in scheduled_jobs() if worker.job_name(j) == "opt_outs_completed")


def test_an_opt_out_completes_by_itself_once_every_notice_is_settled(app, client, mailbox):
    recipient = _recipient(app, request_types=["opt_out"], method="manual", email=None)
    req = new_case(app, "opt_out", "in_progress", email="lee@example.org", first_name="Lee", last_name="Park")
    with app.app_context():
        assert _job()() == 0  # the notice is sent; staff must still record it
    [notice] = _notices(app, req.reference)
    assert notice.recipient_id == recipient and notice.state == "awaiting_staff"
    assert get_case(app, req.reference).status == "in_progress"
    staff = make_staff(app, "support")
    sign_in(client, staff)
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "completes the case once every notice is delivered, recorded or explained" in page
    assert settle_notice(client, req.reference, notice.id, "record", {"told_on": "", "method": "Phone call"}).status_code == 422
    from portal import clock
    from portal.lifecycle import local_date
    resp = settle_notice(client, req.reference, notice.id, "record",
                         {"told_on": local_date(clock.now()).isoformat(), "method": "Phone call"})
    assert resp.status_code == 303
    with app.app_context():
        assert auto_completion.complete_settled(db.session()) == 1
        s = db.session()
        case = submission.get_by_reference(s, req.reference)
        events = s.execute(select(AuditEvent).where(AuditEvent.request_id == case.id)).scalars().all()
        said = s.execute(select(RequestMessage).where(RequestMessage.request_id == case.id)).scalars().all()
    assert case.status == "completed"
    done = [e for e in events if e.action == "completed_automatically"]
    assert done and done[0].actor == "system" and done[0].to_status == "completed"
    assert said and "stopped selling and sharing" in said[-1].body
    assert "stopped selling and sharing" in body(mailbox.last("lee@example.org"))
    timeline = status_client(app, req.reference).get(f"/requests/{req.reference}").get_data(as_text=True)
    assert "stopped selling and sharing" in timeline
    with app.app_context():
        assert auto_completion.complete_settled(db.session()) == 0  # once


def test_a_limit_request_without_recipients_completes_in_spanish(app, mailbox):
    req = new_case(app, "limit", "in_progress", email="ines@example.org", language="es")
    with app.app_context():
        assert auto_completion.complete_settled(db.session()) == 1
        case = submission.get_by_reference(db.session(), req.reference)
    assert case.status == "completed" and "información personal confidencial" in case.response_message
    assert "información personal confidencial" in body(mailbox.last("ines@example.org"))
