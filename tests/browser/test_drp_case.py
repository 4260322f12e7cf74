"""A Data Rights Protocol case in the console, in a real Chromium: the agent, its claims and what it
verified, what the agent sees; staff verify it through the page's form; axe finds nothing."""
import pytest
from playwright.sync_api import expect

from ..drp_agents import DRP_CONFIG, Agent, pair, register, send
from ..support import STAFF_PASSWORD, make_staff
from .axe import assert_no_axe_violations


@pytest.fixture
def app_config(app_config):
    return {**app_config, **DRP_CONFIG}


def test_staff_see_and_verify_a_drp_case(page, live_server, csp_violations):
    app = live_server.app
    agent = Agent()
    register(app, agent)
    client = app.test_client()
    pair(client, agent)
    made = send(client, agent, agent.exercise("deletion", address="1 Main St, Ontario CA", address_verified=True,
                                              **{"agent-request-id": "ps-42"})).get_json()
    user = make_staff(app, "support")
    page.goto(live_server.url + "/staff/login")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(live_server.url + "/staff/?manner=drp")
    page.get_by_role("link", name="PR-").first.click()
    section = page.get_by_role("region", name="Sent by an agent through the Data Rights Protocol")
    expect(section).to_contain_text("Permission Slip")
    expect(section).to_contain_text(made["request_id"])
    expect(section).to_contain_text("ps-42")
    address_row = section.get_by_role("row", name="Address")
    expect(address_row).to_contain_text("1 Main St, Ontario CA")
    expect(address_row).to_contain_text("Yes")
    expect(section.get_by_role("row", name="Phone")).to_contain_text("No")
    page.get_by_text("How your actions read to the agent").click()
    expect(section).to_contain_text("outside_jurisdiction")
    assert_no_axe_violations(page)

    # Each point checked by hand, with the source that confirmed it.
    page.locator("details.action > summary", has_text="Verify identity by hand").click()
    for point, source in (("Phone number", "phone_call"), ("Claim or account number", "claim_file"),
                          ("Name and date of birth", "document")):
        page.get_by_label(point, exact=True).select_option(source)
    page.get_by_role("button", name="Mark identity verified").click()
    expect(page.get_by_role("region", name="Sent by an agent through the Data Rights Protocol")).to_contain_text(
        "Identity verified. We are preparing our response.")
    assert csp_violations == []
