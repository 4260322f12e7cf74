"""The requests service: submission, confirmation, duplicates, extension, expiry, audit chain."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from portal import clock, lifecycle
from portal.lifecycle import IllegalTransition
from portal.models import AuditEvent, OutboxMessage, PrivacyRequest
from portal.services import audit
from portal.services.cases import references, transitions, verification
from portal.services.cases import submission as requests
from portal.services.cases.submission import NewRequest
from portal.services.cases.transitions import StaleCase
from portal.services.identity import tiers, tokens


def new(kind="access", **kw):
    base = dict(request_type=kind, first_name="Ana", last_name="Ruiz", email="Ana@Example.org")
    if kind == "access":
        base["access_scope"] = "categories"
    return NewRequest(**{**base, **kw})


def outbox(session, template=None):
    q = select(OutboxMessage)
    if template:
        q = q.where(OutboxMessage.template == template)
    return session.execute(q).scalars().all()


def test_submission_records_the_clock_from_receipt(session):
    received = datetime(2026, 11, 20, 20, 0, tzinfo=timezone.utc)
    req = requests.submit(session, new=new("delete", declaration_signature="Ana Ruiz"), manner="phone",
                          received_at=received).request
    assert re_reference(req.reference)
    assert req.email == "ana@example.org" and req.manner == "phone" and req.status == "awaiting_email"
    assert req.acknowledgement_due == date(2026, 12, 8) and req.response_due == date(2027, 1, 4)
    assert req.declaration_signature == "Ana Ruiz" and req.declaration_signed_at is not None
    [mail] = outbox(session, "verify")
    assert mail.to_addr == "ana@example.org" and "/verify/" in mail.text_body


def re_reference(value):
    import re
    return re.fullmatch(r"PR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", value)


def test_references_are_random_not_sequential(session):
    refs = {requests.submit(session, new=new("opt_out", email=f"p{i}@example.org")).request.reference
            for i in range(20)}
    assert len(refs) == 20 and all(re_reference(r) for r in refs)


@pytest.mark.parametrize(("typed", "expected"), [
    ("PR-ABCD-1234", "PR-ABCD-1234"), ("pr abcd 1234", "PR-ABCD-1234"), ("abcd1234", "PR-ABCD-1234"),
    ("PR-0OIL-1234", "PR-0011-1234"), ("PR-ABCD-123", None), ("PR-ABCD-123U", None), ("", None),
])
def test_typed_references_are_forgiven(typed, expected):
    assert references.normalize(typed) == expected


def test_lookback_defaults_to_12_months_and_never_before_2022(session):
    assert requests.lookback_start("12_months", date(2026, 5, 10)) == date(2025, 5, 10)
    assert requests.lookback_start("12_months", date(2028, 2, 29)) == date(2027, 2, 28)
    assert requests.lookback_start("12_months", date(2022, 6, 1)) == date(2022, 1, 1)
    assert requests.lookback_start("since_2022", date(2026, 5, 10)) == date(2022, 1, 1)


def test_declaration_rules_follow_configuration(app, session):
    assert tiers.declaration_required("access", "specific")
    assert not tiers.declaration_required("access", "categories")
    assert tiers.declaration_required("delete", None) and tiers.declaration_required("correct", None)
    assert not tiers.declaration_required("opt_out", None)
    app.config["DECLARATION_REQUIRED_TYPES"] = ["correct"]
    assert not tiers.declaration_required("delete", None)


def test_confirmation_moves_on_and_acknowledges(session):
    req = requests.submit(session, new=new()).request
    token = tokens.issue(session, purpose="verify", request_id=req.id, ttl=timedelta(hours=1)).value
    confirmed = verification.confirm_email(session, token=token)
    # Confirmed, then matched at once: with an empty identity index the case waits for details.
    assert (confirmed.status, confirmed.hold_reason) == ("on_hold", "data_mismatch")
    assert confirmed.acknowledged_at is not None
    [ack] = outbox(session, "acknowledgement")
    assert req.reference in ack.subject and "What happens next" in ack.text_body
    actions = [e.action for e in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]
    assert actions == ["submitted", "email_confirmed", "verification_hold"]


def test_a_withdrawn_request_cannot_be_confirmed(session):
    req = requests.submit(session, new=new()).request
    token = tokens.issue(session, purpose="verify", request_id=req.id, ttl=timedelta(hours=1)).value
    requests.withdraw(session, req=req)
    with pytest.raises(tokens.TokenError):
        verification.confirm_email(session, token=token)
    assert session.get(PrivacyRequest, req.id).status == "withdrawn"


def test_transition_refuses_illegal_changes_and_writes_nothing(session):
    req = requests.submit(session, new=new("opt_out")).request
    events = session.execute(select(func.count()).select_from(AuditEvent)).scalar()
    with pytest.raises(IllegalTransition):
        transitions.transition(session, req, "verifying", actor="staff:1")
    session.rollback()
    assert session.get(PrivacyRequest, req.id).status == "in_progress"
    assert session.execute(select(func.count()).select_from(AuditEvent)).scalar() == events


def test_transition_checks_the_version_seen(session):
    req = requests.submit(session, new=new("opt_out")).request
    with pytest.raises(StaleCase):
        transitions.transition(session, req, "completed", actor="staff:1", expected_version=req.version - 1)
    transitions.transition(session, req, "completed", actor="staff:1", expected_version=req.version)
    session.commit()
    assert req.status == "completed" and req.closed_at is not None


def test_a_concurrent_write_is_refused_not_overwritten(app, session):
    """Two sessions load the same case; the second write fails instead of overwriting the first."""
    from sqlalchemy.orm.exc import StaleDataError
    from sqlmodel import Session
    req = requests.submit(session, new=new("opt_out")).request
    with Session(app.extensions["db_engine"], expire_on_commit=False) as other:
        theirs = other.get(PrivacyRequest, req.id)
        other.commit()  # a page loaded earlier: its transaction is long over
        transitions.transition(session, req, "completed", actor="staff:1")
        session.commit()
        theirs.status = "denied"
        with pytest.raises(StaleDataError):
            other.commit()
    assert session.get(PrivacyRequest, req.id).status == "completed"


def test_extension_once_with_reason_and_mail(session):
    req = requests.submit(session, new=new(), received_at=datetime(2026, 1, 20, 20, tzinfo=timezone.utc)).request
    requests.extend(session, req=req, days=30, reason="Records are held in an archive", actor="staff:1",
                    today=date(2026, 3, 6))
    assert req.extended_due == date(2026, 4, 5) and req.due == date(2026, 4, 5)
    [mail] = outbox(session, "extension")
    assert "Records are held in an archive" in mail.text_body and "April 5, 2026" in mail.text_body
    with pytest.raises(IllegalTransition, match="once only"):
        requests.extend(session, req=req, days=5, reason="again", actor="staff:1", today=date(2026, 3, 7))


def test_extension_refused_after_the_original_due_date_or_without_reason(session):
    req = requests.submit(session, new=new(), received_at=datetime(2026, 1, 20, 20, tzinfo=timezone.utc)).request
    with pytest.raises(IllegalTransition):
        requests.extend(session, req=req, days=10, reason="late", actor="staff:1", today=date(2026, 3, 7))
    with pytest.raises(IllegalTransition, match="reason"):
        requests.extend(session, req=req, days=10, reason="  ", actor="staff:1", today=date(2026, 3, 1))
    with pytest.raises(IllegalTransition):
        requests.extend(session, req=req, days=46, reason="too long", actor="staff:1", today=date(2026, 3, 1))
    assert req.extended_due is None and outbox(session, "extension") == []


def test_unconfirmed_requests_expire(app, session):
    old = requests.submit(session, new=new(email="old@example.org"),
                          received_at=clock.now() - timedelta(days=15)).request
    fresh = requests.submit(session, new=new(email="fresh@example.org")).request
    # Past the configured days but before the response due date: never closed (§7021(b)).
    assert requests.expire_unconfirmed(session) == 0
    assert session.get(PrivacyRequest, old.id).status == "awaiting_email"
    # At the due date: denied as unverifiable, mailed (tests/unit/test_unverifiable.py has the details).
    at_due = datetime.combine(old.due, datetime.min.time(), tzinfo=clock.PACIFIC) + timedelta(hours=1)
    assert requests.expire_unconfirmed(session, now=at_due) == 1
    assert session.get(PrivacyRequest, old.id).status == "denied"
    assert session.get(PrivacyRequest, fresh.id).status == "awaiting_email"
    assert [m.to_addr for m in outbox(session, "denied")] == ["old@example.org"]


def test_the_audit_chain_detects_tampering(session):
    for i in range(3):
        requests.submit(session, new=new("opt_out", email=f"c{i}@example.org"))
    assert audit.first_broken_link(session) is None
    second = session.execute(select(AuditEvent).order_by(AuditEvent.id).offset(1)).scalar()
    second.detail = "manner=mail"
    session.commit()
    assert audit.first_broken_link(session).id == second.id


def test_timeline_lists_status_changes_in_order(session):
    req = requests.submit(session, new=new()).request
    token = tokens.issue(session, purpose="verify", request_id=req.id, ttl=timedelta(hours=1)).value
    verification.confirm_email(session, token=token)
    entries = requests.timeline(session, req)
    assert [e.status for e in entries] == [lifecycle.AWAITING_EMAIL, lifecycle.VERIFYING, lifecycle.ON_HOLD]
