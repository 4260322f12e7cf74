"""A reference between two systems' databases followed by the app's runs: the loyalty program (its own
SQLite file, no identity field) is reached through the CRM's values for the verified person, in the
access item and in the erasure's preview and execution."""
import json
import sqlite3

import pytest

from portal import db
from portal.services.fulfilment import approvals

from ..support import get_case, make_staff, new_case
from ..unit.fulfilment.connectors import test_across_databases as across_map
from .test_fulfilment_runs import _items, _run, _to_in_progress


@pytest.fixture
def example(tmp_path):
    """The CRM and the loyalty program, each on its own SQLite file, with their map."""
    crm, loyalty = tmp_path / "crm.db", tmp_path / "loyalty.db"
    across_map._build(f"sqlite:///{crm}", f"sqlite:///{loyalty}")
    folder = tmp_path / "datamap"
    folder.mkdir()
    (folder / "crm.yml").write_text(across_map.CRM)
    (folder / "loyalty.yml").write_text(across_map.LOYALTY)
    (folder / "rules.yml").write_text(across_map.RULES)
    (folder / "systems.yml").write_text(
        "systems:\n"
        f"  - {{dataset: crm, name: CRM, connection: 'sqlite:///file:{crm}?mode=ro&uri=true', "
        f"write_connection: 'sqlite:///{crm}', owner: crm@example.com}}\n"
        f"  - {{dataset: loyalty, name: Loyalty program, connection: 'sqlite:///file:{loyalty}?mode=ro&uri=true', "
        f"write_connection: 'sqlite:///{loyalty}', owner: loyalty@example.com}}\n")
    return tmp_path


@pytest.fixture
def app_config(app_config, example):
    app_config.update(DATAMAP_PATH=str(example / "datamap"))
    return app_config


def _loyalty(example):
    with sqlite3.connect(example / "loyalty.db") as conn:
        return (conn.execute("SELECT number, nickname FROM members ORDER BY number").fetchall(),
                conn.execute("SELECT id, card_holder FROM cards ORDER BY id").fetchall())


def _case(app, request_type):
    """A verified case of ana@example.com (her confirmed email is the seed)."""
    return _to_in_progress(app, new_case(app, request_type, "verifying", email="ana@example.com"))


def test_access_reaches_the_other_database_through_the_crm(app, example, runner, tmp_path):
    req = _case(app, "access")
    result = runner.invoke(args=["fulfil", "run", req.reference])
    assert result.exit_code == 0, result.output
    loyalty = _items(app, req)["loyalty"]
    assert loyalty.state == "done" and loyalty.detail["access"]["rows"] == {"loyalty:members": 1, "loyalty:cards": 2}
    out = tmp_path / "package.json"
    assert runner.invoke(args=["fulfil", "package", req.reference, "--out", str(out)]).exit_code == 0
    data = json.loads(out.read_text())["data"]
    assert [m["nickname"] for m in data["loyalty:members"]] == ["Ani"]
    assert "LUIS P" not in out.read_text() and "Lu" not in [m["nickname"] for m in data["loyalty:members"]]


def test_an_erasure_in_the_other_database_waits_for_approval_and_touches_the_person_only(app, example):
    admin = make_staff(app, "admin")
    before = _loyalty(example)
    req = _case(app, "delete")
    assert _run(app, req) == 2  # the previews
    loyalty = _items(app, req)["loyalty"]
    rows = {c["key"]: c["rows_found"] for c in loyalty.detail["preview"]["collections"]}
    assert rows == {"loyalty:members": 1, "loyalty:cards": 2}
    assert _run(app, req) == 0 and _loyalty(example) == before
    with app.app_context():
        approvals.approve(db.session(), req=get_case(app, req.reference), staff=admin, item_id=loyalty.id)
    assert _run(app, req) == 1
    assert _items(app, req)["loyalty"].state == "done"
    assert _loyalty(example) == ([("L-100", None), ("L-200", "Lu"), ("L-300", "Ro")],
                                 [(10, None), (11, None), (20, "LUIS P"), (30, "ROSA T")])


def test_the_other_database_is_erased_even_after_the_crm_erased_the_email_that_led_there(app, example):
    """The CRM's erasure nulls the email the loyalty program's rows were reached through; the loyalty
    erasure approved after it still reaches them: the values carried in at its preview were kept,
    encrypted, on the item until its run ended."""
    admin = make_staff(app, "admin")
    req = _case(app, "delete")
    assert _run(app, req) == 2
    items = _items(app, req)
    sealed = items["loyalty"].detail["carried_values"]
    assert sealed and "L-100" not in sealed and "ana@example.com" not in json.dumps(items["loyalty"].detail)
    with app.app_context():
        approvals.approve(db.session(), req=get_case(app, req.reference), staff=admin, item_id=items["crm"].id)
    assert _run(app, req) == 1
    with sqlite3.connect(example / "crm.db") as conn:
        assert conn.execute("SELECT email FROM customers WHERE id = 1").fetchone() == (None,)
    with app.app_context():
        approvals.approve(db.session(), req=get_case(app, req.reference), staff=admin, item_id=items["loyalty"].id)
    assert _run(app, req) == 1
    loyalty = _items(app, req)["loyalty"]
    assert loyalty.state == "done", loyalty.outcome_note
    assert loyalty.detail.get("carried_values") is None  # dropped when the run ended
    assert _loyalty(example) == ([("L-100", None), ("L-200", "Lu"), ("L-300", "Ro")],
                                 [(10, None), (11, None), (20, "LUIS P"), (30, "ROSA T")])


def test_a_case_that_closes_drops_the_values_carried_in(app, example):
    from portal.services.cases import submission, transitions

    req = _case(app, "delete")
    assert _run(app, req) == 2
    assert _items(app, req)["loyalty"].detail["carried_values"]
    with app.app_context():
        s = db.session()
        transitions.transition(s, submission.get_by_reference(s, req.reference), "withdrawn", actor="requester")
        s.commit()
    assert "carried_values" not in _items(app, req)["loyalty"].detail
