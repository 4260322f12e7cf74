"""The whole verification journey through the web forms and the real SMTP server: a requester whose
details match is verified without anyone touching the case; one whose details do not is held, adds
a detail from the status page and is verified; staff see the matching and verify by hand."""
import re

from sqlalchemy import select

from portal import db
from portal.models import PrivacyRequest
from portal.services.delivery import mail as mail_service

from ..support import body, csrf_from, make_staff, post_action, post_form, request_form, sign_in

RECORDS = ("subject_id,email,phone,first_name,last_name,date_of_birth,claim_number,employer,postal_code\n"
           "S-77,ana.ruiz@example.org,(909) 555-0142,Ana,Ruiz,1980-04-23,WC-2024-0017,Acme Roofing,92373\n")


def import_records(runner, tmp_path):
    path = tmp_path / "records.csv"
    path.write_text(RECORDS)
    result = runner.invoke(args=["subjects", "import", str(path)])
    assert result.exit_code == 0, result.output


def the_case(app):
    with app.app_context():
        return db.session().execute(select(PrivacyRequest).order_by(PrivacyRequest.id.desc())).scalars().first()


def confirm_via_smtp(app, client, smtp_server, address):
    """Deliver the outbox to the SMTP server, take the /verify/ link from the mail, spend it."""
    mail_service.deliver_for_app(app)
    message = [m for m in smtp_server.received if m["To"] == address][-1]
    path = re.search(r"https?://[^/\s]+(/verify/\S+)", body(message)).group(1)
    page = client.get(path).get_data(as_text=True)
    resp = client.post(path, data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303
    return client.get(resp.headers["Location"]).get_data(as_text=True)


def test_matching_details_verify_without_anyone_touching_the_case(smtp_server, app, client, runner, tmp_path):
    import_records(runner, tmp_path)
    post_form(client, "/requests/new", request_form("access", phone="909-555-0142"))
    page = confirm_via_smtp(app, client, smtp_server, "ana.ruiz@example.org")
    req = the_case(app)
    assert req.status == "in_progress"  # email (held by the business) + phone
    assert "In progress" in page


def test_a_short_match_is_held_and_the_requester_adds_a_detail(smtp_server, app, client, runner, tmp_path):
    import_records(runner, tmp_path)
    post_form(client, "/requests/new", request_form("delete", email="ana.new@example.net", phone="(909) 555 0142",
                                                     claim_number="wc 2024 0017"))
    page = confirm_via_smtp(app, client, smtp_server, "ana.new@example.net")
    req = the_case(app)
    assert (req.status, req.hold_reason) == ("on_hold", "high_certainty_required")
    assert "We need more details to confirm your identity" in page and "Help us confirm it is you" in page
    mail_service.deliver_for_app(app)
    hold = [m for m in smtp_server.received if "more details" in m["Subject"]][-1]
    # The kinds of detail that help, the same for everyone: the name as the records hold it among them.
    assert "The date of birth" in body(hold) and "The name as it appears on the claim or the bills" in body(hold)

    resp = client.post(f"/requests/{req.reference}/details", data={"csrf_token": csrf_from(page), "employer": "Acme Roofing, Inc."})
    assert resp.status_code == 303
    assert the_case(app).status == "in_progress"


def test_bad_details_get_a_clear_message_not_an_error(app, client, runner, tmp_path):
    import_records(runner, tmp_path)
    post_form(client, "/requests/new", request_form("access", email="x@example.net"))
    from ..support import Mailbox, link_in
    mailbox = Mailbox(app)
    path = link_in(mailbox.last("x@example.net"), "/verify/")
    page = client.get(path).get_data(as_text=True)
    detail = client.get(client.post(path, data={"csrf_token": csrf_from(page)}).headers["Location"]).get_data(as_text=True)
    ref = the_case(app).reference
    resp = client.post(f"/requests/{ref}/details", data={"csrf_token": csrf_from(detail), "date_of_birth": "1980-13-45"})
    assert resp.status_code == 422 and "YYYY-MM-DD" in resp.get_data(as_text=True)
    resp = client.post(f"/requests/{ref}/details", data={"csrf_token": csrf_from(detail)})
    assert resp.status_code == 422 and "at least one more detail" in resp.get_data(as_text=True)
    assert the_case(app).status == "on_hold"
    # Without the status session, nobody adds details to someone else's request.
    other = app.test_client()
    assert other.post(f"/requests/{ref}/details", data={"phone": "9095550142"}).status_code in (400, 403)


def test_staff_see_the_matching_and_verify_by_hand_only_with_sources(app, client, runner, tmp_path):
    import_records(runner, tmp_path)
    post_form(client, "/requests/new", request_form("access", email="ana.new@example.net", phone="9095550142"))
    from ..support import Mailbox, link_in
    path = link_in(Mailbox(app).last("ana.new@example.net"), "/verify/")
    page = client.get(path).get_data(as_text=True)
    client.post(path, data={"csrf_token": csrf_from(page)})
    req = the_case(app)
    assert req.hold_reason == "data_mismatch"

    staff_client = app.test_client()
    sign_in(staff_client, make_staff(app, "support"))
    case_page = staff_client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "S-77" in case_page and "Phone number" in case_page and "Already matched automatically" in case_page
    assert "909" not in case_page.split('id="checks-heading"')[1].split("</section>")[0]  # no values, only names
    # A point without a source does not count; one with a source does (with the automatic phone match).
    resp = post_action(staff_client, req.reference, "verify", {"note": "called back"})
    assert resp.status_code == 422 and "each with the source" in resp.get_data(as_text=True)
    resp = post_action(staff_client, req.reference, "verify", {"source_claim_number": "a hunch"})
    assert resp.status_code == 422 and the_case(app).status == "on_hold"
    resp = post_action(staff_client, req.reference, "verify", {"source_claim_number": "phone_call"})
    assert resp.status_code == 303 and the_case(app).status == "in_progress"
