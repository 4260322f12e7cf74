"""Correction: an approved field update with the same preview, transaction and post-check as erasure."""
from sqlalchemy import text

from portal.services.fulfilment.connectors import correction, hashing

NEW_PHONE = "(909) 555-0199"
KEY = hashing.evidence_key("a test secret")


def _claimant(example):
    with example.engine("billgenix_claims", write=True).connect() as connection:
        return connection.execute(text("SELECT id, subject_id, phone FROM claimants WHERE id = 5")).one()


def _preview(example, seeds, changes):
    with example.engine("billgenix_claims").connect() as connection:
        return correction.preview_correction(datamap=example.datamap, dataset="billgenix_claims", seeds=seeds,
                                             changes=changes, connection=connection)


def _execute(example, preview, seeds, changes):
    with example.engine("billgenix_claims", write=True).connect() as connection:
        return correction.execute_correction(datamap=example.datamap, preview=preview, seeds=seeds, changes=changes,
                                             connection=connection, instance_path=example.folder, evidence_key=KEY)


def test_a_phone_number_is_updated_and_medical_fields_are_referred_to_staff(example):
    person = _claimant(example)
    seeds = {"subject_id": person.subject_id}
    changes = {"claimants": {"phone": NEW_PHONE, "id": 1}, "claims": {"body_part": "left knee"}}
    preview = _preview(example, seeds, changes)
    claimants = preview.collections[0]
    assert claimants.update == ("phone",) and claimants.statements[0].startswith("UPDATE claimants SET phone=")
    assert NEW_PHONE not in str(preview.as_json())
    assert {(key, field) for key, field, _why in preview.staff_tasks} == {
        ("billgenix_claims:claimants", "id"), ("billgenix_claims:claims", "body_part")}
    outcome = _execute(example, preview, seeds, changes)
    assert outcome.ok, outcome.failure
    with example.engine("billgenix_claims", write=True).connect() as connection:
        assert connection.execute(text("SELECT phone FROM claimants WHERE id = 5")).scalar() == NEW_PHONE
        assert connection.execute(text("SELECT count(*) FROM claimants WHERE phone = :p"), {"p": NEW_PHONE}).scalar() == 1
    evidence = outcome.collections[0]
    assert evidence.rows_updated == 1
    assert evidence.fields[0].before_hash == hashing.keyed_hash_of(KEY, [person.phone])
    assert evidence.fields[0].after_hash == hashing.keyed_hash_of(KEY, [NEW_PHONE])
    assert evidence.fields[0].after_hash != hashing.sha256_of([NEW_PHONE])  # not a hash anyone can recompute
    assert person.phone not in str(outcome.as_json()) and NEW_PHONE not in str(outcome.as_json())


def test_a_correction_that_does_not_hold_is_rolled_back(example):
    person = _claimant(example)
    seeds = {"subject_id": person.subject_id}
    changes = {"claimants": {"phone": NEW_PHONE}}
    preview = _preview(example, seeds, changes)
    statements = {"sqlite": ["CREATE TRIGGER keep_phone AFTER UPDATE ON claimants "
                             "BEGIN UPDATE claimants SET phone = OLD.phone WHERE id = NEW.id; END"],
                  "postgresql": ["CREATE FUNCTION keep_phone() RETURNS trigger LANGUAGE plpgsql AS "
                                 "$$ BEGIN NEW.phone := OLD.phone; RETURN NEW; END $$",
                                 "CREATE TRIGGER keep_phone BEFORE UPDATE ON claimants FOR EACH ROW "
                                 "EXECUTE FUNCTION keep_phone()"],
                  "mariadb": ["CREATE TRIGGER keep_phone BEFORE UPDATE ON claimants FOR EACH ROW "
                              "SET NEW.phone = OLD.phone"]}[example.backend]
    with example.engine("billgenix_claims", write=True).begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    outcome = _execute(example, preview, seeds, changes)
    assert not outcome.ok and outcome.failure.collection == "billgenix_claims:claimants"
    assert outcome.failure.message.startswith("post-check")
