"""The access package: CONTRACT.md's JSON, a CSV per collection, an HTML report by CCPA category in the
request's language, all after the §7024(d) disclosure scan."""
import dataclasses
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from portal.services.documents.disclosure_scan import MASK
from portal.services.fulfilment.connectors import package, traversal

SSN = "123-45-6789"


@pytest.fixture
def sqlite_example(example):
    if example.backend != "sqlite":
        pytest.skip("the package is the same whatever the database")
    return example


def _results(example):
    with example.engine("billgenix_claims").connect() as connection:
        person = connection.execute(text("SELECT subject_id, email FROM claimants WHERE id = 2")).one()
    results = []
    for dataset in ("billgenix_claims", "billgenix_marketing", "billgenix_web"):
        with example.engine(dataset).connect() as connection:
            results.append(traversal.collect_access(datamap=example.datamap, dataset=dataset, connection=connection,
                                                    seeds={"subject_id": person.subject_id, "email": person.email}))
    # a claim whose description holds an SSN someone typed into it
    claims = results[0]
    collections = tuple(dataclasses.replace(c, rows=tuple({**r, "injury_description": f"SSN {SSN}"} for r in c.rows))
                        if c.key.endswith(":claims") else c for c in claims.collections)
    results[0] = dataclasses.replace(claims, collections=collections)
    return person, results


def _build(app, example, results, language="en"):
    with app.app_context():
        return package.build_package(reference="PR-ABCD-EFGH", request_type="access", datamap=example.datamap,
                                     generated_at=datetime(2026, 3, 2, 17, 0, tzinfo=UTC), results=results,
                                     language=language)


def test_the_json_is_the_contracts_shape_with_the_ssn_held_not_shown(app, sqlite_example):
    person, results = _results(sqlite_example)
    built = _build(app, sqlite_example, results)
    document = json.loads(built.json)
    assert document["request"] == {"reference": "PR-ABCD-EFGH", "type": "access",
                                   "generated_at": "2026-03-02T17:00:00+00:00"}
    assert set(document["data"]) >= {"billgenix_claims:claimants", "billgenix_claims:claims",
                                     "billgenix_marketing:subscribers", "billgenix_web:page_views"}
    assert document["data"]["billgenix_claims:claimants"][0]["subject_id"] == person.subject_id
    assert SSN not in built.json.decode() and SSN not in built.html.decode()
    assert all(row["injury_description"] == MASK for row in document["data"]["billgenix_claims:claims"])
    assert any(kind == "ssn" for _where, kind in built.withheld)


def test_the_csv_zip_holds_one_scanned_file_per_collection(app, sqlite_example):
    _person, results = _results(sqlite_example)
    built = _build(app, sqlite_example, results)
    with zipfile.ZipFile(io.BytesIO(built.csv_zip)) as archive:
        names = archive.namelist()
        claims = archive.read("billgenix_claims-claims.csv").decode()
    assert "billgenix_claims-claimants.csv" in names and "billgenix_web-page_views.csv" in names
    assert {"id", "claimant_id", "claim_number"} <= set(claims.splitlines()[0].split(",")) and SSN not in claims and MASK in claims


def test_the_html_report_is_grouped_by_ccpa_category_in_the_requests_language(app, sqlite_example):
    person, results = _results(sqlite_example)
    english = _build(app, sqlite_example, results).html.decode()
    assert "<h2>Identifiers</h2>" in english and "<h2>Health information</h2>" in english
    assert person.subject_id in english
    spanish = _build(app, sqlite_example, results, language="es").html.decode()
    assert '<html lang="es">' in spanish and "<h2>Identificadores</h2>" in spanish
    assert "Su información personal" in spanish


def test_a_card_number_by_its_data_category_is_held_not_shown(app, sqlite_example):
    rules = sqlite_example.folder / "claims.yml"
    rules.write_text(rules.read_text().replace("          - name: check_number\n            data_categories: [user.payment]",
                                               "          - name: check_number\n            data_categories: "
                                               "[user.payment, user.financial.bank_account]"))
    from portal.services.fulfilment import datamap_loader
    sqlite_example.datamap = datamap_loader.load(sqlite_example.folder).datamap
    _person, results = _results(sqlite_example)
    payments = json.loads(_build(app, sqlite_example, results).json)["data"]["billgenix_claims:payments"]
    assert payments and all(row["check_number"] == MASK for row in payments)
