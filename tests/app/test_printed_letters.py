"""Printed answers for requesters without an email address (§1798.130(a)(2)): each letter owed as a PDF
on the business's letterhead (name, postal address, contact methods), in the request's language; and
the access response printed from the access package, through the §7024(d) disclosure scan."""
import io
import json
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal import clock, db
from portal.lifecycle import local_date
from portal.models import PostalLetter, PrivacyRequest
from portal.services.fulfilment.connectors import printed

from ..support import make_staff, post_form, sign_in

POSTAL = "Luis Ortega\n12 Main St\nFontana CA 92335"
LETTERHEAD = "Billgenix, Inc.\n400 Commerce Way\nOntario, CA 91761"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "ORG_POSTAL_ADDRESS": LETTERHEAD, "PRIVACY_TOLL_FREE": "(888) 555-0199"}


def _text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF-")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", text)


def _intake(app, client, language):
    data = {"manner": "mail", "received_on": local_date(clock.now()).isoformat(), "request_type": "access",
            "access_scope": "categories", "lookback": "12_months", "first_name": "Luis", "last_name": "Ortega",
            "email": "", "postal_address": POSTAL.split("\n", 1)[1], "confirmed_by": "letter",
            "acknowledged_by": "letter", "language": language}
    assert post_form(client, "/staff/requests/new", data).status_code == 303
    with app.app_context():
        return db.session().execute(select(PrivacyRequest)).scalar_one()


@pytest.mark.parametrize("language,words", [("en", "Toll-free"), ("es", "Llamada gratuita")])
def test_each_letter_owed_prints_as_a_pdf_on_the_letterhead_in_the_requests_language(app, client, language, words):
    sign_in(client, make_staff(app, "support"))
    req = _intake(app, client, language)
    with app.app_context():
        letter = db.session().execute(select(PostalLetter).order_by(PostalLetter.id.desc())).scalars().first()
    assert f"/staff/letters/{letter.id}.pdf" in client.get(f"/staff/letters/{letter.id}").get_data(as_text=True)
    resp = client.get(f"/staff/letters/{letter.id}.pdf")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/pdf"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    text = _text(resp.data)
    assert "Billgenix" in text and "400 Commerce Way" in text and "Ontario, CA 91761" in text
    assert f"{words}: (888) 555-0199" in text and "privacy@billgenix.example" in text
    assert "Luis Ortega" in text and "12 Main St" in text and "Fontana CA 92335" in text
    assert letter.subject in text and req.reference in text
    first_line = re.sub(r"\s+", " ", letter.body.strip().splitlines()[0])
    assert first_line[:40] in text  # the mail's own words, in the request's language


def test_only_case_workers_get_a_letter_and_an_unknown_one_is_404(app, client):
    sign_in(client, make_staff(app, "support"))
    _intake(app, client, "en")
    with app.app_context():
        letter_id = db.session().execute(select(PostalLetter.id)).scalars().first()
    assert client.get("/staff/letters/999999.pdf").status_code == 404
    viewer = app.test_client()
    sign_in(viewer, make_staff(app, "viewer"))
    assert viewer.get(f"/staff/letters/{letter_id}.pdf").status_code == 403
    assert app.test_client().get(f"/staff/letters/{letter_id}.pdf").status_code in (302, 303, 401)


def test_the_printed_access_response_is_scanned_again_and_keeps_no_forbidden_number(app):
    package = {"request": {"reference": "PR-TEST-0001", "type": "access", "generated_at": "2026-12-07T10:00:00Z"},
               "data": {"billgenix_claims:claimants": [
                   {"first_name": "Luis", "last_name": "Ortega", "note": "SSN 123-45-6789 on file", "ssn": "987654321"}],
                   "billgenix_web:visits": []}}
    with app.app_context():
        req = PrivacyRequest(reference="PR-TEST-0001", request_type="access", first_name="Luis", last_name="Ortega",
                             email="", language="es", postal_address="12 Main St\nFontana CA 92335")
        text = _text(printed.access_response_pdf(req, json.dumps(package).encode()))
    assert "billgenix_claims:claimants" in text and "Luis" in text and "Ortega" in text
    assert "123-45-6789" not in text and "987654321" not in text and "collected: yes" in text
    assert "La información personal que tenemos sobre usted" in text  # the request's language
