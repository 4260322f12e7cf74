"""What a response must say (issue 33, smaller items): the opt-out offer on a denied deletion when the
business sells or shares (§7022(g)); "you may ask us to delete it" on a denied correction
(§7023(f)(4)); the source when the business is not it (§7023(i)); the categories sold or shared and
disclosed, with their recipients, in a categories answer (§1798.110, §1798.115); no empty "this
covers:" line; and staff's own words pass the §7024(d) scan."""
import pytest

from ..support import body, get_case, make_staff, new_case, post_action, sign_in


@pytest.fixture
def as_support(app, client):
    sign_in(client, make_staff(app, "support"))
    return client


@pytest.mark.parametrize("sells", [True, False])
def test_a_denied_deletion_offers_the_opt_out_when_the_business_sells_or_shares(app_config, request, sells):
    app_config["SELLS_OR_SHARES"] = sells
    app, client, mailbox = (request.getfixturevalue(name) for name in ("app", "client", "mailbox"))
    sign_in(client, make_staff(app, "support"))
    req = new_case(app, "delete", "in_progress")
    resp = post_action(client, req.reference, "deny", {"basis": "legal_obligation", "categories": "Billing records",
                                                       "explanation": "Tax law requires us to keep them."})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    text = body(mailbox.last(req.email))
    offered = "You may also ask us not to sell or share your personal information: http://portal.test/requests/new?type=opt_out"
    assert (offered in text) is sells


def test_a_denied_correction_offers_deletion_and_names_the_source(as_support, app, mailbox):
    req = new_case(app, "correct", "in_progress")
    resp = post_action(as_support, req.reference, "deny", {
        "basis": "legal_obligation", "categories": "Address", "explanation": "The address is as the court has it.",
        "assessment": "Checked the court filing.", "source": "The Superior Court's case file"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    text = body(mailbox.last(req.email))
    assert "If you like, you may ask us to delete this information instead: http://portal.test/requests/new?type=delete" in text
    assert "We received the information you say is inaccurate from: The Superior Court's case file" in text


def test_a_categories_answer_says_what_was_sold_shared_and_disclosed_and_to_whom(as_support, app, mailbox):
    req = new_case(app, "access", "in_progress")
    page = as_support.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Categories we sold or shared, with the categories of third parties for each" in page
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Here is what we hold.", "answer_categories": "Identifiers",
        "answer_sources": "Your employer's claims administrator", "answer_purposes": "Billing your claim",
        "answer_disclosed": "Identifiers: claims administrators and payers"}, page=page)
    assert resp.status_code == 303, resp.get_data(as_text=True)[:1500]
    text = body(mailbox.last(req.email))
    assert ("Categories we disclosed for a business purpose, with the categories of recipients for each:\n"
            "- Identifiers: claims administrators and payers") in text
    assert "We did not sell or share your personal information." in text
    assert "We did not disclose your personal information for a business purpose." not in text


def test_no_empty_this_covers_line(as_support, app, mailbox):
    req = new_case(app, "access", "in_progress")
    post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Here is what we hold.", "answer_categories": "Identifiers",
        "answer_sources": "You", "answer_purposes": "Billing"})
    text = body(mailbox.last(req.email))
    assert "this covers" not in text


def test_staff_free_text_is_scanned_for_what_must_never_be_disclosed(as_support, app):
    req = new_case(app, "access", "in_progress")
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "We hold your SSN 123456789 and your claim.",
        "answer_categories": "Identifiers", "answer_sources": "You", "answer_purposes": "Billing"})
    assert resp.status_code == 422 and "a Social Security number" in resp.get_data(as_text=True)
    assert get_case(app, req.reference).status == "in_progress"
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "We hold your Social Security number (collected: yes) and your claim.",
        "answer_categories": "Identifiers\nMember ID: XJH448812", "answer_sources": "You", "answer_purposes": "Billing"})
    assert resp.status_code == 422 and "a health-insurance or medical ID number" in resp.get_data(as_text=True)
