"""Printed answers for requesters without an email address (§1798.130(a)(2), §7021(b)): a letter as a
PDF on the business's letterhead (its name, postal address and contact methods), the recipient's
postal address for a window envelope, the date, the subject and the words, and optionally sections
of labelled values (an access response printed from its package).

Built with fpdf2. Text is set in DejaVu Sans (LETTER_FONT_PATH, Debian's fonts-dejavu-core by
default) so any name prints as written; without that font the core Helvetica is used and a
character outside Latin-1 prints as "?" (start-up is not refused: the page version still works).
"""
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from fpdf import FPDF

from ...i18n import lazy_gettext as _l

log = logging.getLogger(__name__)

DEFAULT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@dataclass(frozen=True)
class Letterhead:
    name: str
    lines: tuple[str, ...]  # postal address, then contact methods


def letterhead() -> Letterhead:
    """The business's letterhead from configuration, its labels in the current language."""
    cfg = current_app.config
    address = tuple(line.strip() for line in str(cfg.get("ORG_POSTAL_ADDRESS") or "").splitlines() if line.strip())
    methods = [(_l("Email"), cfg["PRIVACY_EMAIL"]), (_l("Phone"), cfg["PRIVACY_PHONE"])]
    if cfg.get("PRIVACY_TOLL_FREE"):
        methods.append((_l("Toll-free"), cfg["PRIVACY_TOLL_FREE"]))
    contacts = [f"{label}: {value}" for label, value in methods]
    return Letterhead(name=cfg["ORG_NAME"], lines=address + (" · ".join(str(c) for c in contacts),))


class _Page(FPDF):
    def __init__(self, footer_text: str):
        super().__init__(format="letter", unit="mm")
        self.footer_text = footer_text

    def footer(self):
        self.set_y(-15)
        self.set_font(self.font_family, "", 8)
        self.cell(0, 8, f"{self.footer_text} · {self.page_no()}/{{nb}}", align="C")


def _fonts(pdf: FPDF) -> tuple[str, bool]:
    """The family to use, and whether it is Unicode."""
    regular = Path(current_app.config.get("LETTER_FONT_PATH") or DEFAULT_FONT)
    bold = regular.with_name(regular.stem + "-Bold" + regular.suffix)
    if regular.is_file():
        pdf.add_font("Letter", "", str(regular))
        pdf.add_font("Letter", "B", str(bold if bold.is_file() else regular))
        return "Letter", True
    log.warning("letter font %s not found: printing in Helvetica (Latin-1 only)", regular)
    return "Helvetica", False


def letter_pdf(*, head: Letterhead, recipient: list[str], dated: str, subject: str, body: str,
               reference: str, language: str, created: datetime,
               sections: list[tuple[str, list[list[tuple[str, str]]]]] = ()) -> bytes:
    """The letter's PDF bytes. `sections`: (heading, records), each record a list of (label, value)."""
    pdf = _Page(reference)
    family, unicode_font = _fonts(pdf)

    def text(value) -> str:
        value = str(value)
        return value if unicode_font else value.encode("latin-1", "replace").decode("latin-1")

    pdf.set_title(text(subject))
    pdf.set_author(text(head.name))
    pdf.set_lang(language)
    pdf.set_creation_date(created)
    pdf.set_margins(25, 20, 25)
    pdf.set_auto_page_break(True, margin=20)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font(family, "B", 14)
    pdf.multi_cell(0, 7, text(head.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    for line in head.lines:
        pdf.multi_cell(0, 4.5, text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.set_font(family, "", 11)
    for line in recipient:
        pdf.multi_cell(0, 5, text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.multi_cell(0, 5, text(dated), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, "B", 11)
    pdf.multi_cell(0, 5.5, text(subject), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(family, "", 10.5)
    pdf.multi_cell(0, 5, text(body.strip()), new_x="LMARGIN", new_y="NEXT")
    for heading, records in sections:
        pdf.ln(4)
        pdf.set_font(family, "B", 11)
        pdf.multi_cell(0, 5.5, text(heading), new_x="LMARGIN", new_y="NEXT")
        for record in records:
            pdf.ln(1.5)
            for label, value in record:
                pdf.set_font(family, "B", 9.5)
                pdf.multi_cell(0, 4.5, text(label), new_x="LMARGIN", new_y="NEXT")
                pdf.set_font(family, "", 9.5)
                pdf.set_x(pdf.l_margin + 5)
                pdf.multi_cell(0, 4.5, text(value), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
