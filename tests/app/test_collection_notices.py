"""The forms as the law shapes them (issue 33, smaller items): opt-out and limit forms ask nothing to
verify and do not say "we confirm who you are" (§7026(c)-(d), §7027(e)), and drop such details if sent
anyway; every form and the banner carry a notice at collection (what, why, how long, the policy:
§1798.100(a)(3), §7012); the opt-out and limit links lead to the right explained, the other ways to
use it and the GPC signal (§7013-§7014)."""
import pytest
from sqlalchemy import select

from portal import db
from portal.models import PrivacyRequest

from ..support import new_case, post_form, request_form, status_client

MATCHING_FIELDS = ('name="phone"', 'name="claim_number"', 'name="date_of_birth"', 'name="date_of_injury"',
                   'name="employer"', 'name="postal_code"')


@pytest.mark.parametrize("kind", ["opt_out", "limit"])
def test_opt_out_and_limit_forms_ask_nothing_to_verify(client, kind):
    page = client.get(f"/requests/new?type={kind}").get_data(as_text=True)
    assert not [f for f in MATCHING_FIELDS if f in page]
    assert "We confirm who you are" not in page and "confirm who you are" not in page.split("<footer")[0]
    fragment = client.get(f"/requests/new/fields?request_type={kind}").get_data(as_text=True)
    assert not [f for f in MATCHING_FIELDS if f in fragment]
    verified = client.get("/requests/new?type=delete").get_data(as_text=True)
    assert all(f in verified for f in MATCHING_FIELDS) and "We confirm who you are" in verified


def test_details_sent_with_an_opt_out_anyway_are_not_kept(client, app):
    data = request_form("opt_out", phone="(909) 555-0100", claim_number="WC-77", date_of_birth="1980-02-03")
    assert post_form(client, "/requests/new", data).status_code == 303
    with app.app_context():
        req = db.session().execute(select(PrivacyRequest)).scalar_one()
    assert (req.phone, req.claim_number, req.date_of_birth) == (None, None, None)


@pytest.mark.parametrize(("path", "words"), [
    ("/requests/new", "to verify your identity"), ("/requests/new?type=opt_out", "to send you its receipt"),
    ("/agent/requests/new", "to check your authority"), ("/inquiries/new", "to answer your inquiry"),
    ("/status", "only to send a link"), ("/preferences", "We keep each record for 731 days")])
def test_every_form_carries_a_notice_at_collection(client, path, words):
    page = client.get(path).get_data(as_text=True)
    assert words in page and 'href="/privacy">Our privacy policy</a>' in page
    if path != "/preferences":
        assert "What we collect here" in page and "How long" in page
    es = client.get(f"{path}{'&' if '?' in path else '?'}lang=es").get_data(as_text=True)
    assert "Nuestra política de privacidad" in es


def test_the_banner_carries_it_on_the_portal_and_in_the_api_for_the_business_site(client):
    page = client.get("/").get_data(as_text=True)
    assert 'id="consent-banner"' in page and "We keep each record for 731 days" in page
    banner = client.get("/api/consent").get_json()["banner"]
    assert "We keep each record for 731 days" in banner["notice"]
    assert banner["links"]["policy"] == "http://portal.test/privacy"


@pytest.mark.parametrize(("kind", "right", "other"), [
    ("opt_out", "Your right to opt out of sale and sharing", "Refuse advertising cookies in our cookie preferences"),
    ("limit", "Your right to limit the use of sensitive personal information", "it does not limit the use of sensitive")])
def test_the_links_lead_to_the_right_explained_with_other_ways_and_gpc(client, kind, right, other):
    page = client.get(f"/requests/new?type={kind}").get_data(as_text=True)
    assert right in page and other in page and "Global Privacy Control (GPC)" in page
    assert "You can also make a request by email at privacy@billgenix.example" in page


def test_the_status_pages_details_form_carries_it_too(app):
    req = new_case(app, "access", "on_hold", hold_reason="data_mismatch")
    page = status_client(app, req.reference).get(f"/requests/{req.reference}").get_data(as_text=True)
    assert 'name="phone"' in page and "What we collect here: the details you add" in page
    assert "only to confirm who you are" in page and 'href="/privacy">Our privacy policy</a>' in page
