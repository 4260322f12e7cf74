"""Staff accounts without HTTP: hashing, lockout window edges, TOTP, invitations, roles."""
import re
from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from portal import clock
from portal.models import AuditEvent, OutboxMessage, StaffInvitation, StaffUser
from portal.services.staff import accounts as staff
from portal.services.staff import invitations
from portal.services.staff.accounts import InvitationError, StaffError

from ..support import STAFF_PASSWORD

NOW = clock.now().replace(microsecond=0)


def _make(session, email="ana@staff.example", role="support", password=STAFF_PASSWORD):
    return staff.create(session, email=email, role=role, password=password)


def _actions(session):
    return [e.action for e in session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars()]


def test_password_is_argon2id_and_never_stored_in_clear(session):
    user = _make(session)
    assert user.password_hash.startswith("$argon2id$")
    assert STAFF_PASSWORD not in user.password_hash
    assert staff.verify_password(user.password_hash, STAFF_PASSWORD)
    assert not staff.verify_password(user.password_hash, STAFF_PASSWORD + "x")
    assert not staff.verify_password(None, STAFF_PASSWORD)  # the dummy hash never matches
    assert not staff.verify_password("not-a-hash", STAFF_PASSWORD)
    assert _actions(session) == ["staff_created"]


def test_unknown_email_still_costs_one_argon2_verification(session, monkeypatch):
    calls = []
    original = PasswordHasher.verify
    monkeypatch.setattr(PasswordHasher, "verify", lambda self, h, p: calls.append(h) or original(self, h, p))
    assert staff.authenticate(session, email="nobody@staff.example", password="whatever it is") is None
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


@pytest.mark.parametrize("password, ok", [("short", False), ("elevenchars", False), ("twelve chars", True),
                                          ("aaaaaaaaaaaaaaaa", False), ("ana-is-my-password", False)])
def test_weak_passwords_are_refused(session, password, ok):
    assert (staff.password_problem(password, "ana@staff.example") is None) is ok
    if not ok:
        with pytest.raises(StaffError):
            _make(session, password=password)


def test_sign_in_rehashes_when_parameters_change(app, session):
    app.config["ARGON2_TIME_COST"] = 2
    app.config["ARGON2_MEMORY_KIB"] = 8192
    user = _make(session)
    old = user.password_hash
    assert "m=8192,t=2" in old
    app.config["ARGON2_TIME_COST"] = 3
    app.config["ARGON2_MEMORY_KIB"] = 16384
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD) is not None
    session.refresh(user)
    assert "m=16384,t=3" in user.password_hash and user.password_hash != old
    assert staff.verify_password(user.password_hash, STAFF_PASSWORD)


def test_email_is_case_insensitive_and_unique(session):
    _make(session, email="Ana@Staff.example")
    assert staff.authenticate(session, email="ANA@staff.EXAMPLE ", password=STAFF_PASSWORD) is not None
    with pytest.raises(StaffError):
        _make(session, email="ana@staff.example")


def test_lockout_window_edges(app, session):
    user = _make(session)
    for _attempt in range(4):
        assert staff.authenticate(session, email=user.email, password="wrong password", now=NOW) is None
    session.refresh(user)
    assert user.failed_logins == 4 and user.locked_until is None
    # The fifth failure locks for exactly STAFF_LOCKOUT_MINUTES.
    assert staff.authenticate(session, email=user.email, password="wrong password", now=NOW) is None
    session.refresh(user)
    assert user.locked_until == NOW + timedelta(minutes=15)
    # Locked: even the right password is refused, up to the last second of the window.
    last_second = NOW + timedelta(minutes=15) - timedelta(seconds=1)
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD, now=last_second) is None
    # At the end of the window the right password works again, and the count starts afresh.
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD, now=NOW + timedelta(minutes=15))
    session.refresh(user)
    assert user.failed_logins == 0 and user.locked_until is None
    assert _actions(session) == ["staff_created", "staff_locked_out", "staff_signed_in"]


def test_lockout_is_configurable_and_success_resets_the_count(app, session):
    app.config.update(STAFF_LOCKOUT_ATTEMPTS=2, STAFF_LOCKOUT_MINUTES=1)
    user = _make(session)
    assert staff.authenticate(session, email=user.email, password="wrong password", now=NOW) is None
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD, now=NOW)
    assert staff.authenticate(session, email=user.email, password="wrong password", now=NOW) is None
    session.refresh(user)
    assert user.failed_logins == 1 and user.locked_until is None  # the success reset the count
    assert staff.authenticate(session, email=user.email, password="wrong password", now=NOW) is None
    session.refresh(user)
    assert user.locked_until == NOW + timedelta(minutes=1)


def test_deactivated_or_invited_accounts_cannot_sign_in(session):
    admin = _make(session, email="admin@staff.example", role="admin")
    user = _make(session)
    staff.deactivate(session, target=user, by=admin)
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD) is None
    invited = invitations.invite(session, email="new@staff.example", role="viewer", by=admin)
    assert invited.password_hash is None
    assert staff.authenticate(session, email=invited.email, password="") is None


def _enrol(session, user, now=NOW):
    staff.start_totp(session, user=user)
    enrolment = staff.totp_enrolment(user)
    assert enrolment.qr_data_uri.startswith("data:image/svg+xml")
    assert enrolment.uri.startswith("otpauth://totp/") and enrolment.secret in enrolment.uri
    totp = pyotp.TOTP(enrolment.secret)
    staff.confirm_totp(session, user=user, code=totp.at(now), now=now)
    return totp


def test_totp_enrolment_needs_a_right_code(session):
    user = _make(session)
    staff.start_totp(session, user=user)
    assert not user.totp_enabled
    totp = pyotp.TOTP(user.totp_secret)
    with pytest.raises(StaffError):
        staff.confirm_totp(session, user=user, code=totp.at(NOW - timedelta(minutes=5)), now=NOW)
    epoch = user.session_epoch
    staff.confirm_totp(session, user=user, code=totp.at(NOW), now=NOW)
    assert user.totp_enabled and user.session_epoch == epoch + 1
    assert staff.totp_enrolment(user) is None
    with pytest.raises(StaffError):
        staff.start_totp(session, user=user)  # only an admin can reset it


def test_totp_sign_in(session):
    user = _make(session)
    totp = _enrol(session, user)
    later = NOW + timedelta(minutes=2)
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD, now=later) is None
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD, otp="000000", now=later) is None
    assert staff.authenticate(session, email=user.email, password="wrong password", otp=totp.at(later), now=later) is None
    # One step of clock drift either way is accepted, two is not.
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD,
                              otp=totp.at(later - timedelta(seconds=60)), now=later) is None
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD,
                              otp=totp.at(later - timedelta(seconds=30)), now=later) is not None


def test_a_totp_code_is_accepted_once(session):
    user = _make(session)
    totp = _enrol(session, user)
    later = NOW + timedelta(minutes=2)
    code = totp.at(later)
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD, otp=code, now=later)
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD, otp=code, now=later) is None
    session.refresh(user)
    assert user.failed_logins == 1


def test_admin_resets_totp(session):
    admin = _make(session, email="admin@staff.example", role="admin")
    user = _make(session)
    _enrol(session, user)
    epoch = user.session_epoch
    staff.reset_totp(session, target=user, by=admin)
    assert not user.totp_enabled and user.totp_secret is None and user.session_epoch == epoch + 1
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD) is not None
    event = session.execute(select(AuditEvent).where(AuditEvent.action == "staff_totp_reset")).scalar_one()
    assert event.actor == f"staff:{admin.id}" and event.detail == f"staff:{user.id}"


def _invitation_token(session, email):
    mail = session.execute(select(OutboxMessage).where(OutboxMessage.to_addr == email)
                           .order_by(OutboxMessage.id.desc())).scalars().first()
    return re.search(r"https?://\S+/staff/invite/(\S+)", mail.text_body).group(1)


def test_invitation_is_single_use(session):
    admin = _make(session, email="admin@staff.example", role="admin")
    user = invitations.invite(session, email="Bo@Staff.example", role="support", name="Bo", by=admin, now=NOW)
    assert user.email == "bo@staff.example" and user.password_hash is None
    token = _invitation_token(session, user.email)
    _row, found = invitations.check_invitation(session, token=token, now=NOW)  # checking spends nothing
    assert found.id == user.id
    with pytest.raises(StaffError):
        invitations.accept_invitation(session, token=token, password="short", now=NOW)
    epoch = user.session_epoch
    invitations.accept_invitation(session, token=token, password=STAFF_PASSWORD, now=NOW + timedelta(hours=1))
    assert user.session_epoch == epoch + 1
    assert staff.authenticate(session, email=user.email, password=STAFF_PASSWORD) is not None
    with pytest.raises(InvitationError) as exc:
        invitations.accept_invitation(session, token=token, password="another good password", now=NOW)
    assert exc.value.reason == "used"
    assert staff.verify_password(session.get(StaffUser, user.id).password_hash, STAFF_PASSWORD)


def test_invitation_expires(session):
    admin = _make(session, email="admin@staff.example", role="admin")
    user = invitations.invite(session, email="bo@staff.example", role="viewer", by=admin, now=NOW)
    token = _invitation_token(session, user.email)
    invitations.check_invitation(session, token=token, now=NOW + timedelta(hours=72) - timedelta(seconds=1))
    with pytest.raises(InvitationError) as exc:
        invitations.accept_invitation(session, token=token, password=STAFF_PASSWORD, now=NOW + timedelta(hours=72))
    assert exc.value.reason == "expired"
    assert session.get(StaffUser, user.id).password_hash is None


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
                                    lambda t: "x" + t, lambda t: "not-a-token"])
def test_tampered_invitation_is_invalid(session, mangle):
    admin = _make(session, email="admin@staff.example", role="admin")
    user = invitations.invite(session, email="bo@staff.example", role="viewer", by=admin, now=NOW)
    token = _invitation_token(session, user.email)
    with pytest.raises(InvitationError) as exc:
        invitations.accept_invitation(session, token=mangle(token), password=STAFF_PASSWORD, now=NOW)
    assert exc.value.reason == "invalid"


def test_new_invitation_replaces_the_old_one_and_deactivation_voids_it(session):
    admin = _make(session, email="admin@staff.example", role="admin")
    user = invitations.invite(session, email="bo@staff.example", role="viewer", by=admin, now=NOW)
    first = _invitation_token(session, user.email)
    invitations.resend_invitation(session, target=user, by=admin, now=NOW)
    second = _invitation_token(session, user.email)
    assert first != second
    with pytest.raises(InvitationError) as exc:
        invitations.check_invitation(session, token=first, now=NOW)
    assert exc.value.reason == "invalid"
    staff.deactivate(session, target=user, by=admin)
    with pytest.raises(InvitationError):
        invitations.check_invitation(session, token=second, now=NOW)
    assert session.execute(select(StaffInvitation)).scalars().all() == []


def test_the_last_active_admin_cannot_leave(session):
    admin = _make(session, email="admin@staff.example", role="admin")
    with pytest.raises(StaffError):
        staff.change_role(session, target=admin, role="support", by=admin)
    with pytest.raises(StaffError):
        staff.deactivate(session, target=admin, by=admin)
    other = _make(session, email="other@staff.example", role="admin")
    staff.deactivate(session, target=other, by=admin)  # leaves one active admin: allowed
    with pytest.raises(StaffError):
        staff.change_role(session, target=admin, role="viewer", by=admin)  # a deactivated admin does not count
    staff.reactivate(session, target=other, by=admin)
    epoch = admin.session_epoch
    staff.change_role(session, target=admin, role="viewer", by=admin)
    assert admin.role == "viewer" and admin.session_epoch == epoch + 1
    event = session.execute(select(AuditEvent).where(AuditEvent.action == "staff_role_changed")).scalar_one()
    assert event.detail == f"staff:{admin.id} admin -> viewer" and event.request_id is None
