"""The case page's fulfilment plan in a real Chromium, on the Billgenix example's map: the items,
their instructions folded away, a staff task recorded through its form; axe finds nothing."""
import pytest
from playwright.sync_api import expect

from ..support import make_staff, new_case, sign_in_page
from ..unit.fulfilment.maps import load_generator
from .axe import assert_no_axe_violations


@pytest.fixture
def app_config(app_config, tmp_path):
    generator = load_generator()
    generator.build(tmp_path / "example", claimants=6, seed=31)
    generator.write_map(tmp_path / "datamap", databases=tmp_path / "example")
    return {**app_config, "DATAMAP_PATH": str(tmp_path / "datamap")}


def test_staff_read_the_plan_and_record_a_staff_task(page, live_server, csp_violations):
    app = live_server.app
    req = new_case(app, "delete", "in_progress")
    user = make_staff(app, "support")
    sign_in_page(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/staff/requests/{req.reference}")
    plan = page.get_by_role("region", name="Fulfilment plan")
    expect(plan).to_contain_text("Claims and billing")
    expect(plan).to_contain_text("Support tickets")
    expect(plan).to_contain_text("Unassigned")
    row = plan.get_by_role("row", name="Support tickets")
    expect(row.get_by_text("Table tickets")).to_be_hidden()
    row.get_by_text("Instructions").click()
    expect(row.get_by_text("Table tickets", exact=False)).to_be_visible()
    assert_no_axe_violations(page)

    task = page.locator("details.action", has_text="Record the outcome in Support tickets")
    task.locator("summary").click()  # folded until opened
    task.get_by_label("Searched: not found").check()
    task.get_by_label("What was done").fill("Searched the help desk by email: nothing.")
    task.get_by_role("button", name="Record the outcome").click()
    expect(page.get_by_role("region", name="Fulfilment plan").get_by_role("row", name="Support tickets")) \
        .to_contain_text("Not found")
    assert_no_axe_violations(page)
    assert csp_violations == []
