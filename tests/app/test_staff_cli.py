"""`flask staff create` and `flask audit verify` through the CLI runner."""
from sqlalchemy import delete, select, text

from portal import db
from portal.models import AuditEvent, StaffUser
from portal.services import audit
from portal.services.staff import accounts

from ..support import STAFF_PASSWORD, post_form


def _staff(app):
    with app.app_context():
        return db.session().execute(select(StaffUser)).scalars().all()


def test_staff_create_with_password_stdin_then_sign_in(runner, app, client):
    result = runner.invoke(args=["staff", "create", "Admin@Staff.example", "--role", "admin", "--password-stdin"],
                           input=STAFF_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    [user] = _staff(app)
    assert user.email == "admin@staff.example" and user.role == "admin" and user.password_hash.startswith("$argon2id$")
    assert STAFF_PASSWORD not in result.output
    resp = post_form(client, "/staff/login", {"email": "admin@staff.example", "password": STAFF_PASSWORD})
    assert resp.status_code == 303


def test_staff_create_prompts_twice_without_stdin(runner, app):
    result = runner.invoke(args=["staff", "create", "ana@staff.example", "--role", "support"],
                           input=f"{STAFF_PASSWORD}\nsomething else entirely\n{STAFF_PASSWORD}\n{STAFF_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") >= 2 and "Repeat the password" in result.output
    assert STAFF_PASSWORD not in result.output  # hidden input
    [user] = _staff(app)
    with app.app_context():
        assert accounts.verify_password(user.password_hash, STAFF_PASSWORD)


def test_staff_create_refuses_weak_passwords_bad_roles_and_duplicates(runner, app):
    weak = runner.invoke(args=["staff", "create", "ana@staff.example", "--role", "viewer", "--password-stdin"],
                         input="elevenchars\n")
    assert weak.exit_code == 1 and "at least 12 characters" in weak.output
    role = runner.invoke(args=["staff", "create", "ana@staff.example", "--role", "root", "--password-stdin"],
                         input=STAFF_PASSWORD + "\n")
    assert role.exit_code == 2
    bad_email = runner.invoke(args=["staff", "create", "not-an-email", "--role", "viewer", "--password-stdin"],
                              input=STAFF_PASSWORD + "\n")
    assert bad_email.exit_code == 2
    assert _staff(app) == []
    ok = runner.invoke(args=["staff", "create", "ana@staff.example", "--role", "viewer", "--password-stdin"],
                       input=STAFF_PASSWORD + "\n")
    assert ok.exit_code == 0
    dup = runner.invoke(args=["staff", "create", "ANA@staff.example", "--role", "admin", "--password-stdin"],
                        input=STAFF_PASSWORD + "\n")
    assert dup.exit_code == 1 and "already a staff account" in dup.output
    assert [u.role for u in _staff(app)] == ["viewer"]


def _three_events(app):
    with app.app_context():
        session = db.session()
        for action in ("one", "two", "three"):
            audit.record(session, action=action, actor="system")
        session.commit()
        return [e.id for e in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]


def test_audit_verify_ok(runner, app):
    empty = runner.invoke(args=["audit", "verify"])
    assert empty.exit_code == 0 and "audit chain OK: 0 events" in empty.output
    _three_events(app)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "audit chain OK: 3 events" in result.output


def test_audit_verify_finds_an_edited_event(runner, app):
    ids = _three_events(app)
    with app.app_context():
        session = db.session()
        session.execute(text("UPDATE audit_event SET detail = 'rewritten' WHERE id = :id"), {"id": ids[1]})
        session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"broken at event {ids[1]}" in result.output


def test_audit_verify_finds_a_deleted_event(runner, app):
    ids = _three_events(app)
    with app.app_context():
        session = db.session()
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
        session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"broken at event {ids[2]}" in result.output
