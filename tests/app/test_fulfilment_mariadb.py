"""The connectors through the app against a MariaDB business database (the portal's own database stays
the suite's SQLite or PostgreSQL): the Billgenix example built into a MariaDB database of its own, its
map's connections pointing there. Access gives exactly the person's rows; an erasure changes nothing
until approved (two people for the claims system), then erases and deletes as the rules say, children
before parents (InnoDB enforces the foreign keys), proven by the post-check; a correction updates one
field with keyed before/after hashes in the audit chain; a failure rolls that database back.
Without PORTAL_TEST_MARIADB_URL these skip, and fail in CI (scripts/test-mariadb.sh starts one)."""
import json

import pytest
from sqlalchemy import create_engine, select, text

from portal import db
from portal.models import AuditEvent, VerificationAttempt
from portal.services.fulfilment import approvals, corrections, runs
from portal.services.fulfilment.connectors.hashing import evidence_key, keyed_hash_of

from ..support import get_case, make_staff, new_case
from ..unit.fulfilment.connectors.conftest import mariadb_database
from ..unit.fulfilment.maps import load_generator
from .test_fulfilment_runs import _items, _to_in_progress

CLAIMANTS = 12
NEW_PHONE = "(909) 555-0199"


@pytest.fixture
def business(tmp_path):
    """The example's systems in one MariaDB database; its map in tmp_path/datamap. Yields an engine
    on it (the test's own view of the business database)."""
    generator = load_generator()
    for url in mariadb_database():
        generator.build(tmp_path / "built", claimants=CLAIMANTS, seed=31, database_url=url)
        generator.write_map(tmp_path / "datamap", database_url=url)
        engine = create_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def app_config(app_config, business, tmp_path):
    app_config.update(DATAMAP_PATH=str(tmp_path / "datamap"))
    return app_config


def _all(business, query, **params):
    with business.connect() as connection:
        return connection.execute(text(query), params).all()


def _claimant(business, number):
    return _all(business, "SELECT id, subject_id, email, phone FROM claimants WHERE id = :n", n=number)[0]


def _dump(business, *tables):
    return {t: _all(business, f"SELECT * FROM {t} ORDER BY 1") for t in tables}


def _subscriber_with_clicks(business) -> int:
    """A claimant on the marketing list with at least one campaign click."""
    row = _all(business, "SELECT c.id FROM claimants c JOIN subscribers s ON s.email = c.email "
                         "JOIN campaign_clicks k ON k.email = s.email ORDER BY c.id LIMIT 1")
    assert row, "the example has no subscribed claimant with clicks"
    return row[0].id


def _verified_case(app, business, request_type, number):
    person = _claimant(business, number)
    req = new_case(app, request_type, "verifying", email=person.email)
    with app.app_context():
        s = db.session()
        s.add(VerificationAttempt(request_id=req.id, subject_key=person.subject_id, matched="email",
                                  outcome="verified"))
        s.commit()
    return _to_in_progress(app, req)


def _run(app, req):
    with app.app_context():
        return runs.run_case(db.session(), get_case(app, req.reference))


def _approve(app, req, staff, item_id):
    with app.app_context():
        approvals.approve(db.session(), req=get_case(app, req.reference), staff=staff, item_id=item_id)


def test_access_on_mariadb_gives_exactly_the_persons_rows(app, business, runner, tmp_path):
    number = _subscriber_with_clicks(business)
    person = _claimant(business, number)
    req = _verified_case(app, business, "access", number)
    result = runner.invoke(args=["fulfil", "run", req.reference])
    assert result.exit_code == 0, result.output
    items = _items(app, req)
    assert items["billgenix_claims"].state == items["billgenix_marketing"].state == "done"
    assert items["billgenix_claims"].found is True and items["billgenix_claims"].answered_via == "connector"
    out = tmp_path / "package.json"
    result = runner.invoke(args=["fulfil", "package", req.reference, "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())["data"]
    assert [p.get("email") for p in data["billgenix_claims:claimants"]] == [person.email]
    claims = {r.id for r in _all(business, "SELECT id FROM claims WHERE claimant_id = :p", p=person.id)}
    assert {r["id"] for r in data["billgenix_claims:claims"]} == claims and claims
    bills = {r.id for r in _all(business, "SELECT b.id FROM bills b JOIN claims c ON c.id = b.claim_id "
                                          "WHERE c.claimant_id = :p", p=person.id)}
    assert {r["id"] for r in data["billgenix_claims:bills"]} == bills
    clicks = {r.id for r in _all(business, "SELECT id FROM campaign_clicks WHERE email = :e", e=person.email)}
    assert {r["id"] for r in data["billgenix_marketing:campaign_clicks"]} == clicks and clicks
    others = [_claimant(business, n).email for n in range(1, CLAIMANTS + 1) if n != number]
    assert not any(other in out.read_text() for other in others)


def test_an_erasure_on_mariadb_waits_for_two_approvals_then_erases_and_deletes_children_first(app, business):
    first, second = make_staff(app, "admin"), make_staff(app, "admin", "second-admin@billgenix.example")
    number = _subscriber_with_clicks(business)
    person = _claimant(business, number)
    tables = ("claimants", "claims", "bills", "payments", "subscribers", "campaign_clicks")
    before = _dump(business, *tables)
    req = _verified_case(app, business, "delete", number)
    assert _run(app, req) == 2  # the previews of claims and marketing
    items = _items(app, req)
    claims, marketing = items["billgenix_claims"], items["billgenix_marketing"]
    assert claims.detail["approvals_needed"] == 2 and marketing.detail["approvals_needed"] == 1
    statements = [s for c in claims.detail["preview"]["collections"] for s in c["statements"]]
    assert statements and all(person.email not in s for s in statements)
    _approve(app, req, first, claims.id)
    assert _run(app, req) == 0
    assert _dump(business, *tables) == before  # one approval of two: nothing changed

    _approve(app, req, second, claims.id)
    _approve(app, req, first, marketing.id)
    assert _run(app, req) == 2
    items = _items(app, req)
    for item in items.values():
        if item.system in ("billgenix_claims", "billgenix_marketing"):
            assert item.state == "done" and item.detail["evidence"]["ok"] is True, item.outcome_note
    row = _all(business, "SELECT email, phone, zip, first_name FROM claimants WHERE id = :n", n=number)[0]
    assert (row.email, row.phone, row.zip) == (None, None, None) and row.first_name  # kept: exempt_hipaa_phi
    assert _all(business, "SELECT count(*) FROM subscribers WHERE email = :e", e=person.email)[0][0] == 0
    assert _all(business, "SELECT count(*) FROM campaign_clicks WHERE email = :e", e=person.email)[0][0] == 0
    after = _dump(business, *tables)
    assert after["claims"] == before["claims"] and after["bills"] == before["bills"]  # the claim file stays
    assert len(after["subscribers"]) == len(before["subscribers"]) - 1  # nobody else's row went
    evidence = {c["key"]: c for c in items["billgenix_marketing"].detail["evidence"]["collections"]}
    clicks = sum(1 for r in before["campaign_clicks"] if r.email == person.email)
    assert evidence["billgenix_marketing:campaign_clicks"]["rows_deleted"] == clicks
    assert evidence["billgenix_marketing:subscribers"]["rows_deleted"] == 1
    with app.app_context():
        details = [e.detail or "" for e in db.session().execute(
            select(AuditEvent).where(AuditEvent.request_id == req.id, AuditEvent.action == "fulfilment_erase")).scalars()]
    assert len(details) == 2 and not any(person.email in d for d in details)


def test_a_correction_on_mariadb_updates_one_field_with_keyed_hashes(app, business, runner):
    support = make_staff(app, "support")
    first, second = make_staff(app, "admin"), make_staff(app, "admin", "second-admin@billgenix.example")
    person = _claimant(business, 3)
    tables = ("claimants", "claims", "bills", "payments")
    before = _dump(business, *tables)
    req = _verified_case(app, business, "correct", 3)
    claims = _items(app, req)["billgenix_claims"]
    with app.app_context():
        corrections.choose(db.session(), req=get_case(app, req.reference), staff=support, item_id=claims.id,
                           values={"claimants.phone": NEW_PHONE}, refer=[])
    assert _run(app, req) == 1  # the preview
    _approve(app, req, first, claims.id)
    assert _run(app, req) == 0 and _dump(business, *tables) == before
    _approve(app, req, second, claims.id)
    assert _run(app, req) == 1
    after = _dump(business, *tables)
    changed = [(t, a, b) for t in tables for a, b in zip(before[t], after[t], strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0] == "claimants" and changed[0][2].phone == NEW_PHONE
    assert [c for c in changed[0][1]._fields if changed[0][1]._mapping[c] != changed[0][2]._mapping[c]] == ["phone"]
    with app.app_context():
        detail = db.session().execute(select(AuditEvent).where(
            AuditEvent.request_id == req.id, AuditEvent.action == "fulfilment_correct")).scalar_one().detail
    key = evidence_key(app.config["SECRET_KEY"])
    assert f"phone before {keyed_hash_of(key, [person.phone])} after {keyed_hash_of(key, [NEW_PHONE])}" in detail
    assert person.phone not in detail and NEW_PHONE not in detail
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_a_failed_erasure_on_mariadb_rolls_that_database_back_and_names_the_collection(app, business):
    admin = make_staff(app, "admin")
    number = _subscriber_with_clicks(business)
    req = _verified_case(app, business, "delete", number)
    _run(app, req)
    marketing = _items(app, req)["billgenix_marketing"]
    with business.begin() as connection:
        connection.exec_driver_sql("CREATE TRIGGER keep_subscribers BEFORE DELETE ON subscribers FOR EACH ROW "
                                   "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'subscribers are kept'")
    before = _dump(business, "subscribers", "campaign_clicks")
    _approve(app, req, admin, marketing.id)
    _run(app, req)
    marketing = _items(app, req)["billgenix_marketing"]
    assert marketing.state == "failed" and "Marketing list" in marketing.outcome_note
    assert "billgenix_marketing:subscribers" in marketing.outcome_note
    assert _dump(business, "subscribers", "campaign_clicks") == before  # the clicks deleted first came back
    with business.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER keep_subscribers")
    with app.app_context():
        approvals.retry(db.session(), req=get_case(app, req.reference), staff=admin, item_id=marketing.id)
    _run(app, req)
    _approve(app, req, admin, marketing.id)
    _run(app, req)
    assert _items(app, req)["billgenix_marketing"].state == "done"
