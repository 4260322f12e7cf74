"""The access traversal: from the verified seeds to that person's rows only, read-only, bounded."""
import pytest
from sqlalchemy import event, text

from portal.services.documents.disclosure_scan import MASK
from portal.services.fulfilment.connectors import sql, traversal


def _all(engine, query, **params):
    with engine.connect() as connection:
        return connection.execute(text(query), params).all()


def _person(example):
    """A claimant who shares a ZIP code and an employer with other claimants (the generator plants them)."""
    people = _all(example.engine("billgenix_claims", write=True),
                  "SELECT id, subject_id, email, zip, employer FROM claimants ORDER BY id")
    for person in people:
        neighbours = [p for p in people if p.id != person.id and p.zip == person.zip]
        coworkers = [p for p in people if p.id != person.id and p.employer == person.employer]
        if neighbours and coworkers:
            return person
    raise AssertionError("the example has no claimant sharing a ZIP code and an employer")


def _access(example, dataset, seeds, **kwargs):
    with example.engine(dataset).connect() as connection:
        return traversal.collect_access(datamap=example.datamap, dataset=dataset, seeds=seeds,
                                        connection=connection, **kwargs)


def _rows(result, collection):
    return next(c for c in result.collections if c.key.endswith(f":{collection}")).rows


def test_a_persons_claims_are_theirs_alone_though_others_share_their_zip_and_employer(example):
    person = _person(example)
    seeds = {"email": person.email, "subject_id": person.subject_id}
    result = _access(example, "billgenix_claims", seeds)
    claims_db = example.engine("billgenix_claims", write=True)
    claims = {r.id for r in _all(claims_db, "SELECT id FROM claims WHERE claimant_id = :p", p=person.id)}
    bills = {r.id for r in _all(claims_db, "SELECT id FROM bills WHERE claim_id IN (SELECT id FROM claims "
                                           "WHERE claimant_id = :p)", p=person.id)}
    payments = {r.id for r in _all(claims_db, "SELECT p.id FROM payments p JOIN bills b ON b.id = p.bill_id "
                                              "JOIN claims c ON c.id = b.claim_id WHERE c.claimant_id = :p", p=person.id)}
    assert [r["subject_id"] for r in _rows(result, "claimants")] == [person.subject_id]
    assert {r["id"] for r in _rows(result, "claims")} == claims and claims
    assert {r["id"] for r in _rows(result, "bills")} == bills and bills
    assert {r["id"] for r in _rows(result, "payments")} == payments
    assert result.capped == () and result.unreached == ()
    # the included fields are given; nothing the rules exclude is there
    assert set(_rows(result, "claimants")[0]) >= {"first_name", "zip", "employer", "email"}


def test_the_email_reaches_the_marketing_list_and_web_visits_of_that_person_only(example):
    person = _person(example)
    seeds = {"email": person.email, "subject_id": person.subject_id}
    marketing = _access(example, "billgenix_marketing", seeds)
    clicks = _all(example.engine("billgenix_marketing", write=True),
                  "SELECT id FROM campaign_clicks WHERE email = :e", e=person.email)
    assert {r["email"] for r in _rows(marketing, "subscribers")} <= {person.email}
    assert {r["id"] for r in _rows(marketing, "campaign_clicks")} == {r.id for r in clicks}
    web = _access(example, "billgenix_web", seeds)
    web_db = example.engine("billgenix_web")
    views = _all(web_db, "SELECT id FROM page_views WHERE email = :e OR cookie_id IN "
                         "(SELECT cookie_id FROM visitors WHERE email = :e)", e=person.email)
    assert {r["id"] for r in _rows(web, "page_views")} == {r.id for r in views}
    assert {r["email"] for r in _rows(web, "visitors")} <= {person.email}


def test_an_unverified_seed_reaches_nothing_and_a_shared_zip_is_no_seed(example):
    person = _person(example)
    result = _access(example, "billgenix_claims", {"email": person.email, "postal_code": person.zip})
    # the claimant's email is not an identity of the claims database (only subject_id is)
    assert all(c.rows == () for c in result.collections)


def test_rows_are_capped_per_collection_and_the_cap_is_reported(example):
    person = _person(example)
    result = _access(example, "billgenix_claims", {"subject_id": person.subject_id}, row_cap=1)
    bills = next(c for c in result.collections if c.key == "billgenix_claims:bills")
    assert len(bills.rows) <= 1
    assert all(len(c.rows) <= 1 for c in result.collections)


def test_summarize_names_the_field_as_held_and_exclude_leaves_it_out(example):
    rules = example.folder / "rules.yml"
    text_ = rules.read_text()
    text_ = text_.replace("  - categories: [user.health_and_medical]\n    access: include",
                          "  - categories: [user.health_and_medical]\n    access: summarize")
    text_ = text_.replace("  - categories: [user.behavior, user.device]\n    access: include",
                          "  - categories: [user.behavior, user.device]\n    access: exclude\n    basis: exempt_cmia")
    rules.write_text(text_)
    from portal.services.fulfilment import datamap_loader
    example.datamap = datamap_loader.load(example.folder).datamap
    person = _person(example)
    claims = _rows(_access(example, "billgenix_claims", {"subject_id": person.subject_id}), "claims")
    assert all(row["body_part"] == MASK for row in claims)
    web = _access(example, "billgenix_web", {"email": person.email})
    views = next(c for c in web.collections if c.key == "billgenix_web:page_views")
    assert "url" in views.excluded and all("url" not in row for row in views.rows)


def test_access_refuses_a_sqlite_connection_that_can_write(example):
    if example.backend != "sqlite":
        pytest.skip("SQLite's read-only mode")
    with example.engine("billgenix_claims", write=True).connect() as connection, \
            pytest.raises(sql.ReadOnlyRequired):
        traversal.collect_access(datamap=example.datamap, dataset="billgenix_claims", seeds={"subject_id": "x"},
                                 connection=connection)


def test_a_server_read_cannot_write_even_on_a_writing_connection(example):
    if example.backend == "sqlite":
        pytest.skip("a PostgreSQL or MariaDB read-only transaction")
    with example.engine("billgenix_claims", write=True).connect() as connection:
        with pytest.raises(Exception, match="(?i)read.only"), sql.transaction(connection, read_only=True) as runner:
            runner.run(text("UPDATE claimants SET email = NULL"))
        # the connection is usable afterwards, its session as it was (the timeout put back)
        with sql.transaction(connection, read_only=False) as runner:
            assert runner.run(text("UPDATE claimants SET city = city WHERE id = 1")) == 1
        if example.backend == "mariadb":
            assert connection.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar() == 0


def test_the_examples_read_connection_cannot_write_outside_the_connector_either(example):
    """The map's read connection is read-only in itself (PostgreSQL's default_transaction_read_only,
    MariaDB's SET SESSION TRANSACTION READ ONLY), not only inside the connector's transaction."""
    if example.backend == "sqlite":
        pytest.skip("SQLite's mode=ro is tested above")
    with example.engine("billgenix_claims").connect() as connection:
        with pytest.raises(Exception, match="(?i)read.only"):
            connection.execute(text("UPDATE claimants SET email = NULL"))


def test_a_statement_past_its_timeout_is_cancelled(example):
    slow = {"sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
            "postgresql": "SELECT pg_sleep(2)", "mariadb": "SELECT SLEEP(2)"}[example.backend]
    with example.engine("billgenix_claims").connect() as connection:
        with pytest.raises(sql.StatementTimeout), sql.transaction(connection, read_only=True, timeout_ms=100) as runner:
            runner.rows(text(slow))


def test_access_reads_each_tables_columns_and_key_only_not_a_full_reflection(example):
    """Reflecting a table in full (indexes, constraints, comments, and every table its foreign keys name)
    took most of an access's time on PostgreSQL: some twenty catalog queries a table. Columns and the
    primary key are what the connector uses."""
    statements = []
    engine = example.engine("billgenix_claims")
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    person = _person(example)
    with engine.connect() as connection:
        result = traversal.collect_access(datamap=example.datamap, dataset="billgenix_claims",
                                          seeds={"subject_id": person.subject_id}, connection=connection)
    assert _rows(result, "claimants") and _rows(result, "claims")
    words = [" ".join(s.replace("`", "").replace('"', "").split()) for s in statements]
    data = [w for w in words if any(f"FROM {t} WHERE" in w for t in ("claimants", "claims", "bills", "payments"))]
    assert len(data) >= 4  # one query per table reached (the person's payments may be none)
    assert len(statements) - len(data) <= 16, words  # two catalog reads a table, the transaction's own
