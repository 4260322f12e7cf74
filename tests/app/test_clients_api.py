"""A client business's own signed requests (Ed25519, the DRP's combined mode and envelope): a deletion
for a person it names runs against its data only (the map's systems marked `client:`), with approval
and evidence, answered by a signed callback to a real receiver on loopback; a wrong signature, an
unknown client or a person the index does not hold for it is a clear 4xx and stores nothing."""
import json
import shutil
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import clock, db
from portal.models import ClientRequest, FulfilmentItem, IdentitySubject, PrivacyRequest
from portal.services.cases import outcomes
from portal.services.cases.outcomes import Completion
from portal.services.delivery import webhooks
from portal.services.fulfilment import approvals, runs

from ..clients_support import ClientBusiness, Receiver, add_client, import_index
from ..support import get_case, make_staff
from ..unit.fulfilment.maps import load_generator


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    generator = load_generator()
    root = tmp_path_factory.mktemp("billgenix-clients")
    generator.build(root / "example", claimants=6, seed=31)
    return generator, root / "example"


@pytest.fixture
def example(built, tmp_path):
    """The example's databases, with the marketing list held for the clinic."""
    generator, source = built
    shutil.copytree(source, tmp_path / "example")
    generator.write_map(tmp_path / "datamap", databases=tmp_path / "example")
    systems = next(p for p in (tmp_path / "datamap").iterdir() if "systems:" in p.read_text())
    systems.write_text(systems.read_text().replace("    name: Marketing list\n",
                                                   "    name: Marketing list\n    client: clinic\n"))
    return tmp_path


@pytest.fixture
def app_config(app_config, example):
    app_config.update(DATAMAP_PATH=str(example / "datamap"), WEBHOOK_ALLOW_HTTP=True, OUTBOUND_ALLOW_HOSTS="127.0.0.1")
    return app_config


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.stop()


@pytest.fixture
def clinic(app, receiver):
    business = ClientBusiness()
    add_client(app, webhook=receiver.url, verify_key=business.verify_key)
    return business


def _subscriber(example):
    """A claimant on the marketing list: (subject_id, first, last, email)."""
    with sqlite3.connect(example / "example" / "marketing.db") as conn:
        emails = {r[0] for r in conn.execute("SELECT email FROM subscribers")}
    with sqlite3.connect(example / "example" / "claims.db") as conn:
        rows = conn.execute("SELECT subject_id, first_name, last_name, email, date_of_birth FROM claimants").fetchall()
    return next(r for r in rows if r[3] in emails)


def _counts(app):
    with app.app_context():
        s = db.session()
        return (s.execute(select(func.count()).select_from(PrivacyRequest)).scalar_one(),
                s.execute(select(func.count()).select_from(ClientRequest)).scalar_one())


def _deletion(app, clinic, person, **over):
    subject_id, first, last, email, dob = person
    claims = clinic.envelope(app, request_type="delete", **{"client-request-id": "CL-1"},
                             subject={"first_name": first, "last_name": last, "email": email, "date_of_birth": dob},
                             verification_statement="The patient signed our request form at the front desk, "
                                                    "ID checked by staff.")
    claims.update(over)
    return claims


def test_a_clients_deletion_runs_against_its_data_only_and_is_answered_with_evidence(app, client, example, clinic,
                                                                                      receiver):
    person = _subscriber(example)
    import_index(app, [{"subject_id": person[0], "email": person[3], "first_name": person[1],
                        "last_name": person[2], "date_of_birth": person[4], "client": "clinic"},
                       {"subject_id": person[0], "email": person[3], "first_name": person[1],
                        "last_name": person[2], "date_of_birth": person[4]}])  # the business holds them too
    with sqlite3.connect(example / "example" / "claims.db") as conn:
        claims_before = conn.execute("SELECT * FROM claimants").fetchall()
    signed = clinic.sign(_deletion(app, clinic, person))
    resp = client.post("/clients/v1/requests", data=signed, headers=clinic.headers())
    assert resp.status_code == 201, resp.get_json()
    answer = resp.get_json()
    assert answer["status"] == "in_progress" and answer["client_request_id"] == "CL-1"
    assert [i["system"] for i in answer["items"]] == ["billgenix_marketing"]  # its data only
    again = client.post("/clients/v1/requests", data=signed, headers=clinic.headers())  # a replay opens nothing
    assert again.status_code == 200 and again.get_json()["request_id"] == answer["request_id"]
    assert _counts(app) == (1, 1)
    req = get_case(app, answer["reference"])
    assert req.manner == "client" and req.email == "privacy@clinic.example"
    admin = make_staff(app, "admin")
    with app.app_context():
        assert runs.run_case(db.session(), get_case(app, req.reference)) == 1  # the preview
    with app.app_context():
        item_id = db.session().execute(select(FulfilmentItem.id).where(FulfilmentItem.request_id == req.id)).scalar_one()
    with app.app_context():
        approvals.approve(db.session(), req=get_case(app, req.reference), staff=admin, item_id=item_id)
    with app.app_context():
        assert runs.run_case(db.session(), get_case(app, req.reference)) == 1
    with sqlite3.connect(example / "example" / "marketing.db") as conn:
        left = conn.execute("SELECT email FROM subscribers WHERE email = ?", (person[3],)).fetchall()
    with sqlite3.connect(example / "example" / "claims.db") as conn:
        assert conn.execute("SELECT * FROM claimants").fetchall() == claims_before  # not the business's own data
    assert left == [] or left == [(None,)]
    with app.app_context():
        case = get_case(app, req.reference)
        outcomes.complete(db.session(), req=case, staff=admin, expected_version=case.version, completion=Completion(
            message="Deleted from the marketing list held for you.", deleted_summary="Marketing list: subscriber "
            "and clicks.", sensitive="refuse"))
    with app.app_context():  # §1798.105(c): the index row held for the clinic went; the business's own stays
        rows = db.session().execute(select(IdentitySubject.client_key).where(
            IdentitySubject.subject_key == person[0])).scalars().all()
    assert rows == [""]
    assert webhooks.deliver_for_app(app) >= 2
    final = [r for r in receiver.received if r.get("status") == "completed"]
    assert final and final[-1]["request_id"] == answer["request_id"]
    (evidence,) = final[-1]["items"]
    assert evidence["state"] == "done" and evidence["evidence"] and person[3] not in evidence["evidence"]
    status = client.get(f"/clients/v1/requests/{answer['request_id']}", headers={
        "X-Portal-Client": "clinic",
        "Authorization": "Signature " + clinic.sign(clinic.envelope(app, request_id=answer["request_id"])).decode()})
    assert status.status_code == 200 and status.get_json()["status"] == "completed"


def test_wrong_signature_unknown_client_or_person_are_refused_and_store_nothing(app, client, example, clinic):
    person = _subscriber(example)
    import_index(app, [{"subject_id": person[0], "email": person[3], "first_name": person[1],
                        "last_name": person[2], "date_of_birth": person[4]}])  # held for the business, not the clinic
    stranger = ClientBusiness()
    forged = client.post("/clients/v1/requests", data=clinic.sign(_deletion(app, clinic, person), stranger.signing),
                         headers=clinic.headers())
    assert forged.status_code == 401 and "signature" in forged.get_json()["error"]
    unknown = ClientBusiness("acme")
    nobody = client.post("/clients/v1/requests", data=unknown.sign(_deletion(app, unknown, person)),
                         headers=unknown.headers())
    assert nobody.status_code == 401 and "Unknown client" in nobody.get_json()["error"]
    not_held = client.post("/clients/v1/requests", data=clinic.sign(_deletion(app, clinic, person)),
                           headers=clinic.headers())
    assert not_held.status_code == 404 and "holds no person" in not_held.get_json()["error"]
    old = clock.now() - timedelta(hours=2)
    stale = _deletion(app, clinic, person, **{"issued-at": old.isoformat(),
                                              "expires-at": (old + timedelta(minutes=5)).isoformat()})
    assert client.post("/clients/v1/requests", data=clinic.sign(stale), headers=clinic.headers()).status_code == 401
    wrong_audience = _deletion(app, clinic, person, audience="https://elsewhere.example/clients/v1")
    assert client.post("/clients/v1/requests", data=clinic.sign(wrong_audience),
                       headers=clinic.headers()).status_code == 401
    no_statement = _deletion(app, clinic, person, verification_statement=None)
    bad = client.post("/clients/v1/requests", data=clinic.sign(no_statement), headers=clinic.headers())
    assert bad.status_code == 400 and "verification_statement" in bad.get_json()["error"]
    assert client.post("/clients/v1/requests", data=b"not base64!", headers=clinic.headers()).status_code == 401
    assert client.get("/clients/v1/requests/nope").status_code == 401
    assert _counts(app) == (0, 0)


def test_a_clients_access_request_returns_what_is_held_for_it_and_a_consumers_plan_never_reaches_it(
        app, client, example, clinic):
    person = _subscriber(example)
    import_index(app, [{"subject_id": person[0], "email": person[3], "first_name": person[1], "last_name": person[2],
                        "date_of_birth": person[4]},
                       {"subject_id": person[0], "email": person[3], "first_name": person[1], "last_name": person[2],
                        "date_of_birth": person[4], "client": "clinic"}])
    claims = _deletion(app, clinic, person, request_type="access", **{"client-request-id": "CL-2"})
    resp = client.post("/clients/v1/requests", data=clinic.sign(claims), headers=clinic.headers())
    assert resp.status_code == 201, resp.get_json()
    answer = resp.get_json()
    with app.app_context():
        assert runs.run_case(db.session(), get_case(app, answer["reference"])) >= 1
    status = client.get(f"/clients/v1/requests/{answer['request_id']}", headers={
        "X-Portal-Client": "clinic",
        "Authorization": "Signature " + clinic.sign(clinic.envelope(app, request_id=answer["request_id"])).decode()})
    assert status.status_code == 200
    package = status.get_json()["package"]
    assert package["request"]["reference"] == answer["reference"] and person[3] in json.dumps(package)
    assert set(package["data"]) <= {"billgenix_marketing:subscribers", "billgenix_marketing:campaign_clicks"}
    assert package["data"]["billgenix_marketing:subscribers"]  # what is held for the clinic, and only that
    someone_else = ClientBusiness("lab")
    add_client(app, key="lab", name="Lab", verify_key=someone_else.verify_key)
    other = client.get(f"/clients/v1/requests/{answer['request_id']}", headers={
        "X-Portal-Client": "lab", "Authorization": "Signature " + someone_else.sign(
            someone_else.envelope(app, request_id=answer["request_id"])).decode()})
    assert other.status_code == 404  # another client's request is not found
    # The consumer's own request about the same person never reaches the system held for the clinic.
    from ..clients_support import verified_case
    own = verified_case(app, person[0], request_type="delete", email=person[3])
    with app.app_context():
        systems = set(db.session().execute(select(FulfilmentItem.system).where(
            FulfilmentItem.request_id == own.id)).scalars())
    assert "billgenix_marketing" not in systems and "billgenix_claims" in systems


def test_a_client_requests_statement_and_identifiers_go_with_the_verification_data(app, client, example, clinic):
    import time_machine

    from portal.services.cases import submission, transitions
    from portal.services.records import retention

    person = _subscriber(example)
    import_index(app, [{"subject_id": person[0], "email": person[3], "first_name": person[1], "last_name": person[2],
                        "date_of_birth": person[4], "client": "clinic"}])
    claims = _deletion(app, clinic, person, request_type="correct",
                       correction={"current": "Old Street 1", "should_be": "New Avenue 2"})
    resp = client.post("/clients/v1/requests", data=clinic.sign(claims), headers=clinic.headers())
    assert resp.status_code == 201, resp.get_json()
    reference = resp.get_json()["reference"]
    req = get_case(app, reference)
    assert req.request_type == "correct" and req.correction_details == "New Avenue 2"
    with app.app_context():
        s = db.session()
        transitions.transition(s, submission.get_by_reference(s, reference), "denied", actor="test")
        s.commit()
    days = int(app.config["RETENTION_VERIFICATION_DAYS"])
    with time_machine.travel(clock.now() + timedelta(days=days + 1), tick=True), app.app_context():
        retention.purge(db.session())
    with app.app_context():
        kept = db.session().execute(select(ClientRequest)).scalar_one()
    assert kept.statement is None and kept.identifiers is None and kept.subject_key == person[0]
