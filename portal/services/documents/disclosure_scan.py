"""§7024(d): what an access response must never disclose, found in a JSON or CSV response file.

Never disclosed: a Social Security number, a driver's licence or other government-issued
identification number, a financial account number, a health-insurance or medical identification
number, an account password, security questions and answers (and unique biometric data). A response
may say that such data was collected ("collected: yes"), never the value. The scan looks at JSON
keys and values (at any depth) and at CSV column names and cells: a field whose name says what it
holds, or a value shaped like one (an SSN, dashed or not, a payment card number that passes the Luhn
check), or a value that labels itself ("Member ID: XJ448812"), or a value under a generic name
("value", "number", "id") beside a field that says what it is ({"type": "Member ID", "value": ...}, or
a CSV row with those columns). `text_findings` reads staff's free text the same way.
"""
import csv
import io
import json
import re
from dataclasses import dataclass

from ...i18n import lazy_gettext as _l

MASK = "collected: yes"

# Kinds of data, with the words a field name uses for them (compared after lowercasing and
# turning every run of non-letters into "_").
KINDS = {
    "ssn": (_l("a Social Security number"),
            re.compile(r"(^|_)(ssn|ss_?no|social_?security(_?(no|num|number))?|sin|itin|tin|taxpayer_?id)(_|$)")),
    "government_id": (_l("a driver's licence or other government ID number"),
                      re.compile(r"(^|_)(driver'?s?_?licen[cs]e|dl_?(no|num|number)?|licen[cs]e_?(no|num|number)|"
                                 r"passport|government_?id|gov_?id|state_?id|national_?id|alien_?(no|number)|"
                                 r"a_?number|id_?card)(_|$)")),
    "financial_account": (_l("a financial account number"),
                          re.compile(r"(^|_)(account_?(no|num|number)|acct_?(no|num|number)?|bank_?account|iban|"
                                     r"routing(_?number)?|aba|card_?(no|num|number)|credit_?card|debit_?card|pan|"
                                     r"cvv|cvc)(_|$)")),
    "medical_id": (_l("a health-insurance or medical ID number"),
                   re.compile(r"(^|_)(mrn|medical_?record(_?(no|num|number))?|medical_?id|patient_?id|member_?id|"
                              r"subscriber_?id|insurance_?id|policy_?(no|num|number)|health_?plan_?id|"
                              r"medicare(_?id|_?number)?|medi_?cal(_?id|_?number)?|mbi|hicn|beneficiary_?id|"
                              r"group_?(no|num|number))(_|$)")),
    "password": (_l("an account password"),
                 re.compile(r"(^|_)(password|passwd|pwd|passcode|pass_?phrase|pin|password_?hash)(_|$)")),
    "security_qa": (_l("a security question or answer"),
                    re.compile(r"(^|_)(security_?(question|answer|q|a)|secret_?(question|answer)|"
                               r"challenge_?(question|answer)|mother'?s?_?maiden_?name)(_|$)")),
    "biometric": (_l("biometric data"),
                  re.compile(r"(^|_)(biometric|fingerprint|face_?print|retina|iris_?scan|voice_?print)(_|$)")),
}
_SSN_VALUE = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)")
_CARD_VALUE = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# An SSN without dashes: nine digits (or 3-2-4 with spaces or dots) standing alone as the whole value.
_SSN_BARE = re.compile(r"^\s*(?!000|666|9\d\d)\d{3}[ .]?(?!00)\d{2}[ .]?(?!0000)\d{4}\s*$")
# A value that names itself in free text: "SSN 123456789", "Member ID: XJ448812".
_LABELLED = re.compile(r"(?i)\b(ssn|social security(?: number| no\.?)?|member (?:id|number)|subscriber id|"
                       r"medical record(?: number| no\.?)?|mrn|insurance id|policy (?:number|no\.?)|"
                       r"driver'?s licen[cs]e(?: number| no\.?)?|passport(?: number| no\.?)?|"
                       r"(?:bank )?account (?:number|no\.?))\s*(?:is|:|#|-)?\s*([A-Z0-9][A-Z0-9 -]{3,}[0-9])")
_SSN_IN_TEXT = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-?(?!00)\d{2}-?(?!0000)\d{4}(?![\d-])")
# Names that say nothing of what a field holds: the field beside them may (`_labelled_by_sibling`).
_GENERIC = re.compile(r"^(value|values|number|no|num|id|identifier|code|data|text|detail|details)$")
_LABEL_KEYS = re.compile(r"^(type|kind|label|name|field|description|identifier_?type|id_?type|what)$")


@dataclass(frozen=True)
class Finding:
    field: str  # the JSON path or the CSV column where it was found
    kind: str

    @property
    def label(self) -> str:
        return str(KINDS[self.kind][0])


def _normal(name: str) -> str:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1_\2", str(name))
    return re.sub(r"[^a-z0-9']+", "_", spaced.lower()).strip("_")


def kind_of_name(name: str) -> str | None:
    normal = _normal(name)
    for kind, (_label, pattern) in KINDS.items():
        if pattern.search(normal):
            return kind
    return None


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def kind_of_value(value) -> str | None:
    """An SSN written as 123-45-6789 (or alone as 123456789), a value labelled as one of the kinds,
    or a payment card number (13-19 digits, Luhn-valid)."""
    if not isinstance(value, str):
        return None
    if _SSN_VALUE.search(value) or _SSN_BARE.match(value):
        return "ssn"
    labelled = _LABELLED.search(value)
    if labelled:
        kind = kind_of_name(labelled.group(1))
        if kind == "ssn" and not _SSN_IN_TEXT.search(labelled.group(2)):
            kind = None
        if kind:
            return kind
    for match in _CARD_VALUE.finditer(value):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn(digits):
            return "financial_account"
    return None


def _labelled_by_sibling(pairs) -> str | None:
    """The kind a record's label field names ({"type": "Member ID", ...}), when it has one."""
    for name, item in pairs:
        if isinstance(item, str) and _LABEL_KEYS.match(_normal(name)):
            kind = kind_of_name(item)
            if kind:
                return kind
    return None


def _walk(value, path: str, found: list, mask: bool):
    """JSON: every key and every scalar value; returns the value, masked where asked."""
    if isinstance(value, dict):
        out = {}
        beside = _labelled_by_sibling(value.items())
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            kind = kind_of_name(key) or (beside if _GENERIC.match(_normal(key)) else None)
            if kind and item not in (None, "", [], {}):
                found.append(Finding(here, kind))
                out[key] = MASK
            else:
                out[key] = _walk(item, here, found, mask)
        return out
    if isinstance(value, list):
        return [_walk(item, f"{path}[{i}]", found, mask) for i, item in enumerate(value)]
    kind = kind_of_value(value)
    if kind:
        found.append(Finding(path or "(value)", kind))
        return MASK
    return value


def scan(kind: str, data: bytes) -> tuple[list[Finding], bytes]:
    """The findings in a response file, and the file with every finding masked ("collected: yes")."""
    text = data.decode("utf-8-sig")
    found: list[Finding] = []
    if kind == "json":
        masked = _walk(json.loads(text), "", found, True)
        return found, (json.dumps(masked, indent=2, ensure_ascii=False) + "\n").encode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    flagged = {i: kind_of_name(name) for i, name in enumerate(header)}
    out_rows = [header]
    for row in body:
        out = list(row)
        beside = _labelled_by_sibling(zip(header, row))
        for i, cell in enumerate(row):
            column = header[i] if i < len(header) else f"column {i + 1}"
            by_name = flagged.get(i) or (beside if _GENERIC.match(_normal(column)) else None)
            kind_here = by_name if cell.strip() else None
            kind_here = kind_here or kind_of_value(cell)
            if kind_here:
                found.append(Finding(column, kind_here))
                out[i] = MASK
        out_rows.append(out)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(out_rows)
    unique = list(dict.fromkeys(found))
    return unique, buffer.getvalue().encode()


def text_findings(text: str | None, field: str) -> list[Finding]:
    """Staff's free text (a response message, a categories answer): what it must not disclose."""
    found = []
    for line in (text or "").splitlines():
        kind = kind_of_value(line)
        if kind:
            found.append(Finding(field, kind))
    return list(dict.fromkeys(found))
