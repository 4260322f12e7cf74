"""References between datasets on different databases: a CRM on one SQLite file whose customers
reference a loyalty program's members (`direction: to`), the loyalty program on another SQLite file,
or on MariaDB, whose cards reference the CRM's customers (`direction: from`). The loyalty program has
no identity field of its own: only the values the CRM holds for the verified person reach it."""
import pytest
from sqlalchemy import create_engine, text

from portal.services.fulfilment import connections, datamap_check, datamap_loader
from portal.services.fulfilment.connectors import across, erasure, hashing, sql, traversal

from ..maps import BASES
from .conftest import mariadb_database

CRM = """dataset:
  - fides_key: crm
    name: CRM
    collections:
      - name: customers
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: email
            data_categories: [user.contact.email]
            fides_meta: {identity: email, data_type: string}
          - name: loyalty_number
            data_categories: [user.unique_id]
            fides_meta:
              references:
                - {dataset: loyalty, field: members.number, direction: to}
"""
LOYALTY = """dataset:
  - fides_key: loyalty
    name: Loyalty program
    collections:
      - name: members
        fields:
          - name: number
            data_categories: [user.unique_id]
            fides_meta: {primary_key: true, data_type: string}
          - name: nickname
            data_categories: [user.name]
          - name: points
            data_categories: [user.behavior]
            fides_meta: {data_type: integer}
      - name: cards
        fields:
          - name: id
            data_categories: [system.operations]
            fides_meta: {primary_key: true, data_type: integer}
          - name: customer_id
            data_categories: [system.operations]
            fides_meta:
              references:
                - {dataset: crm, field: customers.id, direction: from}
          - name: card_holder
            data_categories: [user.name]
"""
RULES = """rules:
  - categories: [user.contact, user.name, user.unique_id, user.behavior, system]
    access: include
    delete: erase
    correct: update
"""
PEOPLE = [(1, "ana@example.com", "L-100"), (2, "luis@example.com", "L-200"), (3, "rosa@example.com", None)]


def _build(crm_write: str, loyalty_write: str) -> None:
    with create_engine(crm_write).begin() as c:
        c.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(120), loyalty_number VARCHAR(20))"))
        for person in PEOPLE:
            c.execute(text("INSERT INTO customers VALUES (:i, :e, :n)"), dict(zip("ien", person, strict=True)))
    with create_engine(loyalty_write).begin() as c:
        c.execute(text("CREATE TABLE members (number VARCHAR(20) PRIMARY KEY, nickname VARCHAR(60), points INTEGER)"))
        c.execute(text("CREATE TABLE cards (id INTEGER PRIMARY KEY, customer_id INTEGER, card_holder VARCHAR(60))"))
        c.execute(text("INSERT INTO members VALUES ('L-100', 'Ani', 120), ('L-200', 'Lu', 80), ('L-300', 'Ro', 5)"))
        c.execute(text("INSERT INTO cards VALUES (10, 1, 'ANA G'), (11, 1, 'ANA G'), (20, 2, 'LUIS P'), "
                       "(30, 3, 'ROSA T')"))


@pytest.fixture(params=["sqlite", "mariadb"])
def two_databases(request, tmp_path):
    """The CRM on SQLite; the loyalty program on another SQLite file, or on MariaDB. Yields the map
    folder, the loaded map and the loyalty program's write URL."""
    crm_file = tmp_path / "crm.db"
    crm_read, crm_write = f"sqlite:///file:{crm_file}?mode=ro&uri=true", f"sqlite:///{crm_file}"
    if request.param == "sqlite":
        loyalty_file = tmp_path / "loyalty.db"
        urls = iter([(f"sqlite:///file:{loyalty_file}?mode=ro&uri=true", f"sqlite:///{loyalty_file}")])
    else:
        urls = ((url, url) for url in mariadb_database())
    for loyalty_read, loyalty_write in urls:
        _build(crm_write, loyalty_write)
        folder = tmp_path / "datamap"
        folder.mkdir()
        (folder / "crm.yml").write_text(CRM)
        (folder / "loyalty.yml").write_text(LOYALTY)
        (folder / "rules.yml").write_text(RULES)
        (folder / "systems.yml").write_text(
            "systems:\n"
            f"  - {{dataset: crm, name: CRM, connection: '{crm_read}', write_connection: '{crm_write}'}}\n"
            f"  - {{dataset: loyalty, name: Loyalty program, connection: '{loyalty_read}', "
            f"write_connection: '{loyalty_write}'}}\n")
        yield folder, datamap_loader.load(folder).datamap, loyalty_write


def _reader(folder, datamap):
    def reader(dataset):
        url = connections.resolve(datamap.system_for(dataset).connection, instance_path=folder)
        return connections.engine_for(url).connect()
    return reader


def _loyalty_access(folder, datamap, seeds):
    reader = _reader(folder, datamap)
    carried = across.carried_values(datamap=datamap, dataset="loyalty", seeds=seeds, reader=reader)
    with reader("loyalty") as connection:
        return carried, traversal.collect_access(datamap=datamap, dataset="loyalty", seeds=seeds,
                                                 connection=connection, carried=carried)


def _rows(result, collection):
    """The collection's rows (none when nothing reached it)."""
    return next((c.rows for c in result.collections if c.key == f"loyalty:{collection}"), ())


def test_the_map_checks_clean_and_names_the_references_that_cross(two_databases):
    folder, datamap, _url = two_databases
    findings = datamap_check.check(datamap_loader.load(folder), bases=BASES, policy_text=None, instance_path=folder)
    assert not [f for f in findings if f.level == "error"], findings
    assert set(across.incoming(datamap, "loyalty")) == {("crm", "customers", "loyalty_number", "members", "number"),
                                                          ("crm", "customers", "id", "cards", "customer_id")}
    assert across.incoming(datamap, "crm") == []


def test_access_follows_a_reference_into_another_database_with_the_persons_values_only(two_databases):
    folder, datamap, _url = two_databases
    carried, result = _loyalty_access(folder, datamap, {"email": "ana@example.com"})
    assert carried == {("members", "number"): {"L-100"}, ("cards", "customer_id"): {1}}
    assert [r["nickname"] for r in _rows(result, "members")] == ["Ani"]
    assert sorted(r["id"] for r in _rows(result, "cards")) == [10, 11]
    assert result.unreached == ()
    # without the traversal of the CRM, the loyalty program reaches no one: it has no identity field
    with _reader(folder, datamap)("loyalty") as connection:
        alone = traversal.collect_access(datamap=datamap, dataset="loyalty", seeds={"email": "ana@example.com"},
                                         connection=connection)
    assert all(not c.rows for c in alone.collections)


def test_a_person_with_no_loyalty_number_reaches_only_their_card(two_databases):
    folder, datamap, _url = two_databases
    carried, result = _loyalty_access(folder, datamap, {"email": "rosa@example.com"})
    assert carried == {("cards", "customer_id"): {3}}
    assert _rows(result, "members") == () and [r["id"] for r in _rows(result, "cards")] == [30]
    carried, result = _loyalty_access(folder, datamap, {"email": "nobody@example.com"})
    assert carried == {} and all(not c.rows for c in result.collections)
    assert set(result.unreached) == {"members", "cards"}


def test_erasure_in_the_other_database_touches_the_persons_rows_only(two_databases):
    folder, datamap, loyalty_write = two_databases
    seeds = {"email": "ana@example.com"}
    reader = _reader(folder, datamap)
    carried = across.carried_values(datamap=datamap, dataset="loyalty", seeds=seeds, reader=reader)
    with reader("loyalty") as connection:
        preview = erasure.preview_erasure(datamap=datamap, dataset="loyalty", seeds=seeds, connection=connection,
                                          carried=carried)
    assert {c.key: c.rows_found for c in preview.collections} == {"loyalty:members": 1, "loyalty:cards": 2}
    engine = create_engine(loyalty_write)
    with engine.connect() as connection:
        outcome = erasure.execute_erasure(datamap=datamap, preview=preview, seeds=seeds, connection=connection,
                                          instance_path=folder, key=hashing.anonymize_key("k"), carried=carried)
    assert outcome.ok, outcome.failure
    with engine.connect() as c:
        members = c.execute(text("SELECT number, nickname, points FROM members ORDER BY number")).all()
        cards = c.execute(text("SELECT id, card_holder FROM cards ORDER BY id")).all()
    engine.dispose()
    assert [tuple(m) for m in members] == [("L-100", None, None), ("L-200", "Lu", 80), ("L-300", "Ro", 5)]
    assert [tuple(c) for c in cards] == [(10, None), (11, None), (20, "LUIS P"), (30, "ROSA T")]


def test_a_cycle_of_references_between_two_databases_ends(two_databases):
    folder, datamap, _url = two_databases
    (folder / "loyalty.yml").write_text(LOYALTY.replace(
        "          - name: nickname\n",
        "          - name: nickname\n            fides_meta:\n              references:\n"
        "                - {dataset: crm, field: customers.email}\n"))
    datamap = datamap_loader.load(folder).datamap
    assert {e[0] for e in across.incoming(datamap, "crm")} == {"loyalty"}
    carried, result = _loyalty_access(folder, datamap, {"email": "ana@example.com"})
    assert [r["nickname"] for r in _rows(result, "members")] == ["Ani"]


def test_a_failure_in_the_other_database_is_a_connector_error(two_databases, tmp_path):
    folder, datamap, _url = two_databases
    (tmp_path / "crm.db").rename(tmp_path / "crm.away")

    def reader(dataset):
        url = connections.resolve(datamap.system_for(dataset).connection, instance_path=folder)
        return connections.probe(url).connect()

    with pytest.raises((sql.ConnectorError, connections.ConnectionUnavailable)):
        across.carried_values(datamap=datamap, dataset="loyalty", seeds={"email": "ana@example.com"}, reader=reader)
