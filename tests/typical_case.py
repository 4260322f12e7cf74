"""A typical case for the console's case page (its measured height, its summary): a deletion
received 20 days ago, verified by the identity index, in progress; the requester answered a
request for information with a message and a document; a staff note; one recipient of deletions
told by hand, not yet recorded. Built through the services, as the portal builds it."""
import io

from portal import db
from portal.lifecycle import IN_PROGRESS, VERIFYING
from portal.models import VerificationAttempt
from portal.services.cases import casework, notices, submission, transitions

from .files import png
from .support import days_ago, new_case


def typical_case(app, staff) -> str:
    """Build it; returns its reference."""
    req = new_case(app, "delete", VERIFYING, email="jose.ramirez@example.org", first_name="José",
                   last_name="Ramírez Gómez", received_at=days_ago(20))
    with app.test_request_context():
        s = db.session()
        req = submission.get_by_reference(s, req.reference)
        casework.request_information(s, req=req, staff=staff, expected_version=req.version,
                                     message="Please send a copy of a recent invoice from your claim.")
        req = submission.get_by_reference(s, req.reference)
        casework.answer_information(s, req=req, body="Here is the invoice from March, as you asked.",
                                    attachment=(io.BytesIO(png()), "invoice.png", "image/png"))
        req = submission.get_by_reference(s, req.reference)
        s.add(VerificationAttempt(request_id=req.id, subject_key="S-1001", matched="email,name_dob,claim_number",
                                  required=2, outcome="verified"))
        transitions.transition(s, req, IN_PROGRESS, actor="system", action="identity_verified")
        s.commit()
        casework.add_note(s, req=req, staff=staff, body="Invoice checked against the billing file: it matches.")
        notices.save_recipient(s, data=notices.RecipientData(
            name="Sierra Claims Processing", kind="service_provider", request_types=["delete"], method="manual"),
            actor="system")
        notices.send(s, req=submission.get_by_reference(s, req.reference), actor="system")
    return req.reference
