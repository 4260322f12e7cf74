"""The privacy policy holds every element §7011(e) (and §1798.100(a)(3), §1798.130(a)(5)) asks of it, in
English and Spanish, built from configuration and the shipped Billgenix map; the business's own text
is kept as written; what only the business can say is left out (and warned about) until it says it."""
import logging
import re
from html import unescape
from pathlib import Path

import pytest

from portal.services.fulfilment import datamap_check

from .test_toll_free import portal

MAP = Path(__file__).resolve().parents[2] / "examples" / "billgenix" / "datamap"
TOLL_FREE = "(888) 555-0199"
ADDRESS = "Billgenix, Attn: Privacy\n100 Example Way\nOntario, CA 91761"

# (the element, what the English page shows, what the Spanish page shows)
ELEMENTS = [
    ("(e)(1)(A) categories collected in the last 12 months", "Personal information we collected in the last 12 months",
     "Información personal que recopilamos en los últimos 12 meses"),
    ("(e)(1)(A) a category the map holds", "Identifiers", "Identificadores"),
    ("(e)(1)(A) a sensitive category the map holds", "Health information", "Información de salud"),
    ("(e)(1)(B) the categories of sources", "Claims administrators and payers", "Administradores de reclamos y pagadores"),
    ("(e)(1)(C) the purposes", "To process, submit and track bills and liens",
     "Para procesar, presentar y dar seguimiento a facturas y gravámenes"),
    ("§1798.100(a)(3) how long each category is kept", "Web analytics: 13 months", "Web analytics: 13 meses"),
    ("(e)(1)(D)-(E) sold or shared, or a statement that nothing is",
     "We do not sell or share personal information, and we have not sold or shared it in the last 12 months.",
     "No vendemos ni compartimos información personal, y no la hemos vendido ni compartido en los últimos 12 meses."),
    ("(e)(1)(F) consumers under 16", "consumers under 16 years of age", "consumidores menores de 16 años"),
    ("(e)(1)(G)-(H) disclosed for a business purpose, to whom",
     "Internet or other electronic network activity: Web analytics service provider",
     "Actividad en internet u otras redes electrónicas: Proveedor de servicios de análisis web"),
    ("(e)(1)(I) sensitive information used only as §7027(m) allows", "11 CCR §7027(m)", "11 CCR §7027(m)"),
    ("(e)(2) right to know", "Right to know.", "Derecho a saber."),
    ("(e)(2) right to delete", "Right to delete.", "Derecho a eliminar."),
    ("(e)(2) right to correct", "Right to correct.", "Derecho a corregir."),
    ("(e)(2) right to opt out of sale or sharing", "Right to opt out of sale or sharing.",
     "Derecho a optar por que no se venda ni se comparta."),
    ("(e)(2) right to limit", "Right to limit the use of sensitive personal information.",
     "Derecho a limitar el uso de información personal confidencial."),
    ("(e)(2) no retaliation", "Right not to be treated differently.", "Derecho a no recibir un trato diferente."),
    ("(e)(3)(A)-(B) the online form", 'href="/requests/new"', 'href="/requests/new"'),
    ("(e)(3)(A) the toll-free number", f"toll-free at {TOLL_FREE}", f"sin costo al {TOLL_FREE}"),
    ("(e)(3)(A) email", "privacy@billgenix.example", "privacy@billgenix.example"),
    ("(e)(3)(A) phone", "(909) 698-8120", "(909) 698-8120"),
    ("(e)(3)(A) post", "100 Example Way, Ontario, CA 91761", "100 Example Way, Ontario, CA 91761"),
    ("(e)(3)(C) how requests are verified", "How we verify your request", "Cómo verificamos su solicitud"),
    ("(e)(3)(C) the declaration for specific pieces", "3 matching details and a declaration signed under penalty of perjury",
     "3 datos que coincidan y una declaración firmada bajo pena de perjurio"),
    ("(e)(3)(D) opt-out preference signals", "Global Privacy Control (GPC)", "Control Global de Privacidad (GPC)"),
    ("(e)(3)(E) authorized agents", 'href="/agent/requests/new"', 'href="/agent/requests/new"'),
    ("(e)(3)(E) power of attorney", "power of attorney", "poder notarial"),
    ("(e)(4) contact for questions", 'href="/inquiries/new"', 'href="/inquiries/new"'),
    ("(e)(5) the date last updated", "Effective November 1, 2026", "Vigente desde el 1 de noviembre de 2026"),
    ("§7102 the metrics", 'href="/privacy/metrics"', 'href="/privacy/metrics"'),
]


@pytest.fixture
def policy_config(app_config):
    return {**app_config, "DATAMAP_PATH": str(MAP), "PRIVACY_TOLL_FREE": TOLL_FREE, "ORG_POSTAL_ADDRESS": ADDRESS,
            "SENSITIVE_USE_BEYOND_7027M": False, "PUBLISH_METRICS": True}


def _page(app, lang: str) -> str:
    return re.sub(r"\s+", " ", unescape(app.test_client().get(f"/privacy?lang={lang}").get_data(as_text=True)))


@pytest.mark.parametrize("lang,column", [("en", 1), ("es", 2)])
def test_every_section_7011_element_is_on_the_page(policy_config, lang, column):
    with portal(policy_config) as app:
        page = _page(app, lang)
    missing = [element[0] for element in ELEMENTS if element[column] not in page]
    assert not missing, missing


def test_the_business_text_is_kept_as_written(policy_config):
    with portal(policy_config) as app:
        page = _page(app, "en")
    assert "Business Associate Agreement" in page and "Changes to this policy" in page
    assert page.count("Your California privacy rights") == 1  # generated once, not also in the business's text


def test_selling_lists_what_and_to_whom_and_the_under_16_answer(policy_config, tmp_path):
    sells = tmp_path / "map"
    sells.mkdir()
    for path in MAP.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name == "systems.yml":
            text = text.replace("    disclosed_to:\n      - en: Web analytics service provider",
                                "    sold_or_shared_to:\n      - en: Advertising networks\n        es: Redes de publicidad\n"
                                "    disclosed_to:\n      - en: Web analytics service provider")
        (sells / path.name).write_text(text, encoding="utf-8")
    config = {**policy_config, "DATAMAP_PATH": str(sells), "SELLS_OR_SHARES": True, "SELLS_OR_SHARES_UNDER_16": False}
    with portal(config) as app:
        page = _page(app, "en")
    assert "In the last 12 months we sold or shared these categories" in page
    assert "Internet or other electronic network activity: Advertising networks" in page
    assert "We do not have actual knowledge that we sell or share the personal information of consumers under 16" in page
    assert 'href="/requests/new?type=opt_out"' in page


def test_what_the_business_has_not_said_is_left_out_and_warned(app_config, caplog):
    config = {**app_config, "DATAMAP_PATH": str(MAP), "SELLS_OR_SHARES": True}
    with caplog.at_level(logging.WARNING, logger="portal.config"), portal(config) as app:
        page = _page(app, "en")
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "PORTAL_SENSITIVE_USE_BEYOND_7027M" in warned and "PORTAL_SELLS_OR_SHARES_UNDER_16" in warned
    assert 'class="sensitive-use"' not in page and 'class="under-16"' not in page


def test_the_7062f_statement_where_the_business_gives_it(policy_config):
    reason = {"en": "We hold only pseudonymous web identifiers.", "es": "Solo tenemos identificadores web seudónimos."}
    with portal({**policy_config, "NO_REASONABLE_VERIFICATION": reason}) as app:
        assert "no reasonable method to verify" in _page(app, "en") and reason["en"] in _page(app, "en")
        assert reason["es"] in _page(app, "es")
    with portal(policy_config) as app:
        assert "no reasonable method to verify" not in _page(app, "en")


def test_datamap_check_names_what_the_policy_lacks(policy_config, tmp_path):
    bare = tmp_path / "map"
    bare.mkdir()
    for path in MAP.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name == "systems.yml":
            text = text.split("  - dataset: billgenix_marketing")[0].split("    sources:")[0]
            text += "\n  - dataset: billgenix_marketing\n    name: Marketing list\n    owner: m@billgenix.example\n"
            text += "    sources: [Trade shows]\n    purposes: {en: Newsletters}\n    retention: {en: 1 year}\n"
        (bare / path.name).write_text(text, encoding="utf-8")
    with portal({**policy_config, "DATAMAP_PATH": str(bare)}) as app, app.app_context():
        lines = [f.line() for f in datamap_check.check_configured_map(probe_connections=False).findings]
    claims = [line for line in lines if "system billgenix_claims" in line]
    assert any("no sources" in line and "§7011(e)(1)(B)" in line for line in claims), claims
    assert any("no retention" in line and "§1798.100(a)(3)" in line for line in claims)
    assert any("system billgenix_marketing" in line and "no 'es' version" in line for line in lines)


def test_a_policy_text_of_the_wrong_shape_is_a_map_error(policy_config, tmp_path):
    bad = tmp_path / "map"
    bad.mkdir()
    for path in MAP.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name == "systems.yml":
            text = text.replace("    retention:\n      en: 13 months\n      es: 13 meses", "    retention: [13 months]")
        (bad / path.name).write_text(text, encoding="utf-8")
    with portal({**policy_config, "DATAMAP_PATH": str(bad)}) as app, app.app_context():
        report = datamap_check.check_configured_map(probe_connections=False)
        lines = [f.line() for f in report.findings]
        page = _page(app, "en")
    assert any(line.startswith("error:") and "retention must be text or a mapping of language codes" in line
               for line in lines), lines
    web = report.datamap.system_for("billgenix_web")
    assert web is not None and web.retention is None and web.sources  # the system still works, its words too
    assert "Web analytics: 13 months" not in page and "To count visits and improve our websites" in page
