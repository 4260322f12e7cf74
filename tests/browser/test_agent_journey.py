"""An agent's request in a real Chromium: the form with its upload, with and without JavaScript."""
import pytest
from playwright.sync_api import expect

from .. import files
from ..support import link_in
from .axe import assert_no_axe_violations

AGENT_EMAIL = "maria@lienpartners.example"
CONSUMER_EMAIL = "ana.ruiz@example.org"


def _fill(page, tmp_path, content=None, name="signed-letter.pdf"):
    letter = tmp_path / name
    letter.write_bytes(files.pdf() if content is None else content)
    page.get_by_label("A business acting for the consumer").check()
    page.get_by_label("Your full name").fill("Maria Lopez")
    page.get_by_label("Your email address").fill(AGENT_EMAIL)
    page.get_by_label("Business name").fill("Lien Partners LLC")
    page.get_by_label("Business registration number (optional)").fill("201912345678")
    page.get_by_label("Consumer's first name").fill("Ana")
    page.get_by_label("Consumer's last name").fill("Ruiz")
    page.get_by_label("Consumer's email address (optional)").fill(CONSUMER_EMAIL)
    page.get_by_label("Delete my information").check()
    page.get_by_label("Written permission signed by the consumer").check()
    page.get_by_label("The signed permission or power of attorney").set_input_files(str(letter))
    page.get_by_label("I confirm that the consumer named above authorized me", exact=False).check()


def test_agent_form_with_upload_and_consumer_confirmation(page, live_server, csp_violations, tmp_path):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Make a request for someone else", exact=False).click()
    expect(page.get_by_role("heading", name="Make a request for someone else")).to_be_visible()
    assert_no_axe_violations(page)

    _fill(page, tmp_path, content=files.ELF, name="letter.pdf")  # an executable renamed .pdf
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#authorization-error")).to_contain_text("We accept PDF, PNG or JPEG files only")
    expect(page.get_by_label("Your full name")).to_have_value("Maria Lopez")
    assert_no_axe_violations(page)

    (tmp_path / "letter.pdf").write_bytes(files.pdf())  # the real letter this time
    page.get_by_label("The signed permission or power of attorney").set_input_files(str(tmp_path / "letter.pdf"))
    page.get_by_label("I confirm that the consumer named above authorized me", exact=False).check()
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert_no_axe_violations(page)

    [mail] = live_server.mail_to(AGENT_EMAIL)
    page.goto(live_server.url + link_in(mail, "/verify/"))
    page.get_by_role("button", name="Confirm my request").click()
    expect(page.get_by_text("Checking the agent's authorization").first).to_be_visible()

    [ask] = live_server.mail_to(CONSUMER_EMAIL)
    page.goto(live_server.url + link_in(ask, "/agent/confirm/"))
    expect(page.get_by_role("heading", name="Did you authorize this agent?")).to_be_visible()
    expect(page.get_by_text("Maria Lopez (Lien Partners LLC)")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Yes, they act for me").click()
    expect(page.get_by_role("heading", name="Thank you: you confirmed your agent")).to_be_visible()
    assert_no_axe_violations(page)
    assert csp_violations == []


@pytest.fixture
def no_js_page(browser):
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_agent_form_without_javascript(no_js_page, live_server, tmp_path):
    page = no_js_page
    page.goto(live_server.url + "/agent/requests/new")
    _fill(page, tmp_path)
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    [mail] = live_server.mail_to(AGENT_EMAIL)
    assert "Hello Maria Lopez" in mail.get_body(preferencelist=("plain",)).get_content()
