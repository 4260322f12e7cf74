"""Fides compatibility: Fides's own example Postgres dataset, loaded unchanged, gives from
customer-1@example.com the rows Fides's access test expects.

Followed: ethyca/fides's privacy-request runner tests, test_create_and_process_access_request_postgres
(with this very dataset, `postgres_example_test_dataset_config_read_access`: from
{"email": "customer-1@example.com"} the results hold all 11 collections, the customer's and the
visit's first row carry that email) and test_create_and_process_erasure_request_with_table_joins
(erasing user.financial nulls ccn, code and name of customer 1's payment card), on the rows Fides
seeds in postgres_example.sql / its postgres_integration_db fixture. (The graph-level
test_sql_task.py::test_postgres_access_request_task expects 2 payment cards and 3 orders through a
hand-built graph with an orders.payment_card_id edge this dataset does not declare; the dataset's
own references reach one card.) Addresses are reached from the customer, the orders and the card by
`direction: to` references, so the second customer, who lives at an address one of these orders
ships to, is never reached.
"""
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, create_engine, insert, text

from portal.services.fulfilment import connections, datamap_loader
from portal.services.fulfilment.connectors import erasure, hashing, traversal

from .conftest import BACKENDS, pg_database

DATASET = Path(__file__).resolve().parent / "fides" / "postgres_example_test_dataset.yml"
KEY = "postgres_example_test_dataset"

# Fides's example schema (the columns the dataset names) and a part of its seeded rows.
ROWS = {
    "address": [(1, "123", "Example Street", "Exampletown", "NY", "12345"),
                (2, "4", "Example Lane", "Exampletown", "NY", "12321"),
                (3, "555", "Example Ave", "Example City", "NY", "12000"),
                (4, "1111", "Example Place", "Example Mountain", "TX", "54321")],
    "customer": [(1, "customer-1@example.com", "John Customer", "2020-04-01 11:47:42", 1),
                 (2, "customer-2@example.com", "Jill Customer", "2020-04-01 11:47:42", 2),
                 (3, "jane@example.com", "Jane Customer", "2020-04-01 11:47:42", 4)],
    "employee": [(1, "employee-1@example.com", "Jack Employee", 3), (2, "employee-2@example.com", "Jane Employee", 3)],
    "payment_card": [("pay_aaa-aaa", "Example Card 1", 123456789, 321, True, 1, 1),
                     ("pay_bbb-bbb", "Example Card 2", 987654321, 123, False, 2, 1),
                     ("pay_ccc-ccc", "Example Card 3", 373719391, 222, False, 3, 4)],
    "orders": [("ord_aaa-aaa", 1, 2), ("ord_bbb-bbb", 2, 1), ("ord_ccc-ccc", 1, 1), ("ord_ddd-ddd", 1, 1),
               ("ord_ddd-eee", 3, 4)],
    "order_item": [("ord_aaa-aaa", 1, 1), ("ord_bbb-bbb", 1, 1), ("ord_ccc-ccc", 1, 1), ("ord_ccc-ccc", 2, 1),
                   ("ord_ddd-ddd", 1, 1), ("ord_eee-eee", 3, 3)],
    "product": [(1, "Example Product 1", "$10.00"), (2, "Example Product 2", "$20.00"), (3, "Example Product 3", "$50.00")],
    "visit": [("customer-1@example.com", "2021-01-06 01:00:00"), ("customer-2@example.com", "2021-01-06 01:00:00")],
    "login": [(i, 1, f"2021-01-0{i} 01:00:00") for i in range(1, 7)] + [(7, 2, "2021-01-06 01:00:00"),
                                                                         (8, 3, "2021-01-06 01:00:00")],
    "service_request": [("ser_aaa-aaa", "customer-1@example.com", "customer-1-alt@example.com", "2021-01-01",
                         "2021-01-03", 1),
                        ("ser_bbb-bbb", "customer-2@example.com", None, "2021-01-04", None, 1)],
    "report": [(1, "admin-account@example.com", "Monthly Report", 2021, 8, 100)],
}


def _schema(metadata: MetaData) -> None:
    text_, number = String(100), Integer
    Table("address", metadata, Column("id", number, primary_key=True), *(Column(n, text_) for n in
          ("house", "street", "city", "state", "zip")))
    Table("customer", metadata, Column("id", number, primary_key=True), Column("email", text_), Column("name", text_),
          Column("created", text_), Column("address_id", number))
    Table("employee", metadata, Column("id", number, primary_key=True), Column("email", text_), Column("name", text_),
          Column("address_id", number))
    Table("payment_card", metadata, Column("id", text_, primary_key=True), Column("name", text_), Column("ccn", number),
          Column("code", number), Column("preferred", Boolean), Column("customer_id", number),
          Column("billing_address_id", number))
    Table("orders", metadata, Column("id", text_, primary_key=True), Column("customer_id", number),
          Column("shipping_address_id", number))
    Table("order_item", metadata, Column("order_id", text_), Column("product_id", number), Column("quantity", number))
    Table("product", metadata, Column("id", number, primary_key=True), Column("name", text_), Column("price", text_))
    Table("visit", metadata, Column("email", text_), Column("last_visit", text_))
    Table("login", metadata, Column("id", number, primary_key=True), Column("customer_id", number),
          Column("time", text_))
    Table("service_request", metadata, Column("id", text_, primary_key=True), Column("email", text_),
          Column("alt_email", text_), Column("opened", text_), Column("closed", text_), Column("employee_id", number))
    Table("report", metadata, Column("id", number, primary_key=True), Column("email", text_), Column("name", text_),
          Column("year", number), Column("month", number), Column("total_visits", number))


RULES = """rules:
  - categories: [user, system]
    access: include
    delete: erase
    correct: update
"""


@pytest.fixture(params=BACKENDS)
def fides_example(request, tmp_path):
    """The dataset file copied as is, a system and a rule beside it, the rows in SQLite or PostgreSQL."""
    folder = tmp_path / "datamap"
    folder.mkdir()
    shutil.copy(DATASET, folder / "postgres_example.yml")
    urls = iter(pg_database()) if request.param == "postgresql" else None
    if urls is None:
        write_url = f"sqlite:///{tmp_path / 'example.db'}"
        read_url = f"sqlite:///file:{tmp_path / 'example.db'}?mode=ro&uri=true"
    else:
        write_url = read_url = next(urls)
    metadata = MetaData()
    _schema(metadata)
    engine = create_engine(write_url)
    metadata.create_all(engine)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            columns = [c.name for c in table.columns]
            connection.execute(insert(table), [dict(zip(columns, row)) for row in ROWS[table.name]])
    engine.dispose()
    (folder / "systems.yml").write_text(f"systems:\n  - dataset: {KEY}\n    connection: {read_url}\n"
                                        f"    write_connection: {write_url}\n")
    (folder / "rules.yml").write_text(RULES)
    yield datamap_loader.load(folder).datamap, create_engine(read_url)
    if urls is not None:
        next(urls, None)


def test_access_from_customer_1_gives_the_rows_fides_expects(fides_example):
    datamap, engine = fides_example
    with engine.connect() as connection:
        result = traversal.collect_access(datamap=datamap, dataset=KEY, seeds={"email": "customer-1@example.com"},
                                          connection=connection)
    engine.dispose()
    data = {c.key: list(c.rows) for c in result.collections}
    # what Fides's test asserts: every collection, the customer's and the visit's email
    assert len(data) == 11
    assert data[f"{KEY}:customer"][0]["email"] == data[f"{KEY}:visit"][0]["email"] == "customer-1@example.com"
    assert {r["id"] for r in data[f"{KEY}:address"]} == {1, 2}
    assert all({"id", "street", "city", "state", "zip"} <= set(r) for r in data[f"{KEY}:address"])
    assert {r["id"] for r in data[f"{KEY}:orders"]} == {"ord_aaa-aaa", "ord_ccc-ccc", "ord_ddd-ddd"}
    assert {r["id"] for r in data[f"{KEY}:payment_card"]} == {"pay_aaa-aaa"}
    assert all({"id", "name", "ccn", "customer_id", "billing_address_id"} <= set(r) for r in data[f"{KEY}:payment_card"])
    assert [(r["id"], r["email"], r["address_id"]) for r in data[f"{KEY}:customer"]] == [(1, "customer-1@example.com", 1)]
    # and the rest of the graph, as Fides traverses it
    assert len(data[f"{KEY}:login"]) == 6 and {r["customer_id"] for r in data[f"{KEY}:login"]} == {1}
    assert data[f"{KEY}:visit"] == [{"email": "customer-1@example.com", "last_visit": "2021-01-06 01:00:00"}]
    assert [r["id"] for r in data[f"{KEY}:service_request"]] == ["ser_aaa-aaa"]
    assert sorted((r["order_id"], r["product_id"]) for r in data[f"{KEY}:order_item"]) == [
        ("ord_aaa-aaa", 1), ("ord_ccc-ccc", 1), ("ord_ccc-ccc", 2), ("ord_ddd-ddd", 1)]
    assert {r["id"] for r in data[f"{KEY}:product"]} == {1, 2}
    assert data[f"{KEY}:employee"] == [] and data[f"{KEY}:report"] == []


def test_erasing_financial_data_nulls_customer_1s_card_as_fides_does(fides_example, tmp_path):
    datamap, engine = fides_example
    folder = datamap.folder
    (folder / "rules.yml").write_text("""rules:
  - categories: [user.financial]
    access: include
    delete: erase
    correct: update
  - categories: [user, system]
    access: include
    delete: retain
    correct: refer
    basis: legal_obligation
""")
    datamap = datamap_loader.load(folder).datamap
    seeds = {"email": "customer-1@example.com"}
    with engine.connect() as connection:
        preview = erasure.preview_erasure(datamap=datamap, dataset=KEY, seeds=seeds, connection=connection)
    cards = next(c for c in preview.collections if c.key.endswith(":payment_card"))
    assert set(cards.erase) == {"ccn", "code", "name"}
    visit = next(c for c in preview.collections if c.key.endswith(":visit"))
    assert visit.staff_task is None and visit.erase == ()  # nothing to erase there: no key needed
    write = connections.engine_for(connections.resolve(datamap.system_for(KEY).write_connection, instance_path=tmp_path))
    with write.connect() as connection:
        outcome = erasure.execute_erasure(datamap=datamap, preview=preview, seeds=seeds, connection=connection,
                                          instance_path=tmp_path, key=hashing.anonymize_key("k"))
    assert outcome.ok, outcome.failure
    with write.connect() as connection:
        rows = connection.execute(text("SELECT id, ccn, code, name FROM payment_card ORDER BY id")).all()
    write.dispose()
    engine.dispose()
    assert rows[0] == ("pay_aaa-aaa", None, None, None)
    assert rows[1][1:] == (987654321, 123, "Example Card 2")  # customer 2's card is untouched
