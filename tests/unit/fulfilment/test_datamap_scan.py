"""`datamap scan`: a draft dataset from a live database, every guess marked for review."""
import sqlite3
from datetime import date

import pytest
import yaml

from portal.services.fulfilment import datamap_loader, datamap_scan


def _fields(document):
    return {(c["name"], f["name"]): f for c in document["dataset"][0]["collections"] for f in c["fields"]}


@pytest.fixture
def claims_draft(example_databases):
    return datamap_scan.scan(f"sqlite:///{example_databases / 'claims.db'}", dataset_key="scanned_claims")


def test_the_example_claims_database_is_drafted_table_by_table(claims_draft):
    [dataset] = claims_draft["dataset"]
    assert dataset["fides_key"] == "scanned_claims"
    assert [c["name"] for c in dataset["collections"]] == ["bills", "claimants", "claims", "payments"]
    fields = _fields(claims_draft)
    assert fields["claimants", "email"]["data_categories"] == ["user.contact.email"]
    assert fields["claimants", "email"]["fides_meta"]["identity"] == "email"
    assert fields["claimants", "phone"]["data_categories"] == ["user.contact.phone_number"]
    assert fields["claimants", "phone"]["fides_meta"]["identity"] == "phone_number"
    assert fields["claimants", "date_of_birth"]["data_categories"] == ["user.demographic.date_of_birth"]
    assert fields["claimants", "subject_id"]["fides_meta"]["identity"] == "subject_id"
    assert fields["claimants", "zip"]["data_categories"] == ["user.contact.address.postal_code"]
    assert fields["claims", "body_part"]["data_categories"] == ["user.health_and_medical"]
    assert fields["bills", "provider_name"]["data_categories"] == ["system.operations"]  # not a person's name
    assert all("review" in f["description"] for f in fields.values())


def test_keys_become_primary_keys_and_references(claims_draft):
    fields = _fields(claims_draft)
    assert fields["claims", "id"]["fides_meta"] == {"data_type": "integer", "primary_key": True}
    assert fields["claims", "claimant_id"]["fides_meta"]["references"] == [
        {"dataset": "scanned_claims", "field": "claimants.id", "direction": "from"}]
    assert fields["claims", "claimant_id"]["description"] == ("a key column: system.operations; review; "
                                                               "reference direction guessed")


def test_the_draft_loads_back_through_the_loader(claims_draft, tmp_path):
    (tmp_path / "scanned.yml").write_text(datamap_scan.to_yaml(claims_draft))
    loaded = datamap_loader.load(tmp_path)
    assert loaded.findings == ()
    claimants = loaded.datamap.dataset("scanned_claims").collection("claimants")
    assert claimants.field("email").identity == "email" and [f.name for f in claimants.primary_key] == ["id"]
    assert "data_categories: [user.contact.email]" in (tmp_path / "scanned.yml").read_text()  # as Fides writes it


def test_values_are_recognised_where_names_say_nothing(tmp_path):
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, c1 TEXT, c2 TEXT, c3 DATE, c4 TEXT, c5 TEXT, "
                           "c6 TEXT, c7 TEXT, c8 TEXT, c9 INTEGER)")
        connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            (i, f"p{i}@example.com", f"(909) 555-{i:04d}", date(1960 + i, 3, 1).isoformat(), f"9237{i % 10}",
             "4111 1111 1111 1111", f"123-45-{6700 + i:04d}", date(2024, 1, 1 + i).isoformat(), "open", 9095550000 + i)
            for i in range(1, 20)])
    fields = _fields(datamap_scan.scan(f"sqlite:///{path}", dataset_key="odd"))
    assert {name: f["data_categories"][0] for (_t, name), f in fields.items()} == {
        "k": "system.operations", "c1": "user.contact.email", "c2": "user.contact.phone_number",
        "c3": "user.demographic.date_of_birth", "c4": "user.contact.address.postal_code",
        "c5": "user.financial.credit_card", "c6": "user.government_id.national_identification_number",
        "c7": "system.operations", "c8": "system.operations", "c9": "system.operations"}
    assert fields["t", "c1"]["description"] == "guessed from sample values; review"
    assert fields["t", "c8"]["description"] == "not guessed: system.operations; review"


@pytest.mark.parametrize("name, category", [
    ("SSN", "user.government_id.national_identification_number"),
    ("driversLicenseNumber", "user.government_id"),
    ("card_number", "user.financial.credit_card"),
    ("bank_account_no", "user.financial.bank_account"),
    ("member_id", "user.health_and_medical.insurance_beneficiary_id"),
    ("mrn", "user.health_and_medical.record_id"),
    ("password_hash", "user.authorization.password"),
    ("EmailAddress", "user.contact.email"),
    ("remote_addr", "user.device.ip_address"),
    ("mailing_address_line_1", "user.contact.address.street"),
    ("name", "user.name"),
])
def test_names_reuse_the_disclosure_scans_detectors(name, category):
    assert datamap_scan.guess_from_name(name)[0] == category


def test_a_database_that_cannot_be_opened(tmp_path):
    with pytest.raises(datamap_scan.connections.ConnectionUnavailable, match="does not exist"):
        datamap_scan.scan(f"sqlite:///{tmp_path / 'none.db'}", dataset_key="x")
    assert not (tmp_path / "none.db").exists()


def test_the_yaml_is_block_style_with_inline_category_lists(claims_draft):
    text = datamap_scan.to_yaml(claims_draft)
    assert yaml.safe_load(text) == claims_draft
    assert "      data_categories: [user.name.first]\n" in text
