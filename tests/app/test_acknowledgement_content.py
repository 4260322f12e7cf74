"""§7021(a): the first mail about a request (the verification mail) confirms receipt with the reference,
the dates, how identity is checked and what happens next, so the request is acknowledged when it
goes; a case the console lists as never acknowledged can be sent its acknowledgement from the list."""
from datetime import timedelta

from sqlalchemy import select

from portal import db
from portal.lifecycle import local_date
from portal.models import AuditEvent, PrivacyRequest

from ..support import body, csrf_from, get_case, make_staff, post_form, request_form, sign_in


def _only_request(app) -> PrivacyRequest:
    with app.app_context():
        return db.session().execute(select(PrivacyRequest)).scalar_one()


def test_the_verification_mail_carries_what_7021a_asks_in_both_languages(client, app, mailbox):
    assert post_form(client, "/requests/new", request_form("delete")).status_code == 303
    req = _only_request(app)
    text = body(mailbox.last(req.email))
    assert f"Reference: {req.reference}" in text and "Kind of request: Delete my information" in text
    assert "We will respond by:" in text and "What happens next" in text
    assert "matching the details given" in text and "We do not ask for government ID" in text
    assert req.acknowledged_at is not None  # the receipt is confirmed with the link
    es = app.test_client()
    assert post_form(es, "/requests/new?lang=es", request_form("access", email="eva@example.org")).status_code == 303
    text = body(mailbox.last("eva@example.org"))
    assert "Referencia:" in text and "Qué sigue" in text


def test_an_unacknowledged_case_can_be_sent_its_acknowledgement_from_the_list(client, app, mailbox):
    assert post_form(client, "/requests/new", request_form("access")).status_code == 303
    req = _only_request(app)
    with app.app_context():  # as a case from before the link carried the acknowledgement
        case = db.session().get(PrivacyRequest, req.id)
        case.acknowledged_at = None
        case.acknowledgement_due = local_date(case.received_at) - timedelta(days=1)
        db.session().commit()
    viewer = app.test_client()
    sign_in(viewer, make_staff(app, "viewer"))
    page = viewer.get("/staff/").get_data(as_text=True)
    assert req.reference in page and "Send the acknowledgement" not in page
    assert viewer.post(f"/staff/requests/{req.reference}/acknowledge",
                       data={"csrf_token": csrf_from(page)}).status_code == 403
    sign_in(client, make_staff(app, "support"))
    page = client.get("/staff/").get_data(as_text=True)
    assert "overdue since" in page and "Send the acknowledgement" in page
    before = len(mailbox.to(req.email))
    resp = client.post(f"/staff/requests/{req.reference}/acknowledge", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303
    sent = mailbox.to(req.email)
    assert len(sent) == before + 1 and req.reference in body(sent[-1]) and "/verify/" in body(sent[-1])
    assert get_case(app, req.reference).acknowledged_at is not None
    with app.app_context():
        assert db.session().execute(select(AuditEvent).where(
            AuditEvent.request_id == req.id, AuditEvent.action == "acknowledgement_sent")).scalar() is not None
    page = client.get("/staff/").get_data(as_text=True)
    assert "Send the acknowledgement" not in page
    resp = client.post(f"/staff/requests/{req.reference}/acknowledge", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303 and len(mailbox.to(req.email)) == before + 1  # once
