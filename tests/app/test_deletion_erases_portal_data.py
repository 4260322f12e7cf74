"""§1798.105(c): a completed deletion also deletes what the portal itself holds about the person: their
identity index row and their answered or closed inquiries (messages and attachment); an open inquiry,
someone else's row and the §7101 record stay; a denied deletion erases nothing."""
import io

import pytest
from sqlalchemy import select

from portal import clock, db
from portal.models import Document, IdentitySubject, Inquiry, RequestRecord, VerificationAttempt
from portal.services.cases import inquiries
from portal.services.identity import subjects

from ..support import get_case, make_staff, new_case, post_action, sign_in

RECORDS = ("subject_id,email,first_name,last_name,date_of_birth,claim_number\n"
           "S-1,ana.ruiz@example.org,Ana,Ruiz,1980-02-29,WC-1\n"
           "S-2,bo.lee@example.org,Bo,Lee,1975-05-05,WC-2\n")


def _setup(app):
    with app.app_context():
        s = db.session()
        subjects.import_csv(s, stream=io.BytesIO(RECORDS.encode()))
        for status in ("closed", "open"):
            inquiry = inquiries.submit(s, new=inquiries.NewInquiry(
                kind="question", name="Ana Ruiz", email="ana.ruiz@example.org", message=f"A question ({status})"))
            inquiry = s.get(Inquiry, inquiry.id)
            if status == "closed":
                inquiry.status, inquiry.closed_at = "closed", clock.now()
        s.commit()
    req = new_case(app, "delete", "in_progress")
    with app.app_context():
        s = db.session()
        s.add(VerificationAttempt(request_id=req.id, subject_key="S-1", matched="email,date_of_birth,claim_number",
                                  outcome="verified"))
        s.commit()
    return req


def _state(app):
    with app.app_context():
        s = db.session()
        return (sorted(s.execute(select(IdentitySubject.subject_key)).scalars()),
                sorted(s.execute(select(Inquiry.status)).scalars()))


@pytest.mark.parametrize("outcome", ["completed", "partially_completed"])
def test_a_completed_deletion_erases_the_index_row_and_closed_inquiries(app, client, outcome):
    req = _setup(app)
    assert _state(app) == (["S-1", "S-2"], ["closed", "open"])
    sign_in(client, make_staff(app, "support"))
    form = {"outcome": outcome, "message": "Done.", "deleted_summary": "Contact details."}
    if outcome == "partially_completed":
        form.update(kept_summary="Billing records.", kept_basis="exempt_cmia", covered_categories="Medical information")
    resp = post_action(client, req.reference, "complete", form)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    assert _state(app) == (["S-2"], ["open"])
    assert get_case(app, req.reference).status == outcome
    with app.app_context():
        assert db.session().execute(select(RequestRecord).where(RequestRecord.reference == req.reference)).scalar()


def test_a_denied_deletion_erases_nothing(app, client):
    req = _setup(app)
    sign_in(client, make_staff(app, "support"))
    resp = post_action(client, req.reference, "deny", {"basis": "legal_obligation", "categories": "All",
                                                       "explanation": "We must keep it."})
    assert resp.status_code == 303
    assert _state(app) == (["S-1", "S-2"], ["closed", "open"])


def test_a_closed_inquirys_attachment_goes_with_it(app, client):
    from ..files import pdf

    with app.app_context():
        s = db.session()
        inquiry = inquiries.submit(s, new=inquiries.NewInquiry(
            kind="question", name="Ana Ruiz", email="ana.ruiz@example.org", message="With a file"),
            attachment=(io.BytesIO(pdf()), "letter.pdf", "application/pdf"))
        inquiry = s.get(Inquiry, inquiry.id)
        inquiry.status, inquiry.closed_at = "answered", clock.now()
        s.commit()
        attachment_id = inquiry.attachment_id
        assert attachment_id is not None and s.get(Document, attachment_id) is not None
    req = _setup(app)
    sign_in(client, make_staff(app, "support"))
    assert post_action(client, req.reference, "complete", {
        "outcome": "completed", "message": "Done.", "deleted_summary": "Contact details."}).status_code == 303
    with app.app_context():
        assert db.session().get(Document, attachment_id) is None


def test_a_consumers_deletion_keeps_the_index_rows_held_for_a_client(app, client):
    """The client decides on what is held for it (issue 34): a consumer's deletion removes the
    business's own row only."""
    req = _setup(app)
    with app.app_context():
        s = db.session()
        s.add(IdentitySubject(subject_key="S-1", client_key="clinic", email_hash="0" * 64))
        s.commit()
    sign_in(client, make_staff(app, "support"))
    resp = post_action(client, req.reference, "complete",
                       {"outcome": "completed", "message": "Done.", "deleted_summary": "Contact details."})
    assert resp.status_code == 303
    with app.app_context():
        left = db.session().execute(select(IdentitySubject.subject_key, IdentitySubject.client_key)
                                    .order_by(IdentitySubject.subject_key)).all()
    assert [tuple(r) for r in left] == [("S-1", "clinic"), ("S-2", "")]
