"""Running the plan's automatic items through the app, on the Billgenix example: access collected from
the verified identity and packaged, erasure previewed, approved (two people for the claims system),
executed by a run with its evidence in the audit chain; the runs' claims, retries and commands."""
import json
import shutil
import sqlite3

import pytest
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent, FulfilmentItem, FulfilmentRun, VerificationAttempt
from portal.services.fulfilment import access_package, approvals, runs

from ..support import get_case, make_staff, new_case
from ..unit.fulfilment.maps import load_generator


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    generator = load_generator()
    root = tmp_path_factory.mktemp("billgenix-runs")
    generator.build(root / "example", claimants=12, seed=31)
    return generator, root / "example"


@pytest.fixture
def example(built, tmp_path):
    """A copy of the example's databases per test (erasure writes), and its map."""
    generator, source = built
    shutil.copytree(source, tmp_path / "example")
    generator.write_map(tmp_path / "datamap", databases=tmp_path / "example")
    return tmp_path


@pytest.fixture
def app_config(app_config, example):
    app_config.update(DATAMAP_PATH=str(example / "datamap"))
    return app_config


def _claimant(example, number=3):
    with sqlite3.connect(example / "example" / "claims.db") as conn:
        return conn.execute("SELECT subject_id, email FROM claimants WHERE id = ?", (number,)).fetchone()


def _dump(example, name):
    with sqlite3.connect(example / "example" / f"{name}.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in tables}


def _verified_case(app, example, request_type, number=3):
    subject_id, email = _claimant(example, number)
    req = new_case(app, request_type, "verifying", email=email)
    with app.app_context():
        s = db.session()
        s.add(VerificationAttempt(request_id=req.id, subject_key=subject_id, matched="email", outcome="verified"))
        s.commit()
    return _to_in_progress(app, req)


def _to_in_progress(app, req):
    from portal.services.cases import submission, transitions

    with app.app_context():
        s = db.session()
        case = submission.get_by_reference(s, req.reference)
        transitions.transition(s, case, "in_progress", actor="system")
        s.commit()
    return get_case(app, req.reference)


def _items(app, req):
    with app.app_context():
        rows = db.session().execute(select(FulfilmentItem).where(FulfilmentItem.request_id == req.id)).scalars()
        return {i.system: i for i in rows}


def _run(app, req):
    with app.app_context():
        return runs.run_case(db.session(), get_case(app, req.reference))


def test_access_runs_from_the_verified_identity_and_is_packaged_without_anyone_else(app, example, runner):
    req = _verified_case(app, example, "access")
    with app.app_context():
        queued = db.session().execute(select(FulfilmentRun)).scalars().all()
    assert {r.action for r in queued} == {"access"} and len(queued) == 3  # claims, marketing, web
    result = runner.invoke(args=["fulfil", "run", req.reference])
    assert result.exit_code == 0, result.output
    items = _items(app, req)
    claims = items["billgenix_claims"]
    assert claims.state == "done" and claims.found is True and claims.answered_via == "connector"
    rows = claims.detail["access"]["rows"]
    assert rows["billgenix_claims:claimants"] == 1 and rows["billgenix_claims:claims"] >= 1
    subject_id, email = _claimant(example)
    assert email not in json.dumps(claims.detail) and email not in (claims.outcome_note or "")  # counts, never values
    out = example / "package.json"
    result = runner.invoke(args=["fulfil", "package", req.reference, "--out", str(out)])
    assert result.exit_code == 0, result.output
    package = json.loads(out.read_text())
    assert package["request"]["reference"] == req.reference
    people = package["data"]["billgenix_claims:claimants"]
    assert len(people) == 1 and people[0].get("email") == email
    others = [_claimant(example, n)[1] for n in range(1, 13) if n != 3]
    assert not any(o in out.read_text() for o in others)  # a neighbour sharing a ZIP code is not pulled in
    with app.app_context():
        s = db.session()
        doc = access_package.stored(s, get_case(app, req.reference))
        assert doc is not None and doc.purpose == "access_package"
        events = [e.detail or "" for e in s.execute(select(AuditEvent).where(AuditEvent.request_id == req.id)).scalars()]
    assert any("access in billgenix_claims" in e for e in events) and not any(email in e for e in events)


def test_an_access_item_is_claimed_once_and_not_run_twice(app, example):
    req = _verified_case(app, example, "access")
    assert _run(app, req) == 3
    assert _run(app, req) == 0
    with app.app_context():
        assert {r.status for r in db.session().execute(select(FulfilmentRun)).scalars()} == {"done"}


def test_an_unreachable_database_is_retried_with_backoff_then_runs(app, example):
    req = _verified_case(app, example, "access")
    (example / "example" / "web.db").rename(example / "web.db.away")
    assert _run(app, req) == 2
    with app.app_context():
        web = _items(app, req)["billgenix_web"]
        run = db.session().execute(select(FulfilmentRun).where(FulfilmentRun.item_id == web.id)).scalar()
    assert run.status == "pending" and run.attempts == 1 and "does not exist" in run.last_error
    assert web.state == "pending"
    (example / "web.db.away").rename(example / "example" / "web.db")
    assert _run(app, req) == 1  # `fulfil run` does not wait for the backoff
    assert _items(app, req)["billgenix_web"].state in ("done", "not_found")


def test_an_erasure_changes_nothing_until_two_admins_approve_then_runs_with_evidence(app, example, runner):
    first, second = make_staff(app, "admin"), make_staff(app, "admin", "second-admin@billgenix.example")
    support = make_staff(app, "support")
    before = {name: _dump(example, name) for name in ("claims", "marketing")}
    subject_id, email = _claimant(example)
    req = _verified_case(app, example, "delete")
    assert _run(app, req) == 2  # the previews
    items = _items(app, req)
    claims = items["billgenix_claims"]
    assert claims.state == "pending" and claims.detail["approvals_needed"] == 2
    preview = claims.detail["preview"]
    assert any(c["rows_found"] for c in preview["collections"]) and any(c["retained"] for c in preview["collections"])
    with app.app_context():
        with pytest.raises(approvals.ApprovalRefused):
            approvals.approve(db.session(), req=get_case(app, req.reference), staff=support, item_id=claims.id)
    result = runner.invoke(args=["fulfil", "approve", req.reference, "--staff", first.email])
    assert result.exit_code == 0 and "(1 of 2)" in result.output, result.output
    result = runner.invoke(args=["fulfil", "approve", req.reference, "--staff", first.email])
    assert result.exit_code != 0 and "second person" in result.output
    assert _run(app, req) == 0
    assert {name: _dump(example, name) for name in ("claims", "marketing")} == before  # nothing changed
    result = runner.invoke(args=["fulfil", "approve", req.reference, "--staff", second.email])
    assert result.exit_code == 0 and "(2 of 2)" in result.output, result.output
    assert _run(app, req) == 1
    claims = _items(app, req)["billgenix_claims"]
    assert claims.state == "done" and claims.detail["evidence"]["ok"] is True
    with sqlite3.connect(example / "example" / "claims.db") as conn:
        row = conn.execute("SELECT email, phone FROM claimants WHERE subject_id = ?", (subject_id,)).fetchone()
    assert row == (None, None) or email not in row  # erased or anonymized as the rules say
    assert _dump(example, "marketing") == before["marketing"]  # the marketing item waits for its own approval
    with app.app_context():
        events = db.session().execute(select(AuditEvent).where(AuditEvent.request_id == req.id,
                                                                AuditEvent.action == "fulfilment_erase")).scalars().all()
    assert len(events) == 1 and first.email in events[0].detail and second.email in events[0].detail
    assert email not in events[0].detail


def _subscribed_claimant(example) -> int:
    with sqlite3.connect(example / "example" / "marketing.db") as conn:
        emails = {r[0] for r in conn.execute("SELECT email FROM subscribers")}
    return next(n for n in range(1, 13) if _claimant(example, n)[1] in emails)


def test_a_failed_erasure_names_system_and_collection_and_staff_retry_it(app, example):
    admin = make_staff(app, "admin")
    req = _verified_case(app, example, "delete", number=_subscribed_claimant(example))
    _run(app, req)
    marketing = _items(app, req)["billgenix_marketing"]
    with sqlite3.connect(example / "example" / "marketing.db") as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE DELETE ON campaign_clicks BEGIN SELECT RAISE(ABORT, 'refused'); END")
        conn.execute("CREATE TRIGGER refuse2 BEFORE UPDATE ON campaign_clicks BEGIN SELECT RAISE(ABORT, 'refused'); END")
        conn.execute("CREATE TRIGGER refuse3 BEFORE DELETE ON subscribers BEGIN SELECT RAISE(ABORT, 'refused'); END")
        conn.execute("CREATE TRIGGER refuse4 BEFORE UPDATE ON subscribers BEGIN SELECT RAISE(ABORT, 'refused'); END")
    before = _dump(example, "marketing")
    with app.app_context():
        approvals.approve(db.session(), req=get_case(app, req.reference), staff=admin, item_id=marketing.id)
    _run(app, req)
    marketing = _items(app, req)["billgenix_marketing"]
    assert marketing.state == "failed" and "Marketing list" in marketing.outcome_note
    assert "billgenix_marketing:" in marketing.outcome_note
    assert _dump(example, "marketing") == before  # rolled back
    with sqlite3.connect(example / "example" / "marketing.db") as conn:
        for name in ("refuse", "refuse2", "refuse3", "refuse4"):
            conn.execute(f"DROP TRIGGER {name}")
    with app.app_context():
        approvals.retry(db.session(), req=get_case(app, req.reference), staff=admin, item_id=marketing.id)
    _run(app, req)
    with app.app_context():
        approvals.approve(db.session(), req=get_case(app, req.reference), staff=admin, item_id=marketing.id)
    _run(app, req)
    assert _items(app, req)["billgenix_marketing"].state == "done"


def test_staff_review_the_package_and_release_it_with_the_completion_and_approve_on_the_case_page(app, example):
    from portal.models import ResponseFile
    from portal.services.fulfilment import answers

    from ..support import post_action, sign_in

    support, admin = make_staff(app, "support"), make_staff(app, "admin")
    subject_id, email = _claimant(example)
    req = new_case(app, "access", "verifying", email=email, access_scope="specific")
    with app.app_context():
        db.session().add(VerificationAttempt(request_id=req.id, subject_key=subject_id, outcome="verified"))
        db.session().commit()
    req = _to_in_progress(app, req)
    _run(app, req)
    with app.app_context():
        staff_item = _items(app, req)["billgenix_support"]
        answers.record(db.session(), req=get_case(app, req.reference), item_id=staff_item.id, staff=support,
                       state="not_found", note="Searched the help desk.")
    client = app.test_client()
    sign_in(client, support)
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "access package is ready" in page
    report = client.get(f"/staff/requests/{req.reference}/access-package.html")
    assert report.status_code == 200 and b"<" in report.data
    printed = client.get(f"/staff/requests/{req.reference}/access-package.pdf")  # for a requester answered by post
    assert printed.status_code == 200 and printed.data.startswith(b"%PDF-") and "PDF to print and post" in page
    resp = post_action(client, req.reference, "complete", {"outcome": "completed", "message": "Here is your data.",
                                                           "use_package": "y", "sensitive": "mask"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:2000]
    with app.app_context():
        kinds = {f.kind for f in db.session().execute(select(ResponseFile).where(ResponseFile.request_id == req.id)).scalars()}
    assert kinds == {"json", "csv"}
    # An erasure approved through the case page's form.
    deletion = _verified_case(app, example, "delete", number=_subscribed_claimant(example))
    _run(app, deletion)
    marketing = _items(app, deletion)["billgenix_marketing"]
    admin_client = app.test_client()
    sign_in(admin_client, admin)
    page = admin_client.get(f"/staff/requests/{deletion.reference}").get_data(as_text=True)
    assert "Erasure preview in Marketing list" in page and "Approve this erasure" in page
    from ..support import csrf_from
    token = csrf_from(page)
    resp = admin_client.post(f"/staff/requests/{deletion.reference}/plan/{marketing.id}/approve", data={"csrf_token": token})
    assert resp.status_code == 303
    assert _items(app, deletion)["billgenix_marketing"].state == "in_progress"
    _run(app, deletion)
    assert _items(app, deletion)["billgenix_marketing"].state == "done"
