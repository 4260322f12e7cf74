"""Forms that forgive, in a real Chromium with axe: names typed the way their owners type them are
verified, a signature without the apostrophe signs, a document survives a refused signature, and a
submission limit brings the form back as typed with the wait and the other ways."""
import io

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal import db
from portal.models import Document, PrivacyRequest
from portal.services.identity import subjects

from ..files import png
from ..support import link_in
from .axe import assert_no_axe_violations

RECORDS = ("subject_id,email,first_name,last_name,date_of_birth,postal_code\n"
           "S-1,siobhan@example.org,Siobhan,O'Brien,1981-05-06,92373\n"
           "S-2,maria@example.org,María Elena,Ramírez Gómez,1979-03-04,92501\n"
           "S-3,john@example.org,John,Smith Jr.,1970-07-08,90012\n")


def _index(app):
    with app.app_context():
        subjects.import_csv(db.session(), stream=io.BytesIO(RECORDS.encode()))


def _about_you(page, first, last, email):
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Email address").fill(email)


@pytest.mark.parametrize("first,last,dob,zip_code", [
    ("Siobhan", "OBrien", "1981-05-06", "92373"),          # the apostrophe left out
    ("Maria", "Ramirez Gomez", "1979-03-04", "92501"),     # one of two given names
    ("María Elena", "Ramírez", "1979-03-04", "92501"),     # one of two surnames
    ("John", "Smith", "1970-07-08", "90012"),              # the suffix dropped
], ids=["no-apostrophe", "one-given-name", "one-surname", "no-suffix"])
def test_a_name_typed_as_its_owner_types_it_is_verified(page, live_server, csp_violations, first, last, dob, zip_code):
    _index(live_server.app)
    email = "new.address@example.net"
    page.goto(live_server.url + "/requests/new?type=access")
    _about_you(page, first, last, email)
    page.get_by_label("Date of birth (optional)").fill(dob)
    page.get_by_label("ZIP code (optional)").fill(zip_code)
    page.get_by_label("The categories of information", exact=False).check()
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    [mail] = live_server.mail_to(email)
    page.goto(live_server.url + link_in(mail, "/verify/"))
    page.get_by_role("button", name="Confirm my request").click()
    expect(page.get_by_text("In progress").first).to_be_visible()
    expect(page.get_by_role("heading", name="Help us confirm it is you")).to_have_count(0)
    assert_no_axe_violations(page)
    assert csp_violations == []


def test_a_signature_without_the_apostrophe_signs_and_a_refused_one_keeps_the_document(page, live_server,
                                                                                       csp_violations):
    page.goto(live_server.url + "/requests/new?type=correct")
    _about_you(page, "Siobhan", "OBrien", "siobhan.new@example.net")
    page.get_by_label("What information is wrong?").fill("My address is 1 Old St")
    page.get_by_label("What should it say instead?").fill("It is 2 New Ave")
    page.get_by_label("A document that supports the correction (optional)").set_input_files(
        files=[{"name": "lease.png", "mimeType": "image/png", "buffer": png()}])
    page.get_by_label("I declare under penalty of perjury", exact=False).check()
    page.get_by_label("Type your full name as your signature").fill("Siobhan Kelly")
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_text("The signature must match the first and last name above.").first).to_be_visible()
    kept = page.locator("#kept-upload")
    expect(kept).to_contain_text("lease.png")
    expect(kept).to_contain_text("you do not need to attach it again")
    assert_no_axe_violations(page)
    page.get_by_label("Type your full name as your signature").fill("Siobhan O'Brien")
    page.get_by_role("button", name="Send my request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    with live_server.app.app_context():
        s = db.session()
        req = s.execute(select(PrivacyRequest)).scalar_one()
        doc = s.execute(select(Document)).scalar_one()
    assert (doc.request_id, doc.original_name) == (req.id, "lease.png")
    assert req.declaration_signature == "Siobhan O'Brien"
    assert csp_violations == []


def test_a_limit_reached_keeps_the_form_says_how_long_and_offers_the_other_ways(page, live_server, csp_violations):
    live_server.app.config["RATELIMIT_REQUEST_EMAIL"] = "1 per hour"
    live_server.app.config["PRIVACY_TOLL_FREE"] = "(888) 555-0171"
    for details in ("First", "Second"):
        page.goto(live_server.url + "/requests/new?type=opt_out")
        _about_you(page, "Ana", "Ruiz", "ana.limit@example.net")
        page.get_by_label("Anything else we should know (optional)").fill(f"{details} try")
        page.get_by_role("button", name="Send my request").click()
    limited = page.locator("#limited")
    expect(limited).to_contain_text("You can send this form again in about")
    expect(limited).to_contain_text("(888) 555-0171")
    expect(limited).to_contain_text(live_server.app.config["PRIVACY_EMAIL"])
    expect(page.get_by_label("First name")).to_have_value("Ana")
    expect(page.get_by_label("Email address")).to_have_value("ana.limit@example.net")
    expect(page.get_by_label("Anything else we should know (optional)")).to_have_value("Second try")
    assert_no_axe_violations(page)
    assert csp_violations == []
