"""In Spanish, in a real Chromium, with axe: the requester journey and the preference center."""
import re

from playwright.sync_api import expect

from ..support import body, link_in
from .axe import assert_no_axe_violations

EMAIL = "maria.lopez@example.org"


def test_spanish_requester_journey(page, live_server, csp_violations):
    page.goto(live_server.url + "/")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sus derechos de privacidad con Billgenix")
    assert_no_axe_violations(page)

    page.get_by_role("link", name="Eliminar mi información").click()
    expect(page.get_by_role("heading", name="Hacer una solicitud de privacidad")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Enviar mi solicitud").click()
    expect(page.get_by_role("heading", name="Por favor, corrija lo siguiente")).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_label("Nombre", exact=True).fill("María")
    page.get_by_label("Apellido", exact=True).fill("López")
    page.get_by_label("Correo electrónico", exact=True).fill(EMAIL)
    page.get_by_label("Declaro bajo pena de perjurio", exact=False).check()
    page.get_by_label("Escriba su nombre completo como firma").fill("María López")
    page.get_by_role("button", name="Enviar mi solicitud").click()
    expect(page.get_by_role("heading", name="Revise su correo electrónico")).to_be_visible()
    assert_no_axe_violations(page)

    [mail] = live_server.mail_to(EMAIL)
    assert mail["Subject"] == "Confirme su solicitud de privacidad"
    page.goto(live_server.url + link_in(mail, "/verify/"))
    expect(page.locator("html")).to_have_attribute("lang", "es")  # the cookie remembers the choice
    assert_no_axe_violations(page)
    page.get_by_role("button", name="Confirmar mi solicitud").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"Solicitud PR-[0-9A-Z]{4}-[0-9A-Z]{4}"))
    expect(page.get_by_text("Verificando la identidad").first).to_be_visible()
    expect(page.get_by_text(re.compile(r"\d{1,2} de [a-z]+ de \d{4}")).first).to_be_visible()
    assert_no_axe_violations(page)
    # The acknowledgement (then, as no records match here, the mail asking for more details).
    ack = next(m for m in live_server.mail_to(EMAIL, count=2) if m["Subject"].startswith("Recibimos su solicitud: PR-"))
    assert "Qué sigue" in body(ack)

    page.get_by_role("navigation", name="Idioma").get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_text("Verifying identity").first).to_be_visible()
    assert csp_violations == []


def test_spanish_preference_center(page, live_server, csp_violations):
    page.goto(live_server.url + "/preferences?lang=es")
    expect(page.get_by_role("heading", level=1)).to_have_text("Preferencias de cookies")
    assert_no_axe_violations(page)
    page.get_by_role("switch", name="Analíticas").check()
    page.get_by_role("button", name="Guardar opciones").click()
    expect(page.get_by_text("Sus opciones de cookies se guardaron", exact=False).first).to_be_visible()
    assert_no_axe_violations(page)
    page.get_by_role("link", name="Ver el historial de sus opciones").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Historial de sus opciones de cookies")
    assert_no_axe_violations(page)

    # The banner, in Spanish, on a page of a visitor who has not chosen yet.
    page.context.clear_cookies()
    page.goto(live_server.url + "/status?lang=es")
    banner = page.get_by_role("region", name="Sus opciones de cookies")
    expect(banner).to_be_visible()
    assert_no_axe_violations(page)
    banner.get_by_role("button", name="Rechazar todas").click()
    expect(page.get_by_role("region", name="Sus opciones de cookies se guardaron")).to_be_visible()
    assert_no_axe_violations(page)
    assert csp_violations == []
