"""What requesters read: the acknowledgement of a request verified at once, responses without nested
parentheses and with one status link, the formats only as sent (a PDF among them, checked as any
upload), headings in the request's language, an extension on the timeline, and the agent
confirmation mail in the words of the type of request."""
import io
import re

import pytest

from portal import db
from portal.services.cases import submission
from portal.services.identity import subjects

from ..files import pdf
from ..support import body, get_case, make_staff, new_case, post_action, sign_in, status_client

RECORDS = ("subject_id,email,phone,first_name,last_name,date_of_birth\n"
           "S-1,ana.ruiz@example.org,(909) 555-0142,Ana,Ruiz,1980-02-29\n")


@pytest.fixture
def as_support(client, app):
    sign_in(client, make_staff(app, "support"))
    return client


def test_an_acknowledgement_never_says_if_we_cannot_match_you_to_someone_verified(app, client, mailbox):
    from ..support import link_in, post_form
    from ..support import request_form as form_for
    with app.app_context():
        subjects.import_csv(db.session(), stream=io.BytesIO(RECORDS.encode()))
    post_form(client, "/requests/new", form_for("access", email="ana.ruiz@example.org", phone="909 555 0142",
                                                access_scope="categories"))
    link = link_in(mailbox.last("ana.ruiz@example.org"), "/verify/")
    page = client.get(link).get_data(as_text=True)
    client.post(link, data={"csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)})
    ack = body(mailbox.last("ana.ruiz@example.org"))
    assert "We have confirmed your identity" in ack and "If we cannot match you" not in ack
    post_form(client, "/requests/new", form_for("delete", email="nobody@example.org"))
    link = link_in(mailbox.last("nobody@example.org"), "/verify/")
    page = client.get(link).get_data(as_text=True)
    client.post(link, data={"csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)})
    acks = [body(m) for m in mailbox.to("nobody@example.org") if "We received your request" in m["Subject"]]
    assert len(acks) == 1 and "If we cannot match you" in acks[0]


def _complete_specific(app, as_support, language, files):
    req = new_case(app, "access", "in_progress", access_scope="specific", language=language)
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Here it is.", **files}, content_type="multipart/form-data")
    return req, resp


def test_a_pdf_response_is_checked_like_any_upload_and_named_as_sent(app, as_support, mailbox):
    req, refused = _complete_specific(app, as_support, "en", {
        "response_pdf": (io.BytesIO(pdf(catalog_extra="/OpenAction << /S /JavaScript /JS (app.alert(1)) >>")), "r.pdf")})
    assert refused.status_code == 422
    req, sent = _complete_specific(app, as_support, "en", {"response_pdf": (io.BytesIO(pdf("Your records")), "r.pdf")})
    assert sent.status_code == 303
    text = body(mailbox.last(req.email))
    assert "ready to download as a PDF file for" in text and "JSON" not in text
    assert text.count("http://portal.test/status") == 1  # the status link once
    assert not re.search(r"\([^()]*\(", text)  # no nested parentheses


def test_json_and_csv_are_named_only_when_both_are_sent(app, as_support, mailbox):
    req, sent = _complete_specific(app, as_support, "en", {"response_json": (io.BytesIO(b'{"a": 1}'), "r.json")})
    assert sent.status_code == 303
    assert "ready to download as a JSON file for" in body(mailbox.last(req.email))


def test_a_spanish_response_has_spanish_headings(app, as_support, mailbox):
    req = new_case(app, "access", "in_progress", language="es")
    resp = post_action(as_support, req.reference, "complete", {
        "outcome": "completed", "message": "Aquí está.", "answer_categories": "Identificadores",
        "answer_sources": "Su médico", "answer_purposes": "Facturación", "answer_recipients": "Aseguradoras"})
    assert resp.status_code == 303
    text = body(mailbox.last(req.email))
    assert "Categories of personal information" not in text
    assert "Categorías de información personal" in text
    assert not re.search(r"\([^()]*\(", text)


def test_the_consumers_timeline_shows_an_extension(app):
    req = new_case(app, "delete", "in_progress")
    with app.app_context():
        s = db.session()
        case = submission.get_by_reference(s, req.reference)
        submission.extend(s, req=case, days=30, reason="We are gathering records from two systems.", actor="staff:1")
    page = status_client(app, req.reference).get(f"/requests/{req.reference}").get_data(as_text=True)
    timeline = page[page.index('class="timeline"'):]
    assert "We extended the time to respond" in timeline and "gathering records from two systems" in timeline
    assert get_case(app, req.reference).extended_due is not None


@pytest.mark.parametrize("request_type,words", [("delete", "asked us to delete your information"),
                                                 ("access", "asked us to tell them what personal information")])
def test_the_agent_confirmation_says_what_was_asked(app, client, mailbox, request_type, words):
    from .test_agent_journey import confirm_agent_email, submit
    assert submit(client, request_type=request_type).status_code == 303
    confirm_agent_email(client, mailbox.last("maria@lienpartners.example"))
    text = body(mailbox.last("ana.ruiz@example.org"))
    assert words in text and "my information" not in text
