"""Staff accounts: argon2id passwords, sign-in with lockout, TOTP, roles, creating and deactivating
accounts (invitations.py invites; digest.py mails the daily list of due cases)."""
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import pyotp
import segno
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update
from sqlmodel import Session

from ... import clock, normalize
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...models import StaffInvitation, StaffUser
from .. import audit

log = logging.getLogger(__name__)

# The console's roles: what each may do is decided in portal.staff.access, from these names.
ADMIN, SUPPORT, VIEWER = "admin", "support", "viewer"
ROLES = (ADMIN, SUPPORT, VIEWER)
ROLE_LABELS = {ADMIN: _l("Admin"), SUPPORT: _l("Support"), VIEWER: _l("Viewer")}
# Who may act on cases (the viewer role only reads), and so who receives the daily digest.
CASE_WORKERS = (ADMIN, SUPPORT)
MAX_PASSWORD_LENGTH = 1024


class StaffError(Exception):
    """A refused staff-account action; str(exc) is a message for the person who asked."""


class InvitationError(Exception):
    """An invitation link that cannot be used; `reason` is one of invalid, expired, used."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- passwords -----------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)


def _params() -> tuple[int, int, int]:
    cfg = current_app.config
    return int(cfg["ARGON2_TIME_COST"]), int(cfg["ARGON2_MEMORY_KIB"]), int(cfg["ARGON2_PARALLELISM"])


def hasher() -> PasswordHasher:
    """An argon2id hasher with the configured parameters."""
    return _hasher(*_params())


@lru_cache(maxsize=8)
def _dummy_hash(params: tuple[int, int, int]) -> str:
    return _hasher(*params).hash(secrets.token_urlsafe(24))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches. Always runs one argon2 verification: without a hash it checks a
    dummy one, so an unknown account costs the same time as a wrong password (no enumeration)."""
    try:
        hasher().verify(password_hash or _dummy_hash(_params()), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why `password` is too weak, or None."""
    minimum = int(current_app.config["STAFF_PASSWORD_MIN_LENGTH"])
    if len(password or "") < minimum:
        return _("Use at least %(n)s characters.", n=minimum)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("Use at most %(n)s characters.", n=MAX_PASSWORD_LENGTH)
    if len(set(password)) < 4:
        return _("Use more different characters.")
    if email and normalize.email(email).partition("@")[0] in password.lower():
        return _("Do not use your email address in your password.")
    return None


# --- sign-in -------------------------------------------------------------------------------------

def find_by_email(session: Session, email: str) -> StaffUser | None:
    return session.execute(select(StaffUser).where(StaffUser.email == normalize.email(email))).scalar()


def is_locked(user: StaffUser, now: datetime) -> bool:
    return user.locked_until is not None and now < user.locked_until


@atomic
def authenticate(session: Session, *, email: str, password: str, otp: str | None = None,
                 now: datetime | None = None) -> StaffUser | None:
    """The staff member if the email, password (and TOTP code, when enabled) are right and the
    account is open; None otherwise. Every refusal looks the same to the caller and costs one
    argon2 verification, so neither the answer nor its timing tells an unknown email from a wrong
    password, a locked account or a deactivated one."""
    now = now or clock.now()
    user = find_by_email(session, email)
    usable = user is not None and user.active and user.password_hash is not None
    password_ok = verify_password(user.password_hash if usable else None, password or "")
    if not usable:
        session.rollback()
        log.info("staff sign-in refused: no usable account")
        return None
    if is_locked(user, now):
        session.rollback()
        log.info("staff sign-in refused: staff %s is locked out", user.id)
        return None
    step = totp_step(user, otp, now) if user.totp_enabled else None
    if not password_ok or (user.totp_enabled and (step is None or not _claim_step(session, user, step))):
        _record_failure(session, user, now)
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)  # the parameters changed since this hash was made
    audit.record(session, action="staff_signed_in", actor=audit.staff_actor(user))
    session.commit()
    log.info("staff %s signed in", user.id)
    return user


def _record_failure(session: Session, user: StaffUser, now: datetime) -> None:
    cfg = current_app.config
    # Counted in SQL, so simultaneous attempts cannot lose a failure.
    session.execute(update(StaffUser).where(StaffUser.id == user.id)
                    .values(failed_logins=StaffUser.failed_logins + 1).execution_options(synchronize_session=False))
    session.refresh(user)
    attempts = int(cfg["STAFF_LOCKOUT_ATTEMPTS"])
    if user.failed_logins >= attempts:
        user.failed_logins = 0  # a fresh count once the lockout window has passed
        user.locked_until = now + timedelta(minutes=int(cfg["STAFF_LOCKOUT_MINUTES"]))
        audit.record(session, action="staff_locked_out", actor=audit.staff_actor(user),
                     detail=f"{attempts} failed sign-ins; locked until {user.locked_until.isoformat()}")
        log.warning("staff %s locked out after %s failed sign-ins", user.id, attempts)
    else:
        log.info("staff sign-in refused: staff %s, failure %s", user.id, user.failed_logins)
    session.commit()


@atomic
def sign_out(session: Session, *, user: StaffUser) -> None:
    """End every session of this staff member: a copied session cookie stops working too."""
    touch(user, end_sessions=True)
    audit.record(session, action="staff_signed_out", actor=audit.staff_actor(user))
    session.commit()


@atomic
def change_password(session: Session, *, user: StaffUser, current: str, new: str) -> None:
    """Replace the password; every other session of this staff member ends."""
    if not verify_password(user.password_hash, current):
        raise StaffError(_("Your current password is not right."))
    problem = password_problem(new, user.email)
    if problem:
        raise StaffError(problem)
    user.password_hash = hash_password(new)
    touch(user, end_sessions=True)
    audit.record(session, action="staff_password_changed", actor=audit.staff_actor(user))
    session.commit()


# --- TOTP ----------------------------------------------------------------------------------------

def totp_step(user: StaffUser, code: str | None, now: datetime) -> int | None:
    """The time step `code` belongs to (now, or one step either side for clock drift), if it was
    not used before; None otherwise."""
    code = (code or "").replace(" ", "").strip()
    if not user.totp_secret or len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(user.totp_secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return None  # RFC 6238 §5.2: a code is accepted once
            return step
    return None


def _claim_step(session: Session, user: StaffUser, step: int) -> bool:
    """Record `step` as used; False if a simultaneous sign-in used it (or a later one) first."""
    done = session.execute(update(StaffUser).where(
        StaffUser.id == user.id, or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
    ).values(totp_last_step=step).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        return False
    user.totp_last_step = step
    return True


@atomic
def start_totp(session: Session, *, user: StaffUser) -> None:
    """A new secret for the staff member to scan; it is not required until they confirm a code."""
    if user.totp_enabled:
        raise StaffError(_("Two-step sign-in is already on. An admin can reset it."))
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    session.commit()


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    uri: str
    qr_data_uri: str

    @property
    def grouped_secret(self) -> str:
        return " ".join(self.secret[i:i + 4] for i in range(0, len(self.secret), 4))


def totp_enrolment(user: StaffUser) -> TotpEnrolment | None:
    """The pending secret as text, an otpauth:// URI and a QR code (SVG data: URI, allowed by the CSP)."""
    if not user.totp_secret or user.totp_enabled:
        return None
    issuer = f"{current_app.config['ORG_NAME']} Privacy Portal"
    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#000000", light="#ffffff")
    return TotpEnrolment(user.totp_secret, uri, qr)


@atomic
def confirm_totp(session: Session, *, user: StaffUser, code: str, now: datetime | None = None) -> None:
    """Turn TOTP on once the staff member proves their app shows the right codes."""
    now = now or clock.now()
    if user.totp_enabled or not user.totp_secret:
        raise StaffError(_("Start again: set up two-step sign-in first."))
    step = totp_step(user, code, now)
    if step is None:
        raise StaffError(_("That code is not right. Check the time on your phone and enter the newest code."))
    user.totp_enabled = True
    user.totp_last_step = step
    touch(user, end_sessions=True)
    audit.record(session, action="staff_totp_enabled", actor=audit.staff_actor(user))
    session.commit()


@atomic
def reset_totp(session: Session, *, target: StaffUser, by: StaffUser) -> None:
    """An admin turns a staff member's TOTP off (lost phone); they may enrol again."""
    target.totp_secret = None
    target.totp_enabled = False
    target.totp_last_step = None
    touch(target, end_sessions=True)
    audit.record(session, action="staff_totp_reset", actor=audit.staff_actor(by), detail=f"staff:{target.id}")
    session.commit()


# --- accounts ------------------------------------------------------------------------------------

def touch(user: StaffUser, *, end_sessions: bool = False) -> None:
    user.updated_at = clock.now()
    if end_sessions:
        user.session_epoch += 1  # the user loader refuses sessions that carry the old epoch


def check_new_account(session: Session, email: str, role: str) -> None:
    if role not in ROLES:
        raise StaffError(_("Choose one of the roles listed."))
    if find_by_email(session, email) is not None:
        raise StaffError(_("There is already a staff account with this email address."))


@atomic
def create(session: Session, *, email: str, role: str, password: str, name: str = "",
           created_by: str = "cli") -> StaffUser:
    """A staff account with a password (the command line's `staff create`)."""
    email = normalize.email(email)
    check_new_account(session, email, role)
    problem = password_problem(password, email)
    if problem:
        raise StaffError(problem)
    user = StaffUser(email=email, name=name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.record(session, action="staff_created", actor=created_by, detail=f"staff:{user.id} as {role}")
    session.commit()
    return user


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.execute(select(StaffUser).order_by(StaffUser.email)).scalars())


def get(session: Session, staff_id: int) -> StaffUser | None:
    return session.get(StaffUser, staff_id)


def _ensure_other_admin(session: Session, target: StaffUser) -> None:
    """Refuse a change that would leave no active admin to manage the staff."""
    query = select(StaffUser.id).where(StaffUser.role == ADMIN, StaffUser.active.is_(True),
                                       StaffUser.id != target.id).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # two admins demoting each other at once cannot both win
    if session.execute(query).first() is None:
        raise StaffError(_("This is the last active admin account. Make someone else an admin first."))


@atomic
def change_role(session: Session, *, target: StaffUser, role: str, by: StaffUser) -> None:
    """A new role; the staff member's sessions end so they sign in again with it."""
    if role not in ROLES:
        raise StaffError(_("Choose one of the roles listed."))
    if role == target.role:
        return
    if target.role == ADMIN:
        _ensure_other_admin(session, target)
    old, target.role = target.role, role
    touch(target, end_sessions=True)
    audit.record(session, action="staff_role_changed", actor=audit.staff_actor(by), detail=f"staff:{target.id} {old} -> {role}")
    session.commit()


@atomic
def deactivate(session: Session, *, target: StaffUser, by: StaffUser) -> None:
    """The account can no longer sign in; its sessions and pending invitations end at once."""
    if not target.active:
        return
    if target.role == ADMIN:
        _ensure_other_admin(session, target)
    target.active = False
    touch(target, end_sessions=True)
    session.execute(delete(StaffInvitation).where(StaffInvitation.staff_id == target.id,
                                                  StaffInvitation.used_at.is_(None)))
    audit.record(session, action="staff_deactivated", actor=audit.staff_actor(by), detail=f"staff:{target.id}")
    session.commit()


@atomic
def reactivate(session: Session, *, target: StaffUser, by: StaffUser) -> None:
    if target.active:
        return
    target.active = True
    target.failed_logins = 0
    target.locked_until = None
    touch(target)
    audit.record(session, action="staff_reactivated", actor=audit.staff_actor(by), detail=f"staff:{target.id}")
    session.commit()


# --- invitations ---------------------------------------------------------------------------------


# --- the daily digest ----------------------------------------------------------------------------


