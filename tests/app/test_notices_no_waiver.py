"""Notices downstream with no waiver the law does not give (§7022(b)(3), §7023(c), §7026(f), §7027(g)):
only a third party on a deletion may go untold as impossible or disproportionate, and the consumer then
reads why; a recipient receives only the identifiers it holds (§7002)."""
import pytest
from sqlalchemy import select

from portal import db
from portal.models import DownstreamNotice, VerificationAttempt
from portal.services.cases import notices as notice_service

from ..support import body, csrf_from, make_staff, new_case, post_action, post_form, sign_in

WHY = "The broker was dissolved in 2025 and has no successor we can reach."
DONE = {"outcome": "completed", "message": "We deleted your data.", "deleted_summary": "Everything we held."}


def _recipient(app, **over) -> None:
    data = dict(name="Ledger Cloud", kind="third_party", request_types=["delete"], method="manual")
    data.update(over)
    with app.app_context():
        notice_service.save_recipient(db.session(), data=notice_service.RecipientData(**data), actor="test")


def _send(client, req) -> None:
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    form = page[page.index('action="/staff/requests/' + req.reference + '/notices"'):]
    assert client.post(f"/staff/requests/{req.reference}/notices", data={"csrf_token": csrf_from(form)}).status_code == 303


def _notice(app, req) -> DownstreamNotice:
    with app.app_context():
        return db.session().execute(select(DownstreamNotice).where(DownstreamNotice.request_id == req.id)).scalar_one()


def _explain(client, req, notice):
    token = csrf_from(client.get("/staff/account").get_data(as_text=True))
    prefix = f"n{notice.id}-explain"
    return client.post(f"/staff/requests/{req.reference}/notices/{notice.id}/explain",
                       data={f"{prefix}-csrf_token": token, f"{prefix}-explanation": WHY})


@pytest.mark.parametrize(("kind", "request_type"), [("third_party", "opt_out"), ("third_party", "correct"),
                                                    ("third_party", "limit"), ("service_provider", "delete"),
                                                    ("contractor", "delete")])
def test_no_waiver_where_the_law_gives_none(app, client, kind, request_type):
    _recipient(app, kind=kind, request_types=[request_type])
    req = new_case(app, request_type, "in_progress")
    sign_in(client, make_staff(app, "support"))
    if request_type == "correct":  # §7023(c): told once the correction is decided, at completion
        assert post_action(client, req.reference, "complete", {
            "outcome": "completed", "correction_result": "corrected", "corrected_details": "Address: 2 New Ave",
            "assessment": "The lease.", "message": "Corrected."}).status_code == 303
    else:
        _send(client, req)
    notice = _notice(app, req)
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert f"/notices/{notice.id}/record" in page and f"/notices/{notice.id}/explain" not in page
    resp = _explain(client, req, notice)
    assert resp.status_code in (409, 422) and "§7022(b)(3)" in resp.get_data(as_text=True)
    assert _notice(app, req).state == "awaiting_staff"


def test_an_untold_third_party_on_a_deletion_is_explained_to_the_consumer(app, client, mailbox):
    _recipient(app)
    req = new_case(app, "delete", "in_progress")
    sign_in(client, make_staff(app, "support"))
    _send(client, req)
    notice = _notice(app, req)
    assert f"/notices/{notice.id}/explain" in client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert _explain(client, req, notice).status_code == 303
    assert post_action(client, req.reference, "complete", DONE).status_code == 303
    answer = body(mailbox.last(req.email))
    assert "disproportionate effort" in answer and WHY in answer


def test_a_recipient_receives_only_the_identifiers_it_holds(app, client, mailbox):
    admin = make_staff(app, "admin")
    sign_in(client, admin)
    form = {"name": "Claims Mailer", "kind": "service_provider", "request_types": ["delete"], "method": "email",
            "email": "privacy@claims-mailer.example", "identifiers": ["email", "claim_number"], "active": "y"}
    assert post_form(client, "/staff/recipients/new", form).status_code == 303
    req = new_case(app, "delete", "in_progress")
    with app.app_context():
        s = db.session()
        case = s.get(type(req), req.id)
        case.phone, case.claim_number = "(909) 555-0142", "WC-2024-0017"
        # The business's records confirmed the claim number: it is ours to send, not only the requester's text.
        s.add(VerificationAttempt(request_id=case.id, subject_key="S-17", matched="email,claim_number", required=2,
                                  outcome="verified"))
        s.commit()
    worker = app.test_client()
    sign_in(worker, make_staff(app, "support"))
    _send(worker, req)
    text = body(mailbox.last("privacy@claims-mailer.example"))
    assert "WC-2024-0017" in text and "ana.ruiz@example.org" in text
    assert "555-0142" not in text and "first_name" not in text and "last_name" not in text
