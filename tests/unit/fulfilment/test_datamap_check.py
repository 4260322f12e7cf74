"""`datamap check` on the Billgenix example, and on copies of it with one problem planted each."""
import shutil
import sqlite3

import pytest

from portal.services.fulfilment import datamap_check, datamap_loader
from portal.services.fulfilment.ccpa_categories import CATEGORIES

from .maps import BASES, copy_fixture, edit

# A policy that names every CCPA category in the statute's words.
FULL_POLICY = "Sensitive personal information. " + ". ".join(t for c in CATEGORIES.values() for t in c.policy_terms)


def run_check(folder, *, policy=FULL_POLICY, probe=True, instance=None):
    loaded = datamap_loader.load(folder)
    findings = datamap_check.check(loaded, bases=BASES, policy_text=policy, instance_path=instance or folder,
                                   probe_connections=probe)
    return [f.line() for f in findings]


def errors(lines):
    return [line for line in lines if line.startswith("error:")]


def test_the_example_map_has_no_problem_at_all(example_map):
    assert run_check(example_map) == []


def test_the_example_as_installed_resolves_its_sqlite_paths_from_the_instance_folder(generator, tmp_path):
    generator.install(tmp_path, claimants=5, seed=1)
    assert run_check(tmp_path / "datamap", instance=tmp_path) == []
    assert "write_connection: sqlite:///example/claims.db" in (tmp_path / "datamap" / "systems.yml").read_text()


def test_a_reference_to_a_missing_collection_or_field(example_map):
    edit(example_map / "claims.yml", "field: claims.id", "field: claim.id")
    edit(example_map / "claims.yml", "field: bills.id", "field: bills.identifier")
    lines = errors(run_check(example_map))
    assert ("error: claims.yml: dataset billgenix_claims, collection bills, field claim_id: references "
            "billgenix_claims:claim.id, which does not exist (no collection claim in billgenix_claims)") in lines
    assert ("error: claims.yml: dataset billgenix_claims, collection payments, field bill_id: references "
            "billgenix_claims:bills.identifier, which does not exist") in lines
    # and so neither bills nor payments can be reached any more
    assert ("error: claims.yml: dataset billgenix_claims, collection payments: no identity reaches it: it has no "
            "email, phone_number or subject_id identity field, and no reference links it to a collection that "
            "has one") in lines
    assert len(lines) == 4


def test_a_reference_to_a_missing_dataset(example_map):
    edit(example_map / "web.yml", "dataset: billgenix_web\n                  field: visitors",
         "dataset: billgenix_website\n                  field: visitors")
    assert ("error: web.yml: dataset billgenix_web, collection page_views, field cookie_id: references "
            "billgenix_website:visitors.cookie_id, which does not exist (no dataset billgenix_website)"
            ) in run_check(example_map)


def test_a_collection_no_identity_reaches(example_map):
    edit(example_map / "support.yml", "              identity: email\n", "")
    assert errors(run_check(example_map)) == [
        "error: support.yml: dataset billgenix_support, collection tickets: no identity reaches it: it has no email, "
        "phone_number or subject_id identity field, and no reference links it to a collection that has one"]


def test_reachability_follows_references_both_ways_across_datasets(tmp_path):
    copy_fixture(tmp_path)
    (tmp_path / "rules.yml").write_text("rules:\n  - categories: [user, system]\n    access: include\n"
                                        "    delete: erase\n    correct: update\n    ccpa_category: identifiers\n")
    (tmp_path / "systems.yml").write_text("systems:\n  - dataset: storefront_db\n    owner: a@staff.example\n"
                                          "  - dataset: loyalty_program\n    owner: a@staff.example\n")
    assert run_check(tmp_path, probe=False) == []
    # Without its phone identity, members are still reached from customer (their reference points there).
    edit(tmp_path / "storefront.yml", "identity: phone_number", "identity: loyalty_card")
    assert run_check(tmp_path, probe=False) == [
        "warning: storefront.yml: dataset loyalty_program, collection members, field phone: identity loyalty_card "
        "is not one a request is seeded with (email, phone_number, subject_id): it reaches nothing"]


def test_a_collection_fides_skips_is_not_required_to_be_reachable(example_map):
    edit(example_map / "support.yml", "              identity: email\n", "")
    edit(example_map / "support.yml", "      - name: tickets\n", "      - name: tickets\n        fides_meta:\n"
                                                                  "          skip_processing: true\n")
    assert errors(run_check(example_map)) == []


def test_a_data_category_no_rule_covers(example_map):
    edit(example_map / "web.yml", "          - name: user_agent\n            data_categories: [user.device]",
         "          - name: user_agent\n            data_categories: [user.telemetry]")
    assert errors(run_check(example_map)) == [
        "error: web.yml: dataset billgenix_web, collection page_views, field user_agent: no rule covers data "
        "category user.telemetry"]


def test_a_personal_category_without_a_ccpa_category(example_map):
    edit(example_map / "web.yml", "data_categories: [user.device]", "data_categories: [user.device.fingerprint_hash]")
    assert errors(run_check(example_map)) == []  # a custom child of a mapped key inherits its mapping
    edit(example_map / "support.yml", "data_categories: [user.name]", "data_categories: [user]")
    edit(example_map / "rules.yml", "  - categories: [system]\n", "  - categories: [system, user]\n")
    assert errors(run_check(example_map)) == [
        "error: support.yml: dataset billgenix_support, collection tickets, field name: data category user has no "
        "CCPA category: give its rule (rule 7 (system, user)) a ccpa_category"]


def test_retain_or_exclude_without_a_basis(example_map):
    edit(example_map / "rules.yml", "    basis: exempt_cmia\n", "")
    edit(example_map / "rules.yml", "  - categories: [user.behavior, user.device]\n    access: include",
         "  - categories: [user.behavior, user.device]\n    access: exclude")
    lines = errors(run_check(example_map))
    known = ", ".join(BASES)
    assert lines == [
        f"error: rules.yml: rule 1 (user.health_and_medical): retain without a basis: give the denial-basis code the "
        f"data is kept or withheld under (one of {known})",
        f"error: rules.yml: rule 5 (user.behavior, user.device): exclude without a basis: give the denial-basis code "
        f"the data is kept or withheld under (one of {known})"]


def test_a_basis_code_that_does_not_exist(example_map):
    edit(example_map / "rules.yml", "basis: exempt_cmia", "basis: cmia")
    assert errors(run_check(example_map)) == [
        f"error: rules.yml: rule 1 (user.health_and_medical): basis cmia is not a denial-basis code "
        f"(known: {', '.join(BASES)})"]


def test_a_basis_that_is_off_or_does_not_apply_to_the_right(example_map):
    edit(example_map / "rules.yml", "basis: exempt_cmia", "basis: legal_retention_wc")
    edit(example_map / "rules.yml", "  - categories: [user.health_and_medical]\n    access: include",
         "  - categories: [user.health_and_medical]\n    access: exclude")
    lines = run_check(example_map)
    assert ("error: rules.yml: rule 1 (user.health_and_medical): basis legal_retention_wc does not apply to access "
            "requests, so it cannot justify exclude") in lines
    assert ("warning: rules.yml: rule 1 (user.health_and_medical): basis legal_retention_wc is turned off "
            "(DENIAL_BASIS_OVERRIDES turns it on): staff cannot cite it") in lines
    assert len(errors(lines)) == 1


def test_a_rule_naming_a_collection_that_does_not_exist_or_governing_nothing(example_map):
    edit(example_map / "rules.yml", "billgenix_claims:payments]", "billgenix_claims:payment]")
    lines = run_check(example_map)
    assert ("error: rules.yml: rule 2 (user.unique_id, user.name, user.demographic, user.workplace, user.job_title, "
            "user.payment, system): names collection billgenix_claims:payment, which does not exist") in lines
    (example_map / "extra.yml").write_text("rules:\n  - categories: [user.biometric]\n    access: include\n"
                                           "    delete: erase\n    correct: refer\n")
    assert "warning: extra.yml: rule 1 (user.biometric): governs no field of the map" in run_check(example_map)


def test_two_rules_governing_a_category_alike(example_map):
    (example_map / "extra.yml").write_text("rules:\n  - categories: [user.content]\n    access: include\n"
                                           "    delete: anonymize\n    correct: refer\n")
    assert errors(run_check(example_map)) == [
        "error: extra.yml: rule 1 (user.content): governs data category user.content exactly as rules.yml's "
        "rule 6 (user.content) does: say it once"]


def test_deleting_whole_rows_while_retaining_a_field(example_map):
    (example_map / "extra.yml").write_text(
        "rules:\n  - categories: [user.contact.address]\n    collections: [billgenix_marketing:subscribers]\n"
        "    access: include\n    delete: retain\n    correct: refer\n    basis: legal_obligation\n")
    assert errors(run_check(example_map)) == [
        "error: marketing.yml: dataset billgenix_marketing, collection subscribers: rule 4 (user.contact, user.name, "
        "user.behavior, system) deletes whole rows, but zip must be retained"]


def test_systems_without_a_dataset_datasets_without_a_system(example_map):
    edit(example_map / "systems.yml", "  - dataset: billgenix_support\n", "  - dataset: billgenix_helpdesk\n")
    assert errors(run_check(example_map)) == [
        "error: systems.yml: system billgenix_helpdesk: dataset billgenix_helpdesk does not exist",
        "error: support.yml: dataset billgenix_support: no entry in systems: names it (its connection, or the staff "
        "owner who searches it)"]


def test_a_system_nobody_can_act_on(example_map):
    edit(example_map / "systems.yml", "    owner: support-lead@billgenix.example\n", "")
    assert errors(run_check(example_map)) == [
        "error: systems.yml: system billgenix_support: nobody can act on it: give it a connection, an owner (staff "
        "email) or a recipient"]


def test_connections_that_cannot_be_opened(example_map, tmp_path, monkeypatch):
    monkeypatch.delenv("BILLGENIX_MARKETING_URL", raising=False)
    text = (example_map / "systems.yml").read_text()
    marketing_read = next(line for line in text.splitlines() if "marketing.db?mode=ro" in line)
    edit(example_map / "systems.yml", marketing_read, "    connection: env:BILLGENIX_MARKETING_URL")
    web = next(line for line in text.splitlines() if "web.db" in line)
    edit(example_map / "systems.yml", web, f"    connection: sqlite:///{tmp_path / 'gone.db'}")
    claims_write = next(line for line in text.splitlines() if "write_connection" in line and "claims.db" in line)
    edit(example_map / "systems.yml", claims_write,
         "    write_connection: postgresql+psycopg://billing:s3cret@127.0.0.1:9/claims")
    lines = errors(run_check(example_map))
    assert lines[0].startswith("error: systems.yml: system billgenix_claims: write_connection cannot be opened: "
                               "cannot connect to postgresql+psycopg://billing:***@127.0.0.1:9/claims: ")
    assert lines[1:] == [
        "error: systems.yml: system billgenix_marketing: connection cannot be opened: the environment variable "
        "BILLGENIX_MARKETING_URL is not set",
        f"error: systems.yml: system billgenix_web: connection cannot be opened: the SQLite file {tmp_path / 'gone.db'} "
        "does not exist"]
    assert not (tmp_path / "gone.db").exists() and "s3cret" not in "".join(lines)
    monkeypatch.setenv("BILLGENIX_MARKETING_URL", marketing_read.split(": ", 1)[1])
    assert len(errors(run_check(example_map))) == 2


def test_the_live_schema_lacks_a_table_a_column_or_an_index(example_map, example_databases, tmp_path):
    web = tmp_path / "web.db"
    shutil.copy(example_databases / "web.db", web)
    with sqlite3.connect(web) as connection:
        connection.execute("DROP INDEX ix_page_views_email")
        connection.execute("ALTER TABLE page_views DROP COLUMN referrer")
        connection.execute("ALTER TABLE visitors RENAME TO visitor")
    text = (example_map / "systems.yml").read_text()
    web_line = next(line for line in text.splitlines() if "web.db" in line)
    edit(example_map / "systems.yml", web_line, f"    connection: sqlite:///{web}")
    assert run_check(example_map) == [
        "error: web.yml: dataset billgenix_web, collection page_views, field referrer: column referrer does not "
        "exist in table page_views",
        "error: web.yml: dataset billgenix_web, collection visitors: table visitors does not exist in Web analytics's "
        "database",
        "warning: web.yml: dataset billgenix_web, collection page_views, field email: identity column has no index "
        "in Web analytics's database: every request would read the whole table"]


def test_the_policy_must_name_every_category_the_map_holds(example_map):
    policy = ("We collect identifiers, customer records, characteristics of protected classifications, commercial "
              "information, and professional or employment-related information. Health information is sensitive "
              "personal information.")
    assert run_check(example_map, policy=policy) == [
        "warning: privacy policy: does not name \"Internet or other electronic network activity information\" "
        "(Cal. Civ. Code §1798.140(v)(1)(F)), which the map holds (billgenix_marketing:campaign_clicks.campaign and "
        "5 more)"]
    lines = run_check(example_map, policy="We collect identifiers and health information.")
    assert ("warning: privacy policy: does not name \"Personal information collected and analyzed concerning health\" "
            "as sensitive personal information (Cal. Civ. Code §1798.140(ae)(2)(B)), which the map holds "
            "(billgenix_claims:bills.diagnosis_code and 6 more)") in lines


@pytest.mark.parametrize("probe", [True, False])
def test_a_duplicate_dataset_key(example_map, probe):
    shutil.copy(example_map / "support.yml", example_map / "support-copy.yml")
    assert ("error: support.yml: dataset billgenix_support: fides_key billgenix_support is also used in "
            "support-copy.yml") in run_check(example_map, probe=probe)
