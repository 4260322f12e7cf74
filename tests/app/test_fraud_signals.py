"""Exercising rights is not a fraud signal (§1798.125, §7060): one of each right at once, opt-out and
limit included, verifies as any other request; many requests of one type from one email still may."""
import io

from sqlalchemy import select

from portal import db
from portal.models import PrivacyRequest
from portal.services.cases import submission
from portal.services.identity import subjects

from ..support import csrf_from, link_in, post_form, request_form

RECORDS = ("subject_id,email,phone,first_name,last_name,date_of_birth,claim_number\n"
           "S-1001,ana.ruiz@example.org,(909) 555-0142,Ana,Ruiz,1980-02-29,WC-2024-0017\n")
POINTS = {"phone": "909.555.0142", "claim_number": "WC-2024-0017", "date_of_birth": "1980-02-29"}


def _index(app):
    with app.app_context():
        subjects.import_csv(db.session(), stream=io.BytesIO(RECORDS.encode()))
        db.session().commit()


def _confirm(client, mailbox, reference):
    """Spend the confirmation link the request's mail carries, as the requester does."""
    mail = next(m for m in reversed(mailbox.to("ana.ruiz@example.org")) if "/verify/" in m.get_body().get_content()
                or "/verify/" in str(m))
    verify = link_in(mail, "/verify/")
    page = client.get(verify)
    resp = client.post(verify, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert resp.status_code == 303 and resp.headers["Location"] == f"/requests/{reference}"


def _case(app, request_type):
    with app.app_context():
        return db.session().execute(select(PrivacyRequest).where(PrivacyRequest.request_type == request_type)
                                    .order_by(PrivacyRequest.id.desc())).scalars().first()


def test_one_of_each_right_at_once_is_not_a_fraud_signal(client, app, mailbox):
    _index(app)
    for kind in ("opt_out", "limit"):
        assert post_form(client, "/requests/new", request_form(kind, **POINTS)).status_code == 303
    for kind in ("access", "delete", "correct"):
        assert post_form(client, "/requests/new", request_form(kind, **POINTS)).status_code == 303
        _confirm(client, mailbox, _case(app, kind).reference)
    for kind in ("access", "delete", "correct"):
        req = _case(app, kind)
        assert (req.status, req.hold_reason) == ("in_progress", None), kind


def test_many_requests_of_one_type_from_one_email_may_still_signal(client, app, mailbox):
    _index(app)
    app.config["FRAUD_REQUESTS_PER_EMAIL"] = 3
    for n in range(3):
        assert post_form(client, "/requests/new", request_form("access", **POINTS)).status_code == 303
        req = _case(app, "access")
        _confirm(client, mailbox, req.reference)
        req = _case(app, "access")
        if n < 2:
            assert req.status == "in_progress"
            with app.app_context():
                s = db.session()
                submission.withdraw(s, req=submission.get_by_reference(s, req.reference))
    assert (req.status, req.hold_reason) == ("on_hold", "fraud_suspected")
