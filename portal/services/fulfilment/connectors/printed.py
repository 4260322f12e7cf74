"""The access response printed for a requester without an email address (§1798.130(a)(2)): the
package's JSON (`fulfil package`'s) passed through the §7024(d) disclosure scan once more, then set
as a letter on the business's letterhead, one section per "<dataset>:<collection>", one block per row,
in the request's language."""
import json

from flask_babel import gettext as _

from .... import i18n
from ....models import PrivacyRequest
from ...cases import letters
from ...documents import disclosure_scan


def _value(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def sections(package_json: bytes) -> tuple[list, int]:
    """The package's data as (heading, records) sections, after the scan; and how many values it masked."""
    findings, scanned = disclosure_scan.scan("json", package_json)
    data = json.loads(scanned).get("data") or {}
    found = []
    for key, rows in data.items():
        records = [[(str(field), _value(value)) for field, value in row.items()]
                   for row in rows if isinstance(row, dict)]
        found.append((key, records))
    return found, len(findings)


def access_response_pdf(req: PrivacyRequest, package_json: bytes) -> bytes:
    """The printable access response of `req`, from its package."""
    parts, _masked = sections(package_json)
    with i18n.language(req.language):
        subject = _("The personal information we hold about you: %(reference)s", reference=req.reference)
        body = _("This is a copy of the personal information about you that we found in our systems for your "
                 "request %(reference)s, one section per place it is kept. Where it says \"%(mask)s\", we hold "
                 "that information but the law does not let us disclose it (for example a Social Security, "
                 "account or medical ID number).", reference=req.reference, mask=disclosure_scan.MASK)
        if not parts:
            body += "\n\n" + _("We found no personal information about you in our systems.")
    return letters.printable(req, subject=subject, body=body, sections=parts)
