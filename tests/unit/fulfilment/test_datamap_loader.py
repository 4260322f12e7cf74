"""The loader: Fides-written datasets load unchanged; systems and rules; bad input is a line, never a traceback."""
import dataclasses

import pytest
import yaml
from fideslang.models import Dataset

from portal.services.fulfilment import datamap_loader
from portal.services.fulfilment.datamap import FieldReference

from .maps import FIDES_FIXTURE, copy_fixture

RULES = """
rules:
  - categories: [user]
    access: include
    delete: erase
    correct: update
  - categories: [user.contact]
    access: include
    delete: anonymize
    correct: update
  - categories: [user.contact]
    collections: [storefront_db:visit]
    access: exclude
    delete: retain
    correct: refer
    basis: legal_obligation
  - categories: [user.unique_id]
    access: summarize
    delete: retain
    correct: refer
    basis: exempt_cmia
    ccpa_category: commercial
  - categories: [system]
    access: include
    delete: erase
    correct: refer
"""


def _lines(loaded):
    return [f.line() for f in loaded.findings]


def test_a_fides_written_dataset_file_loads_unchanged(tmp_path):
    path = copy_fixture(tmp_path)
    before = path.read_bytes()
    loaded = datamap_loader.load(tmp_path)
    assert _lines(loaded) == []
    assert path.read_bytes() == before
    # fideslang itself accepts every dataset of the file as it is
    for raw in yaml.safe_load(FIDES_FIXTURE.read_text())["dataset"]:
        Dataset(**raw)
    storefront = loaded.datamap.dataset("storefront_db")
    assert storefront.file == "storefront.yml" and storefront.name == "Storefront Database"
    customer = storefront.collection("customer")
    assert [f.name for f in customer.identity_fields] == ["email"] and customer.field("email").data_type == "string"
    assert [f.name for f in customer.primary_key] == ["id"]
    assert customer.field("address_id").references == (FieldReference("storefront_db", "address", "id", "to"),)
    assert storefront.collection("visit").primary_key == ()
    members = loaded.datamap.dataset("loyalty_program").collection("members")
    assert members.field("phone").identity == "phone_number" and members.field("customer_id").read_only
    assert members.field("customer_id").references[0].direction == "to"


def test_the_model_is_immutable(tmp_path):
    copy_fixture(tmp_path)
    datamap = datamap_loader.load(tmp_path).datamap
    with pytest.raises(dataclasses.FrozenInstanceError):
        datamap.datasets[0].collections[0].fields[0].name = "other"
    assert isinstance(datamap.datasets, tuple) and isinstance(datamap.datasets[0].collections, tuple)


def test_every_field_gets_its_rule_and_ccpa_category(tmp_path):
    copy_fixture(tmp_path)
    (tmp_path / "rules.yml").write_text(RULES)
    datamap = datamap_loader.load(tmp_path).datamap
    storefront = datamap.dataset("storefront_db")
    email = storefront.collection("customer").field("email")
    assert email.rule.number == 2 and email.rule.delete == "anonymize"  # user.contact beats user
    assert [c.key for c in email.ccpa_categories] == ["identifiers"]
    # In the collection a rule names, it beats the general rule of the same length.
    visit_email = storefront.collection("visit").field("email")
    assert visit_email.rule.number == 3 and visit_email.rule.basis == "legal_obligation"
    # The rule's ccpa_category overrides the built-in mapping.
    customer_id = storefront.collection("orders").field("customer_id")
    assert customer_id.rule.number == 4 and [c.key for c in customer_id.ccpa_categories] == ["commercial"]
    purchases = storefront.collection("orders").field("total")
    assert purchases.rule.number == 1 and [c.key for c in purchases.ccpa_categories] == ["commercial"]
    created = storefront.collection("customer").field("created")
    assert created.rule.number == 5 and created.ccpa_categories == ()
    assert storefront.collection("customer").field("address_id").is_structure


def test_a_field_with_two_categories_is_governed_by_the_rule_that_keeps_more(tmp_path):
    copy_fixture(tmp_path)
    (tmp_path / "rules.yml").write_text(RULES)
    text = (tmp_path / "storefront.yml").read_text().replace(
        "data_categories: [user.name]", "data_categories: [user.name, user.unique_id]", 1)
    (tmp_path / "storefront.yml").write_text(text)
    name = datamap_loader.load(tmp_path).datamap.dataset("storefront_db").collection("customer").field("name")
    assert [r.rule.number for r in name.resolutions] == [1, 4]
    assert name.rule.number == 4 and name.rule.delete == "retain"
    assert [c.key for c in name.ccpa_categories] == ["identifiers", "commercial"]


def test_nested_folders_are_read_and_hidden_files_ignored(tmp_path):
    copy_fixture(tmp_path / "shop")
    (tmp_path / ".drafts").mkdir()
    (tmp_path / ".drafts" / "broken.yml").write_text("dataset: [")
    (tmp_path / "rules.yaml").write_text(RULES)
    loaded = datamap_loader.load(tmp_path)
    assert _lines(loaded) == []
    assert loaded.datamap.dataset("storefront_db").file == "shop/storefront.yml"
    assert len(loaded.datamap.rules) == 5 and loaded.datamap.rules[0].file == "rules.yaml"


@pytest.mark.parametrize("text, line", [
    ("dataset: [\n", "error: map.yml: line 2, column 1: not valid YAML: expected the node content, but found '<stream end>'"),
    ("- just\n- a list\n", "error: map.yml: the file must be a mapping with dataset:, systems: or rules: at the "
                           "top, not a list"),
    ("datasets: []\n", "error: map.yml: unknown top-level key 'datasets': expected one of dataset, systems, rules"),
    ("system: []\n", "error: map.yml: unknown top-level key 'system': expected one of dataset, systems, rules "
                     "(the portal reads a system's connection and owner from systems:)"),
    ("systems:\n  - dataset: shop\n    conection: sqlite://\n",
     "error: map.yml: system shop: unknown key 'conection': expected dataset, name, connection, write_connection, "
     "owner, recipient, health_data"),
    ("systems:\n  - dataset: shop\n    connection: nonsense\n",
     "error: map.yml: system shop: connection: not a SQLAlchemy URL (dialect://...) or env:NAME"),
    ("systems:\n  - dataset: shop\n    owner: somebody\n",
     "error: map.yml: system shop: owner 'somebody' is not an email address (the staff member who does the "
     "system's tasks)"),
    ("systems:\n  - dataset: shop\n    health_data: maybe\n", "error: map.yml: system shop: health_data must be true or false"),
    ("systems:\n  - name: Shop\n", "error: map.yml: system 1: dataset is missing: the fides_key of the dataset this "
                                   "system holds"),
    ("systems: {dataset: shop}\n", "error: map.yml: systems: must be a list, not a mapping"),
    ("rules:\n  - categories: [user]\n    access: include\n    delete: shred\n    correct: update\n",
     "error: map.yml: rule 1: delete is 'shred': expected one of erase, anonymize, delete_row, retain"),
    ("rules:\n  - categories: [user]\n    access: include\n    delete: erase\n",
     "error: map.yml: rule 1: correct is missing: expected one of update, refer"),
    ("rules:\n  - categories: [user]\n    access: include\n    delete: erase\n    correct: update\n    why: x\n",
     "error: map.yml: rule 1: unknown key 'why': expected categories, access, delete, correct, basis, "
     "ccpa_category, collections"),
    ("rules:\n  - categories: [user]\n    access: include\n    delete: erase\n    correct: update\n"
     "    ccpa_category: secrets\n", "error: map.yml: rule 1: ccpa_category 'secrets' is not a CCPA category"),
    ("rules:\n  - categories: [user]\n    access: include\n    delete: erase\n    correct: update\n"
     "    collections: [visit]\n", 'error: map.yml: rule 1: collections must be a list of "dataset:collection"'),
    ("rules:\n  - categories: [user contact]\n    access: include\n    delete: erase\n    correct: update\n",
     "error: map.yml: rule 1: categories must be a list of fideslang data category keys (e.g. user.contact)"),
    ("rules:\n  - just text\n", "error: map.yml: rule 1: must be a mapping, not a text"),
    ("", "warning: map.yml: the file is empty"),
])
def test_bad_input_is_one_clear_line(tmp_path, text, line):
    (tmp_path / "map.yml").write_text(text)
    lines = _lines(datamap_loader.load(tmp_path))
    assert any(found.startswith(line) for found in lines), lines


def test_fideslang_errors_become_lines_naming_the_collection_and_field(tmp_path):
    path = copy_fixture(tmp_path)
    text = path.read_text().replace("data_type: float", "data_type: date", 1)
    text = text.replace("          - name: last_visit\n", "          - description: no name\n", 1)
    path.write_text(text.replace("fides_key: loyalty_program", "fides_key: loyalty program", 1))
    assert _lines(datamap_loader.load(tmp_path)) == [
        "error: storefront.yml: dataset storefront_db, collection orders, field total: fides_meta.data_type: "
        "The data type date is not supported.",
        "error: storefront.yml: dataset storefront_db, collection visit, field #2: name is missing",
        "error: storefront.yml: dataset loyalty program: fides_key: FidesKeys must only contain alphanumeric "
        "characters, '.', '_', '<', '>' or '-'. Value provided: loyalty program",
    ]


def test_keys_fideslang_ignores_are_warnings(tmp_path):
    path = copy_fixture(tmp_path)
    path.write_text(path.read_text().replace("              references:\n                - dataset: storefront_db\n"
                                             "                  field: address.id",
                                             "              refrences:\n                - dataset: storefront_db\n"
                                             "                  field: address.id", 1))
    assert _lines(datamap_loader.load(tmp_path)) == [
        "warning: storefront.yml: dataset storefront_db, collection customer, field address_id: "
        "fideslang ignores refrences"]


def test_a_missing_or_empty_folder_is_a_line(tmp_path):
    assert _lines(datamap_loader.load(tmp_path / "nowhere")) == [
        f"error: {tmp_path / 'nowhere'}: the data map folder does not exist (PORTAL_DATAMAP_PATH)"]
    assert _lines(datamap_loader.load(tmp_path)) == [f"error: {tmp_path}: the data map folder holds no *.yml or "
                                                     "*.yaml file"]


def test_undecodable_bytes_are_a_line(tmp_path):
    (tmp_path / "map.yml").write_bytes(b"rules: \xff\xfe\n")
    [line] = _lines(datamap_loader.load(tmp_path))
    assert line.startswith("error: map.yml: not valid YAML")
