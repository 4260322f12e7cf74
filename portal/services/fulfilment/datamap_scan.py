"""`datamap scan`: a starting fideslang dataset drafted from a live database, for a person to review.

Tables become collections and columns fields; primary keys are `fides_meta.primary_key` and foreign
keys `fides_meta.references` (`direction: to` when the referring table has an identity of its own,
`from` when the identity is found on the referenced side). Data categories are guessed from the
column's name, then from a small sample of its values (emails, phone numbers, dates of birth, ZIP
codes, and the §7024(d) detectors' SSNs, card and account numbers); every field says in its
description how it was guessed, and a column nothing recognises is `system.operations`, also to
review. Email, phone and subject_id columns are marked as identities. Sampled values stay in memory.
"""
import re
from datetime import date, datetime, timedelta

import yaml
from sqlalchemy import Boolean, Float, Integer, Numeric, column, inspect, select, table

from ... import clock, normalize
from ..documents import disclosure_scan
from . import connections

SAMPLE_ROWS = 50
MOSTLY = 0.8  # the share of sampled values that must look alike for a guess
REVIEW_NAME = "guessed from the column name; review"
REVIEW_VALUES = "guessed from sample values; review"
REVIEW_KEY = "a key column: system.operations; review"
REVIEW_NONE = "not guessed: system.operations; review"

# The §7024(d) scan's kinds of field name, as data categories.
_DISCLOSURE_KINDS = {
    "ssn": "user.government_id.national_identification_number",
    "government_id": "user.government_id",
    "financial_account": "user.financial",
    "medical_id": "user.health_and_medical.record_id",
    "password": "user.authorization.password",
    "security_qa": "user.authorization.credentials",
    "biometric": "user.biometric",
}
# Column names (lower case, words joined by "_"), first match wins: (pattern, category, identity).
# A pattern matches whole words of the name; `^...$` ones the whole name ("name", not "provider_name").
_NAMES = [(re.compile(words if words.startswith("^") else rf"(^|_)({words})(_|$)"), category, identity)
          for words, category, identity in (
    (r"e_?mail(_?address)?", "user.contact.email", "email"),
    (r"phone(_?(no|num|number))?|mobile|cell(_?phone)?|telephone|tel", "user.contact.phone_number", "phone_number"),
    (r"subject_?id", "user.unique_id", "subject_id"),
    (r"first_?name|given_?name|fname|forename", "user.name.first", None),
    (r"last_?name|surname|family_?name|lname", "user.name.last", None),
    (r"full_?name|display_?name|contact_?name|person_?name|customer_?name|claimant_?name|patient_?name",
     "user.name", None),
    (r"^name$", "user.name", None),
    (r"dob|date_?of_?birth|birth_?date|birthday", "user.demographic.date_of_birth", None),
    (r"ip(_?addr(ess)?)?|remote_?addr", "user.device.ip_address", None),
    (r"cookie(_?id)?|anonymous_?id|visitor_?id|client_?id", "user.device.cookie_id", None),
    (r"device_?id|idfa|gaid|advertising_?id", "user.device.device_id", None),
    (r"user_?agent", "user.device", None),
    (r"zip(_?code)?|postal_?code|post_?code", "user.contact.address.postal_code", None),
    (r"street(_?address)?|address(_?line)?(_?[12])?", "user.contact.address.street", None),
    (r"city|town", "user.contact.address.city", None),
    (r"state|province", "user.contact.address.state", None),
    (r"country", "user.contact.address.country", None),
    (r"employer(_?name)?|company|workplace", "user.workplace", None),
    (r"job_?title|occupation", "user.job_title", None),
    (r"gender|sex", "user.demographic.gender", None),
    (r"user_?name|login", "user.account.username", None),
    (r"lat(itude)?|lon(gitude)?|lng", "user.location.precise", None),
    (r"url|page(_?url)?|referr?er|search_?query", "user.behavior.browsing_history", None),
    (r"diagnos[ie]s(_?code)?|icd(_?10)?(_?code)?|procedure(_?code)?|cpt(_?code)?|treatment|body_?part|"
     r"injury|medication|symptoms?", "user.health_and_medical", None),
    (r"race|ethnicity", "user.demographic.race_ethnicity", None),
    (r"religion", "user.demographic.religious_belief", None),
    (r"marital_?status", "user.demographic.marital_status", None),
    (r"photo|avatar|selfie", "user.content.self_image", None),
    (r"message|body|comment", "user.content", None),
)]
_CARD_WORDS = re.compile(r"(^|_)(card|credit|debit|pan|cvv|cvc)")
_BANK_WORDS = re.compile(r"(^|_)(bank|iban|routing|aba)")
_INSURANCE_WORDS = re.compile(r"(^|_)(insurance|member|subscriber|policy|medicare|medi_?cal|mbi|hicn|beneficiary|group)")
_EMAIL_VALUE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_ZIP_VALUE = re.compile(r"^\d{5}(-\d{4})?$")
_PHONE_SHAPE = re.compile(r"^\+?[\d\s().-]{10,20}$")


def snake(name: str) -> str:
    """A column name as lower-case words joined by "_" (camelCase split)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1_\2", str(name))
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def guess_from_name(name: str) -> tuple[str, str | None] | None:
    """(data category, identity or None) suggested by a column's name; None: the name says nothing."""
    kind = disclosure_scan.kind_of_name(name)
    words = snake(name)
    if kind == "financial_account":
        category = ("user.financial.credit_card" if _CARD_WORDS.search(words) else
                    "user.financial.bank_account" if _BANK_WORDS.search(words) else "user.financial")
        return category, None
    if kind == "medical_id" and _INSURANCE_WORDS.search(words):
        return "user.health_and_medical.insurance_beneficiary_id", None
    if kind:
        return _DISCLOSURE_KINDS[kind], None
    for pattern, category, identity in _NAMES:
        if pattern.search(words):
            return category, identity
    return None


def guess_from_values(values: list) -> tuple[str, str | None] | None:
    """(data category, identity or None) suggested by sampled values; None: nothing stands out."""
    present = [v for v in values if v not in (None, "")]
    if not present:
        return None
    texts = [v.strip() for v in present if isinstance(v, str)]
    for value in texts:
        kind = disclosure_scan.kind_of_value(value)
        if kind == "ssn":
            return _DISCLOSURE_KINDS["ssn"], None
        if kind == "financial_account":
            return "user.financial.credit_card", None
    if _mostly(texts, present, _EMAIL_VALUE.match):
        return "user.contact.email", "email"
    if _mostly(texts, present, lambda v: _PHONE_SHAPE.match(v) and not v.isdigit() and normalize.phone(v)):
        return "user.contact.phone_number", "phone_number"
    if _mostly(texts, present, _ZIP_VALUE.match):
        return "user.contact.address.postal_code", None
    if _looks_like_birth_dates(present):
        return "user.demographic.date_of_birth", None
    return None


def _mostly(texts: list[str], present: list, test) -> bool:
    return bool(texts) and sum(1 for v in texts if test(v)) >= MOSTLY * len(present)


def _looks_like_birth_dates(present: list) -> bool:
    """Dates (not times of day) all between 1900 and 13 years ago: people's birthdays, not events."""
    days = []
    for value in present:
        if isinstance(value, datetime):
            return False
        if isinstance(value, date):
            days.append(value)
        elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            try:
                days.append(date.fromisoformat(value.strip()))
            except ValueError:
                return False
        else:
            return False
    latest = clock.now().date() - timedelta(days=13 * 365)
    return all(date(1900, 1, 1) <= d <= latest for d in days)


def _data_type(sql_type) -> str:
    """The fideslang data_type of a column type (dates and everything else: string)."""
    if isinstance(sql_type, Boolean):
        return "boolean"
    if isinstance(sql_type, Integer):
        return "integer"
    if isinstance(sql_type, (Float, Numeric)):
        return "float"
    return "string"


def scan(url: str, *, dataset_key: str, sample_rows: int = SAMPLE_ROWS) -> dict:
    """The draft dataset document ({"dataset": [...]}) for the database at `url`."""
    engine = connections.probe(connections.resolve(url, instance_path="."))
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            names = sorted(inspector.get_table_names())
            drafts = {name: _draft_table(connection, inspector, name, sample_rows) for name in names}
            foreign = {name: inspector.get_foreign_keys(name) for name in names}
    finally:
        engine.dispose()
    collections = []
    for name in names:
        fields, has_identity = drafts[name]
        _add_references(fields, foreign[name], dataset_key, has_identity)
        collections.append({"name": name, "fields": list(fields.values())})
    backend = engine.url.get_backend_name()
    return {"dataset": [{
        "fides_key": dataset_key, "name": dataset_key,
        "description": f"Drafted by `datamap scan` from a {backend} database: review every field's "
                       "data categories and identity before relying on it.",
        "collections": collections}]}


def _draft_table(connection, inspector, name: str, sample_rows: int) -> tuple[dict[str, dict], bool]:
    """The fields of one table, by column name, and whether one of them is an identity."""
    primary = set(inspector.get_pk_constraint(name).get("constrained_columns") or [])
    keys = primary | {c for fk in inspector.get_foreign_keys(name) for c in fk["constrained_columns"]}
    fields: dict[str, dict] = {}
    for info in inspector.get_columns(name):
        column_name = info["name"]
        meta: dict = {"data_type": _data_type(info["type"])}
        guess, note = guess_from_name(column_name), REVIEW_NAME
        if guess is None and column_name not in keys:
            guess, note = guess_from_values(_sample(connection, name, column_name, sample_rows)), REVIEW_VALUES
        if guess is None:
            guess, note = ("system.operations", None), REVIEW_KEY if column_name in keys else REVIEW_NONE
        category, identity = guess
        if identity:
            meta["identity"] = identity
        if column_name in primary:
            meta["primary_key"] = True
        fields[column_name] = {"name": column_name, "description": note, "data_categories": [category],
                               "fides_meta": meta}
    return fields, any("identity" in f["fides_meta"] for f in fields.values())


def _sample(connection, table_name: str, column_name: str, rows: int) -> list:
    """Up to `rows` non-null values of one column."""
    target = column(column_name)
    query = select(target).select_from(table(table_name)).where(target.is_not(None)).limit(rows)
    return list(connection.execute(query).scalars())


def _add_references(fields: dict[str, dict], foreign_keys: list[dict], dataset_key: str, has_identity: bool) -> None:
    """Foreign keys as Fides references; the direction is a guess, said in the description."""
    for fk in foreign_keys:
        for mine, theirs in zip(fk["constrained_columns"], fk["referred_columns"]):
            field = fields[mine]
            field["fides_meta"].setdefault("references", []).append({
                "dataset": dataset_key, "field": f"{fk['referred_table']}.{theirs}",
                "direction": "to" if has_identity else "from"})
            field["description"] += "; reference direction guessed"


class _FidesStyleDumper(yaml.SafeDumper):
    """Lists of plain values on one line (`data_categories: [user.contact.email]`), as Fides writes them."""

    def represent_list(self, data):
        flow = all(isinstance(item, (str, int, float, bool)) for item in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FidesStyleDumper.add_representer(list, _FidesStyleDumper.represent_list)


def to_yaml(document: dict) -> str:
    """The dataset document as YAML, block style with inline category lists."""
    return yaml.dump(document, Dumper=_FidesStyleDumper, sort_keys=False, allow_unicode=True, width=100)
