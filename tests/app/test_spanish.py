"""Spanish from the home page to the last mail: the language choice, the pages, the request's mails
(including those sent later by staff and by the worker), dates, the policy, the banner and the API."""
import re
from datetime import timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import select

from portal import clock, db
from portal.models import PrivacyRequest
from portal.services.cases import submission

from ..pages import public_pages
from ..support import body, csrf_from, link_in, make_staff, post_action, post_form, request_form, sign_in


def _html_lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


def _request(app) -> PrivacyRequest:
    with app.app_context():
        return db.session().execute(select(PrivacyRequest)).scalars().one()


def test_lang_parameter_sets_a_cookie_that_beats_accept_language(client):
    page = client.get("/?lang=es", headers={"Accept-Language": "en"})
    assert _html_lang(page.get_data(as_text=True)) == "es"
    cookie = client.get_cookie("portal_lang")
    assert cookie.value == "es" and cookie.http_only and cookie.same_site == "Lax"
    assert "Accept-Language" in page.headers["Vary"] and "Cookie" in page.headers["Vary"]
    again = client.get("/status", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert _html_lang(again) == "es" and "Consultar una solicitud" in again
    back = client.get("/status?lang=en").get_data(as_text=True)
    assert _html_lang(back) == "en" and client.get_cookie("portal_lang").value == "en"


@pytest.mark.parametrize("accept, expected", [
    ("es-MX,es;q=0.9,en;q=0.5", "es"), ("en-US,en;q=0.9", "en"), ("fr-FR", "en"), ("", "en"),
])
def test_accept_language_then_english(client, accept, expected):
    html = client.get("/", headers={"Accept-Language": accept} if accept else {}).get_data(as_text=True)
    assert _html_lang(html) == expected
    assert client.get_cookie("portal_lang") is None  # only a choice made on a page is remembered


def test_an_unknown_language_is_ignored(client):
    html = client.get("/?lang=xx", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _html_lang(html) == "es" and client.get_cookie("portal_lang") is None


def test_every_public_page_is_spanish_with_a_switcher_to_english(app, client):
    for name, html in public_pages(app, client, "es").items():
        assert _html_lang(html) == "es", name
        assert re.search(r'<a href="[^"]*lang=en" lang="en" hreflang="en">English</a>', html), name
        assert "Saltar al contenido principal" in html and "Skip to main content" not in html, name


def test_the_switcher_keeps_the_page_and_its_query(client):
    html = client.get("/requests/new?type=delete&lang=es").get_data(as_text=True)
    assert 'href="/requests/new?type=delete&amp;lang=en"' in html


def test_the_console_stays_english(app, client):
    client.get("/?lang=es")
    html = client.get("/staff/login", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _html_lang(html) == "en" and "Sign in" in html and 'hreflang="en"' not in html


def test_a_spanish_request_gets_every_mail_in_spanish(app, client, mailbox, time_machine):
    time_machine.move_to("2026-11-30T18:00:00+00:00", tick=False)
    resp = post_form(client, "/requests/new?lang=es", request_form("access"), form_url="/requests/new?lang=es")
    assert resp.status_code == 303
    assert "Revise su correo electrónico" in client.get(resp.headers["Location"]).get_data(as_text=True)
    req = _request(app)
    assert req.language == "es"

    verify = mailbox.last(req.email)
    assert verify["Subject"] == "Confirme su solicitud de privacidad"
    assert "Hola, Ana:" in body(verify) and "presione el botón de confirmar" in body(verify)
    html_part = verify.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="es">' in html_part and "Confirmar mi solicitud" in html_part and "Privacidad" in html_part
    assert "Equipo de privacidad de Billgenix" in body(verify)
    link = link_in(verify, "/verify/")
    page = client.get(link).get_data(as_text=True)
    assert "Confirme su solicitud" in page
    client.post(link, data={"csrf_token": csrf_from(page)})

    # The acknowledgement, then (no records match in this test) the mail asking for more details.
    ack = next(m for m in mailbox.to(req.email) if m["Subject"].startswith("Recibimos su solicitud"))
    req = _request(app)
    assert ack["Subject"] == f"Recibimos su solicitud: {req.reference}"
    due = format_date(req.response_due, "long", locale="es")
    assert re.fullmatch(r"\d{1,2} de [a-z]+ de \d{4}", due) and due in body(ack)  # "14 de enero de 2027"
    assert "Qué sigue" in body(ack)

    # A staff member, in the English console, extends the deadline: the requester reads Spanish.
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    console = staff.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Verifying identity" in console
    assert post_action(staff, req.reference, "extend", {"days": "30", "reason": "Los archivos están en otro lugar."},
                       page=console).status_code == 303
    extension = mailbox.last(req.email)
    assert extension["Subject"] == f"Necesitamos más tiempo para la solicitud {req.reference}"
    assert "Los archivos están en otro lugar." in body(extension)  # staff's words are sent as typed
    extended = _request(app).extended_due
    assert format_date(extended, "long", locale="es") in body(extension)


def test_the_worker_mails_in_the_request_language(app, client, mailbox):
    post_form(client, "/requests/new?lang=es", request_form("delete"), form_url="/requests/new?lang=es")
    mailbox.deliver()
    with app.app_context():  # the worker's context: no request, no visitor language
        # Never confirmed: denied as unverifiable at its response due date (45 days), not before.
        closed_count = submission.expire_unconfirmed(db.session(), now=clock.now() + timedelta(days=46))
    assert closed_count == 1
    req = _request(app)
    closed = mailbox.last(req.email)
    assert closed["Subject"] == f"Nuestra respuesta a la solicitud {req.reference}"
    assert "nunca se confirmó" in body(closed)


def test_an_english_request_stays_english_when_staff_browse_in_spanish(app, client, mailbox):
    post_form(client, "/requests/new", request_form("opt_out"), headers={"Accept-Language": "en"})
    req = _request(app)
    assert req.language == "en"
    receipt = mailbox.last(req.email)
    assert receipt["Subject"] == f"We received your request: {req.reference}"


def test_the_status_link_mail_is_in_the_request_language(app, client, mailbox):
    post_form(client, "/requests/new?lang=es", request_form("limit"), form_url="/requests/new?lang=es")
    req = _request(app)
    english_visitor = app.test_client()
    post_form(english_visitor, "/status", {"reference": req.reference, "email": req.email})
    mail = mailbox.last(req.email)
    assert mail["Subject"] == f"Su enlace a {req.reference}" and "minutos" in body(mail)


def test_the_spanish_privacy_policy_has_the_same_version(client):
    es = client.get("/privacy?lang=es").get_data(as_text=True)
    en = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "Sus derechos de privacidad de California" in es and "Vigente desde el 1 de noviembre de 2026" in es
    assert "versión 2026-11-01" in es and "version 2026-11-01" in en


def test_an_instance_policy_without_a_translation_is_shown_as_written(app, client):
    from pathlib import Path
    (Path(app.instance_path) / "privacy_policy.md").write_text(
        "---\nversion: 7\neffective: 2027-02-01\n---\n## New terms\n", encoding="utf-8")
    es = client.get("/privacy?lang=es").get_data(as_text=True)
    assert "<h2>New terms</h2>" in es and "versión 7" in es
    (Path(app.instance_path) / "privacy_policy.es.md").write_text(
        "---\nversion: 7\neffective: 2027-02-01\n---\n## Nuevos términos\n", encoding="utf-8")
    assert "<h2>Nuevos términos</h2>" in client.get("/privacy?lang=es").get_data(as_text=True)


@pytest.mark.parametrize("how", [{"query_string": {"lang": "es"}}, {"headers": {"Accept-Language": "es"}}])
def test_the_consent_api_serves_the_banner_in_spanish(client, how):
    data = client.get("/api/consent", **how).get_json()
    banner = data["banner"]
    assert banner["reject"] == "Rechazar todas" and banner["accept"] == "Aceptar todas"
    assert banner["opt_out"] == "No vender ni compartir mi información personal"
    assert banner["links"]["preferences"].endswith("/preferences?lang=es")
    assert client.get_cookie("portal_lang") is None  # an API call sets no cookie


def test_the_banner_script_asks_for_the_page_language(app):
    from pathlib import Path
    script = (Path(app.static_folder) / "js" / "consent-banner.js").read_text()
    assert 'getAttribute("data-lang")' in script and "document.documentElement.lang" in script
    assert '"?lang=" + lang' in script


def test_form_errors_are_in_spanish(client):
    resp = post_form(client, "/requests/new?lang=es", {"request_type": "access", "email": "no"},
                     form_url="/requests/new?lang=es")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Por favor, corrija lo siguiente" in html
    assert "Escriba una dirección de correo electrónico como nombre@ejemplo.com." in html


def test_a_phone_request_taken_in_spanish_is_mailed_in_spanish(app, mailbox):
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    data = {"manner": "phone", "language": "es", "received_on": clock.today().isoformat(), "request_type": "delete",
            "first_name": "Luis", "last_name": "Ortega", "email": "luis@example.org", "declaration": "y",
            "declaration_signature": "Luis Ortega", "confirmed_by": "phone", "acknowledged_by": "email"}
    assert post_form(staff, "/staff/requests/new", data).status_code == 303
    req = _request(app)
    assert req.language == "es"
    # Intake sends no link to confirm: the acknowledgement goes out by email, in Spanish.
    assert f"Recibimos su solicitud: {req.reference}" in [m["Subject"] for m in mailbox.to("luis@example.org")]
    assert post_form(staff, "/staff/requests/new", {**data, "language": "fr"}).status_code == 422


def test_a_denial_names_its_basis_in_the_request_language(app, client, mailbox):
    post_form(client, "/requests/new?lang=es", request_form("access"), form_url="/requests/new?lang=es")
    req = _request(app)
    verify = link_in(mailbox.last(req.email), "/verify/")
    client.post(verify, data={"csrf_token": csrf_from(client.get(verify).get_data(as_text=True))})
    staff = app.test_client()
    sign_in(staff, make_staff(app, "support"))
    console = staff.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Identity could not be verified" in console  # the console stays English
    assert post_action(staff, req.reference, "deny", {"basis": "unverifiable", "explanation": "No coinciden los datos.",
                                                      "categories": "Datos de contacto"},
                       page=console).status_code == 303
    denial = mailbox.last(req.email)
    assert denial["Subject"] == f"Nuestra respuesta a la solicitud {req.reference}"
    assert "Motivo: No se pudo verificar la identidad" in body(denial) and "No coinciden los datos." in body(denial)


def test_a_lazy_label_is_translated_where_it_is_shown(app):
    """Labels defined at import (i18n.lazy_gettext) read the request's catalog: the page's language,
    the language a mail is rendered in inside that request, and the msgid outside any app."""
    from portal import i18n
    from portal.lifecycle import REQUEST_TYPES
    label = REQUEST_TYPES["delete"].label
    titled = i18n.lazy_gettext("Request %(reference)s", reference="PR-0000-0000")
    assert str(label) == "Delete my information"  # no app: as written
    with app.test_request_context("/?lang=es"):
        assert str(label) == "Eliminar mi información"
        with i18n.language("en"):
            assert str(label) == "Delete my information"
        assert str(label) == "Eliminar mi información" and str(titled) == "Solicitud PR-0000-0000"
    with app.app_context(), i18n.language("es"):  # the worker's mail, outside any request
        assert str(label) == "Eliminar mi información"
