"""What the pages and mails must say correctly (issue 12): dates, promises, statutory link names, age."""
from portal.clock import local_date

from ..support import body, make_staff, new_case, post_action, post_form, request_form, sign_in


def test_the_information_requested_mail_prints_the_date_received(app, client, mailbox):
    sign_in(client, make_staff(app, "support"))
    req = new_case(app, "delete")
    post_action(client, req.reference, "request_info", {"message": "Which claim is this about?"})
    text = body(mailbox.last(req.email))
    received = local_date(req.received_at)
    due = req.response_due
    assert f"counts from the day we received your request, {received:%B} {received.day}, {received.year}." in text
    assert f"{due:%B} {due.day}, {due.year}" not in text


def test_the_receipt_promises_only_what_the_portal_does(app, client, mailbox):
    resp = post_form(client, "/requests/new", request_form("opt_out"))
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    text = body(mailbox.last("ana.ruiz@example.org"))
    for said in (page, text):
        assert "every business" not in said and "within 15 business days" not in said
    assert "Where we have set up notices to the businesses" in text


def test_home_page_counts_45_days_from_receipt_and_names_the_statutory_links(client):
    html = client.get("/").get_data(as_text=True)
    assert "We answer within 45 days of receiving your request." in html
    assert "then answer within 45 days." not in html
    assert 'href="/requests/new?type=limit">Limit the Use of My Sensitive Personal Information</a>' in html
    assert 'href="/requests/new?type=opt_out">Do Not Sell or Share My Personal Information</a>' in html


def test_the_contact_phone_is_configuration(app_config, request):
    app_config["PRIVACY_PHONE"] = "(800) 555-0199"
    client = request.getfixturevalue("client")
    assert "(800) 555-0199" in client.get("/").get_data(as_text=True)


def test_the_policy_says_18_and_that_nothing_is_sold_by_default(client):
    html = client.get("/privacy").get_data(as_text=True)
    assert "not directed to anyone under 18" in html
    assert "We do not sell personal information" in html
    # §7011(e)(1)(F) asks for the under-16 statement even of a business that sells nothing.
    assert "So we do not sell or share the personal information of consumers under 16 years of age." in html
    prefs = client.get("/preferences").get_data(as_text=True)
    assert "Advertising (sale or sharing)" not in prefs


def test_the_staff_metrics_page_lists_the_holidays_in_use(app_config, request):
    app_config["HOLIDAYS_EXTRA"] = "2026-12-24, Columbus Day"  # as PORTAL_HOLIDAYS_EXTRA would give it
    app_config["HOLIDAYS_EXCLUDE"] = ["Diwali"]
    app, client = request.getfixturevalue("app"), request.getfixturevalue("client")
    sign_in(client, make_staff(app, "admin"))
    html = client.get("/staff/metrics?year=2026").get_data(as_text=True)
    assert "Holidays in 2026" in html
    assert '<time datetime="2026-03-31">' in html and "Cesar Chavez Day" in html
    assert '<time datetime="2026-12-24">' in html and "Columbus Day" in html
    assert "Diwali" not in html


def test_published_metrics_are_off_by_default(client):
    assert client.get("/privacy/metrics").status_code == 404
    assert "/privacy/metrics" not in client.get("/privacy").get_data(as_text=True)


def test_published_metrics_page_and_csv_count_gpc_opt_outs(app_config, request, time_machine):
    time_machine.move_to("2027-03-10T10:00:00-08:00", tick=False)
    app_config["PUBLISH_METRICS"] = True
    app, client = request.getfixturevalue("app"), request.getfixturevalue("client")
    from datetime import datetime

    from portal import db
    from portal.services.consent import choices
    with app.app_context():
        time_machine.move_to("2026-06-01T10:00:00-07:00", tick=False)
        for _ in range(2):
            choices.resolve(db.session(), consent_id=choices.new_consent_id(), gpc_signal=True, user_agent=None)
        new_case(app, "opt_out", "in_progress", received_at=datetime.fromisoformat("2026-06-01T10:00:00-07:00"))
        time_machine.move_to("2027-03-10T10:00:00-08:00", tick=False)
    policy_page = client.get("/privacy").get_data(as_text=True)
    assert 'href="/privacy/metrics"' in policy_page
    html = client.get("/privacy/metrics").get_data(as_text=True)
    assert "Privacy request metrics for 2026" in html
    assert "Opt-outs through the Global Privacy Control signal</th>\n      <td>2</td>" in html
    csv_text = client.get("/privacy/metrics?format=csv").get_data(as_text=True)
    rows = csv_text.splitlines()
    assert rows[0].startswith("year,request_type,received")
    assert any(r.startswith("2026,opt_out,1,") for r in rows) and any(r.startswith("2026,opt_out_gpc,2,2,") for r in rows)
    sign_in(client, make_staff(app, "admin"))  # the console shows the same table, with the GPC row
    staff_html = client.get("/staff/metrics?year=2026").get_data(as_text=True)
    assert "Opt-outs through the Global Privacy Control signal</th>\n      <td>2</td>" in staff_html
