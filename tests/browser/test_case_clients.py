"""The case page's "Whose data" section in a real Chromium: a person found only in a client's data,
the outcome chosen per client through its form (handling as the business refused with the reason,
then explaining whom to ask); axe finds nothing."""
from playwright.sync_api import expect

from ..clients_support import add_client, import_index, verified_case
from ..support import make_staff, sign_in_page
from .axe import assert_no_axe_violations


def test_staff_choose_an_outcome_for_a_client_found_on_the_case(page, live_server, csp_violations):
    app = live_server.app
    add_client(app)
    import_index(app, [{"subject_id": "S-9", "email": "ana.ruiz@example.org", "client": "clinic"}])
    req = verified_case(app, "S-9", request_type="delete")
    user = make_staff(app, "support")
    sign_in_page(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/staff/requests/{req.reference}")
    section = page.get_by_role("region", name="Whose data")
    expect(section).to_contain_text("Held for Valley Clinic under a BAA")
    expect(section).to_contain_text("Found only in clients' data")
    assert_no_axe_violations(page)

    section.get_by_label("Handle as the business").check()
    section.get_by_role("button", name="Record the outcome for Valley Clinic").click()
    section = page.get_by_role("region", name="Whose data")
    expect(section).to_contain_text("holds nothing of this person for itself")
    assert_no_axe_violations(page)

    section.get_by_label("Explain to the consumer whom to ask").check()
    section.get_by_role("button", name="Record the outcome for Valley Clinic").click()
    section = page.get_by_role("region", name="Whose data")
    expect(section).to_contain_text("Explained to the consumer")
    expect(section.get_by_role("button", name="Record the outcome for Valley Clinic")).to_have_count(0)
    assert_no_axe_violations(page)
    assert csp_violations == []
