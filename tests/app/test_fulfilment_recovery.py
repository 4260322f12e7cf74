"""Runs that stopped half-way, on the Billgenix example: a worker that died after the business's
database committed an erasure but before the portal recorded it (the next run recognises the erasure
as applied and records it with evidence, erasing nothing twice)."""
import pytest
from sqlalchemy import select, update

from portal import db
from portal.models import AuditEvent, FulfilmentRun
from portal.services.fulfilment import approvals, runs

from ..support import get_case, make_staff
from . import test_fulfilment_runs as runs_tests
from .test_fulfilment_runs import _dump, _items, _run, _subscribed_claimant, _verified_case

built, example, app_config = runs_tests.built, runs_tests.example, runs_tests.app_config  # the same fixtures


class WorkerKilled(BaseException):
    """Stands for kill -9: nothing after it runs, no except clause of the worker catches it."""


def test_an_erasure_committed_before_the_worker_died_is_recorded_on_the_next_run_not_redone(app, example, monkeypatch):
    admin = make_staff(app, "admin")
    req = _verified_case(app, example, "delete", number=_subscribed_claimant(example))
    _run(app, req)
    marketing = _items(app, req)["billgenix_marketing"]
    with app.app_context():
        approvals.approve(db.session(), req=get_case(app, req.reference), staff=admin, item_id=marketing.id)
    before = _dump(example, "marketing")
    finish = runs._finish

    def die_after_the_business_committed(session, run, done):
        raise WorkerKilled

    monkeypatch.setattr(runs, "_finish", die_after_the_business_committed)
    with pytest.raises(WorkerKilled):
        _run(app, req)
    erased = _dump(example, "marketing")
    assert erased != before  # the business's database committed the erasure
    with app.app_context():
        run = db.session().execute(select(FulfilmentRun).where(FulfilmentRun.item_id == marketing.id,
                                                               FulfilmentRun.action == "erase")).scalar_one()
    assert run.status == "pending" and run.attempts == 1 and run.claimed_until is not None  # nothing recorded
    assert _items(app, req)["billgenix_marketing"].state == "in_progress"

    monkeypatch.setattr(runs, "_finish", finish)  # the worker is back...
    with app.app_context():  # the dead worker's claim runs out (FULFIL_RUN_CLAIM_SECONDS)
        s = db.session()
        s.execute(update(FulfilmentRun).where(FulfilmentRun.id == run.id).values(claimed_until=FulfilmentRun.created_at))
        s.commit()
    assert _run(app, req) == 1, _items(app, req)["billgenix_marketing"].outcome_note  # the dead worker's claim ran out
    item = _items(app, req)["billgenix_marketing"]
    assert item.state == "done" and item.found is True, item.outcome_note
    assert item.detail["evidence"]["ok"] is True and item.detail["evidence"]["found_applied"] is True
    assert "previous run had committed it" in item.outcome_note
    assert _dump(example, "marketing") == erased  # nothing erased twice
    with app.app_context():
        events = db.session().execute(select(AuditEvent).where(AuditEvent.request_id == req.id,
                                                                AuditEvent.action == "fulfilment_erase")).scalars().all()
        assert [e.detail for e in events if "found applied on a re-run" in e.detail]
        run = db.session().get(FulfilmentRun, run.id)
    assert run.status == "done" and run.attempts == 2


def test_a_retried_erasure_whose_values_are_still_there_runs_normally(app, example):
    """A run tried before because the database was unreachable: the values are there, so it erases."""
    admin = make_staff(app, "admin")
    req = _verified_case(app, example, "delete", number=_subscribed_claimant(example))
    _run(app, req)
    marketing = _items(app, req)["billgenix_marketing"]
    with app.app_context():
        approvals.approve(db.session(), req=get_case(app, req.reference), staff=admin, item_id=marketing.id)
    before = _dump(example, "marketing")
    (example / "example" / "marketing.db").rename(example / "marketing.db.away")
    assert _run(app, req) == 0
    (example / "marketing.db.away").rename(example / "example" / "marketing.db")
    assert _run(app, req) == 1
    item = _items(app, req)["billgenix_marketing"]
    assert item.state == "done" and item.detail["evidence"]["found_applied"] is False
    assert _dump(example, "marketing") != before


def _fail_building_once(monkeypatch):
    from portal.services.fulfilment.connectors import package

    build = package.build_package
    calls = []

    def broken(**kw):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")
        return build(**kw)

    monkeypatch.setattr(package, "build_package", broken)
    return calls


def test_an_access_package_that_failed_is_built_again_by_the_worker(app, example):
    from portal.services.fulfilment import access_package

    calls = _fail_building_once(monkeypatch := pytest.MonkeyPatch())
    try:
        req = runs_tests._verified_case(app, example, "access")
        assert runs.deliver_for_app(app) == 3  # a worker pass: the items are recorded...
        with app.app_context():
            assert access_package.stored(db.session(), get_case(app, req.reference)) is None  # ...the package failed
            rebuild = db.session().execute(select(FulfilmentRun).where(FulfilmentRun.action == "package")).scalar_one()
            assert rebuild.status == "pending"
            db.session().execute(update(FulfilmentRun).where(FulfilmentRun.id == rebuild.id)
                                 .values(next_attempt_at=FulfilmentRun.created_at))
            db.session().commit()
        assert runs.deliver_for_app(app) == 1  # a later worker pass
        assert len(calls) == 2
        with app.app_context():
            assert access_package.stored(db.session(), get_case(app, req.reference)) is not None
            assert db.session().get(FulfilmentRun, rebuild.id).status == "done"
        assert {i.state for i in _items(app, req).values() if i.kind == "automatic"} <= {"done", "not_found"}
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("command", ["run", "package"])
def test_fulfil_run_or_package_builds_a_package_that_failed(app, example, runner, monkeypatch, command):
    _fail_building_once(monkeypatch)
    req = runs_tests._verified_case(app, example, "access")
    _run(app, req)
    out = example / "package.json"
    args = ["fulfil", "package", req.reference, "--out", str(out)]
    if command == "run":
        assert runner.invoke(args=["fulfil", "run", req.reference]).exit_code == 0
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert req.reference in out.read_text()
