"""The access package: what the traversal found, as JSON, CSV and a readable report, after the
§7024(d) disclosure scan.

JSON is CONTRACT.md's shape: `request` (reference, type, generated_at) and `data` keyed
`"<dataset>:<collection>"`, lists of row objects with the included fields. A field whose data
category is one §7024(d) forbids disclosing (government IDs, financial account and card numbers,
log-in credentials, biometric data, health-insurance and medical record IDs) is said to be held
("collected: yes"), never shown; the disclosure scan then masks whatever its own detectors find by
name or by value. The CSV files (one per collection, in a zip) and the HTML report (grouped by CCPA
category, in the request's language) are made from the scanned JSON, so they cannot show more.
Bytes are returned; storing them is the plan's business.
"""
import csv
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import render_template

from ....i18n import language as in_language
from ....i18n import lazy_gettext as _l
from ...documents import disclosure_scan
from ..ccpa_categories import prefix_length
from ..datamap import DataMap
from .traversal import AccessResult

# Data categories whose values §7024(d) never lets an access response show.
NEVER_DISCLOSED = ("user.government_id", "user.financial.account_number", "user.financial.bank_account",
                   "user.financial.credit_card", "user.authorization", "user.biometric",
                   "user.health_and_medical.insurance_beneficiary_id", "user.health_and_medical.record_id")

CATEGORY_LABELS = {
    "identifiers": _l("Identifiers"),
    "customer_records": _l("Personal information listed in the California Customer Records statute"),
    "protected_classifications": _l("Characteristics of protected classifications"),
    "commercial": _l("Commercial information"),
    "biometric": _l("Biometric information"),
    "internet_activity": _l("Internet or other electronic network activity"),
    "geolocation": _l("Geolocation data"),
    "sensory": _l("Audio, electronic, visual or similar information"),
    "professional": _l("Professional or employment-related information"),
    "education": _l("Education information"),
    "inferences": _l("Inferences drawn to create a profile"),
    "sensitive_government_id": _l("Social Security, driver's license, state ID or passport number"),
    "sensitive_account_login": _l("Account log-in and credentials"),
    "sensitive_precise_geolocation": _l("Precise geolocation"),
    "sensitive_origin_beliefs": _l("Racial or ethnic origin, citizenship, beliefs or union membership"),
    "sensitive_communications": _l("Contents of mail, email and text messages"),
    "sensitive_genetic": _l("Genetic data"),
    "sensitive_biometric": _l("Biometric information used to identify you"),
    "sensitive_health": _l("Health information"),
    "sensitive_sex_life": _l("Sex life or sexual orientation"),
    "other": _l("Other information kept with it"),
}


@dataclass(frozen=True)
class AccessPackage:
    json: bytes
    csv_zip: bytes
    html: bytes
    withheld: tuple[tuple[str, str], ...]  # (where, what kind): held, never shown


def _never_disclosed(category: str) -> bool:
    return any(prefix_length(prefix, category) for prefix in NEVER_DISCLOSED)


def build_package(*, reference: str, request_type: str, generated_at: datetime, results: Sequence[AccessResult],
                  datamap: DataMap, language: str = "en") -> AccessPackage:
    """The package's three files for the requester, every value through the disclosure scan."""
    data, withheld = {}, []
    for result in results:
        mapped = datamap.dataset(result.dataset)
        for collection in result.collections:
            fields = mapped.collection(collection.key.partition(":")[2])
            hidden = {f.name for f in fields.fields if any(_never_disclosed(c) for c in f.data_categories)}
            rows = []
            for number, row in enumerate(collection.rows):
                masked = {name: (disclosure_scan.MASK if name in hidden and value not in (None, "") else value)
                          for name, value in row.items()}
                withheld += [(f"data.{collection.key}[{number}].{n}", "data category") for n in hidden
                             if masked.get(n) == disclosure_scan.MASK and row.get(n) != disclosure_scan.MASK]
                rows.append(masked)
            data[collection.key] = rows
    document = {"request": {"reference": reference, "type": request_type, "generated_at": generated_at.isoformat()},
                "data": data}
    findings, scanned = disclosure_scan.scan("json", json.dumps(document, ensure_ascii=False).encode())
    withheld += [(f.field, f.kind) for f in findings]
    scanned_data = json.loads(scanned)["data"]
    return AccessPackage(json=scanned, csv_zip=_csv_zip(scanned_data),
                         html=_html(document["request"], scanned_data, datamap, language).encode(),
                         withheld=tuple(withheld))


def _csv_zip(data: dict) -> bytes:
    """One CSV file per collection (`dataset-collection.csv`), each scanned again on its own."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, rows in data.items():
            columns = list(dict.fromkeys(name for row in rows for name in row)) or ["(no rows)"]
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([["" if row.get(c) is None else row.get(c) for c in columns] for row in rows])
            _findings, scanned = disclosure_scan.scan("csv", text.getvalue().encode())
            archive.writestr(key.replace(":", "-") + ".csv", scanned)
    return buffer.getvalue()


def _html(request: dict, data: dict, datamap: DataMap, language: str) -> str:
    """The readable report: per CCPA category, what each system holds, field by field."""
    groups: dict[str, list] = {}
    for key, rows in data.items():
        dataset_key, _sep, name = key.partition(":")
        collection = datamap.dataset(dataset_key).collection(name)
        system = datamap.system_for(dataset_key)
        for field in collection.fields:
            values = [row[field.name] for row in rows if row.get(field.name) not in (None, "")]
            if field.name not in (rows[0] if rows else {}) or not values:
                continue
            categories = field.ccpa_categories
            group = categories[0].key if categories else "other"
            groups.setdefault(group, []).append({"system": system.name if system else dataset_key,
                                                 "collection": name, "field": field.name, "values": values})
    order = [k for k in CATEGORY_LABELS if k in groups]
    with in_language(language):
        return render_template("fulfilment/access_report.html", request_=request, labels=CATEGORY_LABELS,
                               groups=[(CATEGORY_LABELS[k], groups[k]) for k in order])


def files_from_json(document: bytes, *, datamap: DataMap, language: str = "en") -> tuple[bytes, bytes]:
    """The CSV zip and the HTML report of a stored (already scanned) package JSON."""
    parsed = json.loads(document)
    return _csv_zip(parsed["data"]), _html(parsed["request"], parsed["data"], datamap, language).encode()


def one_sheet_csv(document: bytes) -> bytes:
    """The package's rows as one CSV sheet (a `collection` column first), scanned again."""
    data = json.loads(document)["data"]
    columns = list(dict.fromkeys(name for rows in data.values() for row in rows for name in row))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["collection", *columns])
    for key, rows in data.items():
        writer.writerows([[key, *("" if row.get(c) is None else row.get(c) for c in columns)] for row in rows])
    return disclosure_scan.scan("csv", text.getvalue().encode())[1]
