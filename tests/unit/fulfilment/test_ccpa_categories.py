"""The built-in table from fideslang data categories to the CCPA's categories of personal information."""
import re
from pathlib import Path

import pytest
from fideslang.default_taxonomy import DEFAULT_TAXONOMY

from portal.services.fulfilment import ccpa_categories
from portal.services.fulfilment.ccpa_categories import BY_FIDESLANG_PREFIX, CATEGORIES, for_fideslang_category

DEFAULT_KEYS = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
USER_KEYS = sorted(k for k in DEFAULT_KEYS if k.startswith("user."))


def test_the_default_taxonomy_is_the_one_the_table_was_written_for():
    assert len(USER_KEYS) > 70 and "user.health_and_medical.genetic" in USER_KEYS


@pytest.mark.parametrize("category", USER_KEYS)
def test_every_default_user_category_maps_to_a_ccpa_category(category):
    assert for_fideslang_category(category) in CATEGORIES.values()


def test_the_table_uses_real_taxonomy_keys_and_real_ccpa_categories():
    assert set(BY_FIDESLANG_PREFIX) <= DEFAULT_KEYS
    assert set(BY_FIDESLANG_PREFIX.values()) <= set(CATEGORIES)


def test_every_ccpa_category_has_a_label_a_citation_and_words_for_the_policy():
    for category in CATEGORIES.values():
        assert category.label and category.policy_terms
        assert category.citation.startswith("Cal. Civ. Code §1798.140(")
        assert ("(ae)" in category.citation) == category.sensitive
    letters = {c.citation.split("(v)(1)(")[1][0] for c in CATEGORIES.values() if "(v)(1)(" in c.citation}
    assert letters == set("ABCDEFGHIJK")


@pytest.mark.parametrize("category, key", [
    ("user.contact.email", "identifiers"),
    ("user.contact.address.postal_code", "identifiers"),
    ("user.contact.phone_number", "customer_records"),  # the longer prefix wins
    ("user.location.imprecise", "geolocation"),
    ("user.location.precise", "sensitive_precise_geolocation"),
    ("user.government_id.passport_number", "sensitive_government_id"),
    ("user.government_id.immigration", "sensitive_origin_beliefs"),
    ("user.health_and_medical.record_id", "sensitive_health"),
    ("user.health_and_medical.genetic", "sensitive_genetic"),
    ("user.behavior.purchase_history", "commercial"),
    ("user.behavior.browsing_history", "internet_activity"),
    ("user.workplace", "professional"),
    ("user.contact.email.work", "identifiers"),  # a custom child of a default key
])
def test_the_longest_prefix_wins(category, key):
    assert for_fideslang_category(category).key == key


def test_categories_outside_the_user_tree_are_not_personal():
    assert for_fideslang_category("system.operations") is None
    assert for_fideslang_category("user") is None  # too vague to name a CCPA category
    assert for_fideslang_category("username") is None  # a prefix matches whole parts only
    assert not ccpa_categories.is_personal("system.operations") and ccpa_categories.is_personal("user.name")


def test_a_policy_names_a_category_in_the_statutes_words():
    identifiers, health = CATEGORIES["identifiers"], CATEGORIES["sensitive_health"]
    text = ccpa_categories.normalised("We collect\n  IDENTIFIERS such as your name, and healthcare billing data.")
    assert ccpa_categories.named_in(identifiers, text)
    assert not ccpa_categories.named_in(health, text)  # "healthcare" is not "health"
    assert not ccpa_categories.named_in(health, ccpa_categories.normalised("Health information we hold."))
    assert ccpa_categories.named_in(health, ccpa_categories.normalised(
        "Sensitive personal information: health information."))
    assert ccpa_categories.named_in(CATEGORIES["professional"], ccpa_categories.normalised(
        "Professional or employment\u2011related information"))
    assert ccpa_categories.named_in(CATEGORIES["sensitive_government_id"], ccpa_categories.normalised(
        "sensitive personal information (your driver\u2019s license number)"))


def test_the_documented_table_is_the_built_in_one():
    text = (Path(__file__).resolve().parents[3] / "docs" / "datamap.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 5 and cells[0].strip("`") in CATEGORIES:
            rows[cells[0].strip("`")] = cells
    assert set(rows) == set(CATEGORIES)
    for key, (_key, label, citation, sensitive, prefixes) in rows.items():
        category = CATEGORIES[key]
        assert (label, "Cal. Civ. Code " + citation, sensitive == "yes") == (
            category.label, category.citation, category.sensitive)
        assert set(re.findall(r"`([a-z_.]+)`", prefixes)) == {p for p, k in BY_FIDESLANG_PREFIX.items() if k == key}
