"""Correction through the app on the Billgenix example: staff choose a field and type its value on the
case page, the connector previews it, nothing changes before two admins approve (the claims system
holds health data), then one field is updated with before/after hashes in the audit chain; a field
whose rule says `refer` is a staff task on the item."""
import json
import sqlite3

from sqlalchemy import select

from portal import db
from portal.models import AuditEvent
from portal.services.fulfilment.connectors.hashing import evidence_key, keyed_hash_of

from ..support import csrf_from, make_staff, sign_in
from . import test_fulfilment_runs as runs_tests
from .test_fulfilment_runs import _claimant, _dump, _items, _run, _verified_case

built, example, app_config = runs_tests.built, runs_tests.example, runs_tests.app_config  # the same fixtures

NEW_PHONE = "(909) 555-0199"


def _phone(example, subject_id):
    with sqlite3.connect(example / "example" / "claims.db") as conn:
        return conn.execute("SELECT phone FROM claimants WHERE subject_id = ?", (subject_id,)).fetchone()[0]


def test_a_correction_updates_one_field_after_approval_with_hashes_and_refers_the_rest(app, example, runner):
    support = make_staff(app, "support")
    first, second = make_staff(app, "admin"), make_staff(app, "admin", "second-admin@billgenix.example")
    subject_id, email = _claimant(example)
    old_phone = _phone(example, subject_id)
    before = _dump(example, "claims")
    req = _verified_case(app, example, "correct")
    claims = _items(app, req)["billgenix_claims"]
    assert claims.kind == "automatic" and claims.state == "pending"
    assert _run(app, req) == 0  # nothing runs before staff choose the fields

    client = app.test_client()
    sign_in(client, support)
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Correction in Claims and billing" in page and 'name="value-claimants.phone"' in page
    assert 'name="refer-claimants.first_name"' in page and 'name="value-claimants.first_name"' not in page
    assert "2 New Ave" in page  # the requester's correction, beside the form
    resp = client.post(f"/staff/requests/{req.reference}/plan/{claims.id}/correct",
                       data={"csrf_token": csrf_from(page), "value-claimants.phone": NEW_PHONE,
                             "refer-claimants.first_name": "y"})
    assert resp.status_code == 303
    claims = _items(app, req)["billgenix_claims"]
    assert NEW_PHONE not in json.dumps(claims.detail)  # the value is kept encrypted until the run

    assert _run(app, req) == 1  # the preview
    claims = _items(app, req)["billgenix_claims"]
    assert claims.state == "pending" and claims.detail["approvals_needed"] == 2
    preview = claims.detail["correction_preview"]
    people = next(c for c in preview["collections"] if c["key"] == "billgenix_claims:claimants")
    assert people["rows_found"] == 1 and people["update"] == ["phone"]
    assert NEW_PHONE not in json.dumps(preview) and old_phone not in json.dumps(preview)
    assert any("first_name" in t for t in claims.detail["staff_tasks"])
    assert "claimants.first_name" in claims.instructions  # the refer field is a staff task with instructions
    page = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Correction preview in Claims and billing" in page

    result = runner.invoke(args=["fulfil", "approve", req.reference, "--staff", first.email])
    assert result.exit_code == 0 and "(1 of 2)" in result.output, result.output
    assert _run(app, req) == 0
    assert _dump(example, "claims") == before  # nothing changed before the second approval

    admin_client = app.test_client()
    sign_in(admin_client, second)
    page = admin_client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert "Approve this correction" in page
    resp = admin_client.post(f"/staff/requests/{req.reference}/plan/{claims.id}/approve",
                             data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303
    assert _run(app, req) == 1

    assert _phone(example, subject_id) == NEW_PHONE
    after = _dump(example, "claims")
    changed = [(t, a, b) for t in before for a, b in zip(before[t], after[t], strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0] == "claimants"  # one row of one table
    claims = _items(app, req)["billgenix_claims"]
    assert claims.state == "in_progress"  # the refer field's staff task remains, recorded by hand
    assert claims.detail["evidence"]["ok"] is True and claims.detail.get("correction_values") is None
    with app.app_context():
        events = db.session().execute(select(AuditEvent).where(AuditEvent.request_id == req.id,
                                                                AuditEvent.action == "fulfilment_correct")).scalars().all()
    assert len(events) == 1
    detail = events[0].detail
    key = evidence_key(app.config["SECRET_KEY"])
    assert f"phone before {keyed_hash_of(key, [old_phone])} after {keyed_hash_of(key, [NEW_PHONE])}" in detail
    assert old_phone not in detail and NEW_PHONE not in detail and email not in detail
    assert first.email in detail and second.email in detail
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_only_fields_the_rules_allow_are_corrected_and_a_refer_only_choice_is_a_staff_task(app, example):
    from portal.services.fulfilment import approvals, corrections

    from ..support import get_case

    support = make_staff(app, "support")
    req = _verified_case(app, example, "correct")
    claims = _items(app, req)["billgenix_claims"]
    with app.app_context():
        case = get_case(app, req.reference)
        for values, refer in (({"claimants.first_name": "Ana"}, []), ({"claimants.id": "9"}, []), ({}, [])):
            try:
                corrections.choose(db.session(), req=case, staff=support, item_id=claims.id, values=values, refer=refer)
            except approvals.ApprovalRefused:
                continue
            raise AssertionError(f"{values} was accepted")
        corrections.choose(db.session(), req=case, staff=support, item_id=claims.id, values={},
                           refer=["claims.body_part"])
    before = _dump(example, "claims")
    assert _run(app, req) == 1
    claims = _items(app, req)["billgenix_claims"]
    assert claims.state == "in_progress" and not claims.detail.get("correction_preview")
    assert any("claims.body_part" in t for t in claims.detail["staff_tasks"])
    assert _dump(example, "claims") == before
