"""Erasure: the preview, one transaction per database, the post-check, and evidence without values."""
import pytest
from sqlalchemy import text

from portal.services.fulfilment import datamap_loader
from portal.services.fulfilment.connectors import erasure, hashing, sql

KEY = hashing.anonymize_key("test secret")


def _all(engine, query, **params):
    with engine.connect() as connection:
        return connection.execute(text(query), params).all()


def _exec(engine, *statements):
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def _claimant(example, number=3):
    return _all(example.engine("billgenix_claims", write=True),
                "SELECT id, subject_id, email, phone FROM claimants WHERE id = :n", n=number)[0]


def _subscriber_with_clicks(example):
    return _all(example.engine("billgenix_marketing", write=True),
                "SELECT s.email, count(*) AS clicks FROM subscribers s JOIN campaign_clicks c ON c.email = s.email "
                "GROUP BY s.email ORDER BY s.email")[0]


def _preview(example, dataset, seeds):
    with example.engine(dataset).connect() as connection:
        return erasure.preview_erasure(datamap=example.datamap, dataset=dataset, seeds=seeds, connection=connection)


def _execute(example, preview, seeds, *, engine=None):
    with (engine or example.engine(preview.dataset, write=True)).connect() as connection:
        return erasure.execute_erasure(datamap=example.datamap, preview=preview, seeds=seeds, connection=connection,
                                       instance_path=example.folder, key=KEY)


def _collection(result, name):
    return next(c for c in result.collections if c.key.endswith(f":{name}"))


def test_the_preview_says_what_goes_what_stays_and_why_with_statements_but_no_values(example):
    person = _claimant(example)
    preview = _preview(example, "billgenix_claims", {"subject_id": person.subject_id})
    claimants = _collection(preview, "claimants")
    assert claimants.rows_found == 1 and not claimants.delete_rows
    assert set(claimants.erase) == {"email", "phone", "street", "city", "zip"}
    assert ("id", erasure.STRUCTURE) in claimants.retained and ("first_name", "exempt_hipaa_phi") in claimants.retained
    assert len(claimants.statements) == 1 and claimants.statements[0].startswith("UPDATE claimants SET")
    assert person.email not in claimants.statements[0] and str(person.id) not in claimants.statements[0].split("WHERE")[1]
    claims = _collection(preview, "claims")
    assert claims.erase == () and claims.statements == () and ("body_part", "exempt_cmia") in claims.retained
    assert erasure.ErasurePreview.from_json(preview.as_json()) == preview


def test_erasure_nulls_the_persons_contact_details_keeps_the_claim_file_and_proves_it(example):
    person = _claimant(example)
    seeds = {"subject_id": person.subject_id}
    outcome = _execute(example, _preview(example, "billgenix_claims", seeds), seeds)
    assert outcome.ok, outcome.failure
    row = _all(example.engine("billgenix_claims", write=True),
               "SELECT email, phone, zip, first_name, employer FROM claimants WHERE id = :n", n=person.id)[0]
    assert (row.email, row.phone, row.zip) == (None, None, None) and row.first_name and row.employer
    others = _all(example.engine("billgenix_claims", write=True), "SELECT count(*) FROM claimants WHERE email IS NULL")
    assert others[0][0] == 1
    evidence = _collection(outcome, "claimants")
    assert evidence.rows_updated == 1 and evidence.rows_sha256 == hashing.sha256_of([(person.id,)])
    assert person.email not in str(outcome.as_json()) and person.phone not in str(outcome.as_json())


def test_marketing_rows_are_deleted_clicks_before_the_subscriber(example):
    subscriber = _subscriber_with_clicks(example)
    seeds = {"email": subscriber.email}
    preview = _preview(example, "billgenix_marketing", seeds)
    assert all(c.delete_rows for c in preview.collections)
    assert _collection(preview, "campaign_clicks").statements[0].startswith("DELETE FROM campaign_clicks")
    outcome = _execute(example, preview, seeds)
    assert outcome.ok, outcome.failure
    assert _collection(outcome, "campaign_clicks").rows_deleted == subscriber.clicks
    assert _collection(outcome, "subscribers").rows_deleted == 1
    marketing = example.engine("billgenix_marketing", write=True)
    assert _all(marketing, "SELECT count(*) FROM campaign_clicks WHERE email = :e", e=subscriber.email)[0][0] == 0
    assert _all(marketing, "SELECT count(*) FROM subscribers WHERE email = :e", e=subscriber.email)[0][0] == 0
    assert _all(marketing, "SELECT count(*) FROM subscribers")[0][0] > 0


FAIL_ON_DELETE = {
    "sqlite": ["CREATE TRIGGER keep_subscribers BEFORE DELETE ON subscribers "
               "BEGIN SELECT RAISE(ABORT, 'subscribers are kept'); END"],
    "postgresql": ["CREATE FUNCTION keep_subscribers() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'subscribers are kept'; END $$",
                   "CREATE TRIGGER keep_subscribers BEFORE DELETE ON subscribers "
                   "FOR EACH ROW EXECUTE FUNCTION keep_subscribers()"],
    "mariadb": ["CREATE TRIGGER keep_subscribers BEFORE DELETE ON subscribers FOR EACH ROW "
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'subscribers are kept'"],
}


def test_a_failure_on_the_second_collection_leaves_the_database_unchanged(example):
    subscriber = _subscriber_with_clicks(example)
    seeds = {"email": subscriber.email}
    marketing = example.engine("billgenix_marketing", write=True)
    _exec(marketing, *FAIL_ON_DELETE[example.backend])
    outcome = _execute(example, _preview(example, "billgenix_marketing", seeds), seeds)
    assert not outcome.ok and outcome.collections == ()
    assert outcome.failure.system == "Marketing list"
    assert outcome.failure.collection == "billgenix_marketing:subscribers"
    assert "subscribers are kept" in outcome.failure.message
    # the clicks, deleted first, came back with the rollback
    assert _all(marketing, "SELECT count(*) FROM campaign_clicks WHERE email = :e",
                e=subscriber.email)[0][0] == subscriber.clicks


KEEP_EMAIL = {
    "sqlite": ["CREATE TRIGGER keep_email AFTER UPDATE ON claimants WHEN NEW.email IS NULL "
               "BEGIN UPDATE claimants SET email = OLD.email WHERE id = NEW.id; END"],
    "postgresql": ["CREATE FUNCTION keep_email() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN NEW.email := OLD.email; RETURN NEW; END $$",
                   "CREATE TRIGGER keep_email BEFORE UPDATE ON claimants FOR EACH ROW EXECUTE FUNCTION keep_email()"],
    "mariadb": ["CREATE TRIGGER keep_email BEFORE UPDATE ON claimants FOR EACH ROW SET NEW.email = OLD.email"],
}


def test_the_post_check_catches_a_value_that_did_not_go_and_rolls_back(example):
    person = _claimant(example)
    seeds = {"subject_id": person.subject_id}
    claims_db = example.engine("billgenix_claims", write=True)
    _exec(claims_db, *KEEP_EMAIL[example.backend])
    outcome = _execute(example, _preview(example, "billgenix_claims", seeds), seeds)
    assert not outcome.ok and outcome.failure.collection == "billgenix_claims:claimants"
    assert outcome.failure.message == "post-check: the values of email did not go"
    row = _all(claims_db, "SELECT email, phone FROM claimants WHERE id = :n", n=person.id)[0]
    assert (row.email, row.phone) == (person.email, person.phone)  # the phone's erasure was rolled back too


def test_anonymize_writes_the_keyed_hash_cut_to_the_column(example):
    rules = example.folder / "rules.yml"
    rules.write_text(rules.read_text().replace(
        "  - categories: [user.contact, user.name, user.demographic, user.workplace, user.job_title]\n"
        "    access: include\n    delete: erase",
        "  - categories: [user.contact, user.name, user.demographic, user.workplace, user.job_title]\n"
        "    access: include\n    delete: anonymize"))
    example.datamap = datamap_loader.load(example.folder).datamap
    person = _claimant(example)
    seeds = {"subject_id": person.subject_id}
    before = _all(example.engine("billgenix_claims", write=True), "SELECT zip FROM claimants WHERE id = :n",
                  n=person.id)[0]
    preview = _preview(example, "billgenix_claims", seeds)
    assert set(_collection(preview, "claimants").anonymize) == {"email", "phone", "street", "city", "zip"}
    outcome = _execute(example, preview, seeds)
    assert outcome.ok, outcome.failure
    row = _all(example.engine("billgenix_claims", write=True), "SELECT email, zip FROM claimants WHERE id = :n",
               n=person.id)[0]
    assert row.email == hashing.anonymized(KEY, person.email, 120)
    assert row.zip == hashing.anonymized(KEY, before.zip, 10) and len(row.zip) == 10


def test_the_executor_refuses_any_connection_but_the_systems_write_connection(example):
    person = _claimant(example)
    seeds = {"subject_id": person.subject_id}
    preview = _preview(example, "billgenix_claims", seeds)
    with pytest.raises(sql.WrongConnection):
        _execute(example, preview, seeds, engine=example.engine("billgenix_marketing", write=True)
                 if example.backend == "sqlite" else example.engine("billgenix_claims"))
    web = _preview(example, "billgenix_web", {"email": person.email})
    with pytest.raises(sql.WrongConnection, match="staff tasks"):
        _execute(example, web, {"email": person.email}, engine=example.engine("billgenix_web"))


def test_rows_that_changed_since_the_preview_are_not_touched(example):
    subscriber = _subscriber_with_clicks(example)
    seeds = {"email": subscriber.email}
    preview = _preview(example, "billgenix_marketing", seeds)
    marketing = example.engine("billgenix_marketing", write=True)
    with marketing.begin() as connection:
        connection.execute(text("INSERT INTO campaign_clicks (id, email, campaign) VALUES (999999, :e, 'new')"),
                           {"e": subscriber.email})
    outcome = _execute(example, preview, seeds)
    assert not outcome.ok and "changed since the preview" in outcome.failure.message
    assert _all(marketing, "SELECT count(*) FROM subscribers WHERE email = :e", e=subscriber.email)[0][0] == 1


def test_rows_approved_for_erasure_that_nothing_reaches_any_more_are_a_failure_not_a_silent_nothing(example):
    person = _claimant(example)
    seeds = {"subject_id": person.subject_id}
    preview = _preview(example, "billgenix_claims", seeds)
    assert _collection(preview, "claimants").rows_found == 1
    with example.engine("billgenix_claims", write=True).begin() as connection:
        connection.execute(text("UPDATE claimants SET subject_id = 'BGX-MOVED' WHERE id = :n"), {"n": person.id})
    outcome = _execute(example, preview, seeds)
    assert not outcome.ok and "changed since the preview" in outcome.failure.message
    row = _all(example.engine("billgenix_claims", write=True), "SELECT email FROM claimants WHERE id = :n", n=person.id)
    assert row[0].email == person.email
