"""Submission limits count accepted requests, per email and per network address, never a form sent
back for a correction; a limit reached brings the form back as typed (429) with how long to wait and
the other ways to make a request; a shared office is not locked out by ordinary use."""
import re

from .. import files
from ..support import post_form
from ..support import request_form as form_for


def test_validation_errors_never_count(app, client):
    app.config["RATELIMIT_REQUEST_ADDRESS"] = "2 per hour"
    for _ in range(6):
        assert post_form(client, "/requests/new", form_for("opt_out", email="not an address")).status_code == 422
    codes = [post_form(client, "/requests/new", form_for("opt_out", email=f"p{i}@example.org")).status_code
             for i in range(3)]
    assert codes == [303, 303, 429]


def test_the_limit_per_email_brings_the_form_back_as_typed_with_the_wait_and_the_other_ways(app, client):
    app.config["RATELIMIT_REQUEST_EMAIL"] = "2 per hour"
    app.config["PRIVACY_TOLL_FREE"] = "(800) 555-0134"
    for kind in ("opt_out", "limit"):
        assert post_form(client, "/requests/new", form_for(kind, email="Ana.Ruiz@example.org")).status_code == 303
    limited = post_form(client, "/requests/new", form_for("access", email="ana.ruiz@example.org",
                                                          first_name="Anabel", details="My claim from 2021"))
    page = limited.get_data(as_text=True)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert re.search(r"You can send this form again in about \d+ minutes", page)
    assert 'value="Anabel"' in page and "My claim from 2021" in page and '<input checked id="request_type-0"' in page
    assert "(800) 555-0134" in page and app.config["PRIVACY_EMAIL"] in page and app.config["PRIVACY_PHONE"] in page
    other = post_form(client, "/requests/new", form_for("opt_out", email="someone.else@example.org"))
    assert other.status_code == 303  # another person at the same desk is not held up


def test_a_clinic_desk_sends_a_morning_of_requests_from_one_address(app, client):
    """Forty patients in an hour at one shared computer, a few typos among them: every one accepted."""
    codes = []
    for i in range(40):
        if i % 5 == 0:
            codes.append(post_form(client, "/requests/new", form_for("access", email=f"patient{i}@")).status_code)
        codes.append(post_form(client, "/requests/new", form_for(
            "access", email=f"patient{i}@example.org", first_name="Pat", last_name="Number" + chr(97 + i % 26))).status_code)
    assert codes.count(303) == 40 and set(codes) == {303, 422}


def test_an_agent_firm_sends_for_many_consumers_with_one_agent_email(app, client):
    """A lien firm's clerk files thirty requests in an hour, one per consumer, from one address with one
    agent email: all accepted. The same consumer again and again is what the per-email limit stops."""
    from .test_agent_journey import submit
    app.config["RATELIMIT_REQUEST_EMAIL"] = "2 per hour"
    codes = [submit(client, upload=(files.png(), "permission.png", "image/png"), consumer_first_name="Ana",
                    consumer_last_name="Ruiz" + chr(97 + i // 26) + chr(97 + i % 26), consumer_email=f"c{i}@example.org").status_code
             for i in range(30)]
    assert codes == [303] * 30
    same = [submit(client, upload=(files.png(), "permission.png", "image/png"), request_type=kind).status_code
            for kind in ("delete", "access", "correct")]
    assert same[:2] == [303, 303] and same[2] == 429
