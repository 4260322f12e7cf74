"""Staff invitations: an account created without a password and a single-use, expiring link to
set one (the nonce's hash is stored, so a link works once and a new one revokes the old)."""
import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select, update
from sqlmodel import Session

from ... import clock, normalize
from ...db import atomic
from ...models import StaffInvitation, StaffUser
from ...urls import external_url
from .. import audit
from ..delivery import mail
from .accounts import InvitationError, StaffError, check_new_account, hash_password, password_problem, touch


def _invite_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal.token.staff_invite")



def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()



@atomic
def invite(session: Session, *, email: str, role: str, name: str = "", by: StaffUser,
           now: datetime | None = None) -> StaffUser:
    """Create the account without a password and mail a single-use link to set one."""
    now = now or clock.now()
    email = normalize.email(email)
    check_new_account(session, email, role)
    user = StaffUser(email=email, name=name, role=role, created_at=now, updated_at=now)
    session.add(user)
    session.flush()
    _send_invitation(session, user=user, by=by, now=now)
    audit.record(session, action="staff_invited", actor=audit.staff_actor(by), detail=f"staff:{user.id} as {role}")
    session.commit()
    return user



@atomic
def resend_invitation(session: Session, *, target: StaffUser, by: StaffUser, now: datetime | None = None) -> None:
    """A fresh link for someone who has not set a password yet; older links stop working."""
    if target.password_hash is not None or not target.active:
        raise StaffError(_("Only an active account that has not set a password yet can be invited again."))
    _send_invitation(session, user=target, by=by, now=now or clock.now())
    audit.record(session, action="staff_invitation_resent", actor=audit.staff_actor(by), detail=f"staff:{target.id}")
    session.commit()



def _send_invitation(session: Session, *, user: StaffUser, by: StaffUser, now: datetime) -> None:
    session.execute(delete(StaffInvitation).where(StaffInvitation.staff_id == user.id,
                                                  StaffInvitation.used_at.is_(None)))
    hours = int(current_app.config["STAFF_INVITE_HOURS"])
    nonce = secrets.token_urlsafe(24)
    session.add(StaffInvitation(staff_id=user.id, nonce_hash=_nonce_hash(nonce), invited_by=audit.staff_actor(by),
                                expires_at=now + timedelta(hours=hours), created_at=now))
    session.flush()
    link = external_url("staff.accept_invite", token=_invite_serializer().dumps({"n": nonce}))
    mail.queue(session, to=user.email, template="staff_invitation",
               subject=_("Your %(org)s privacy console account", org=current_app.config["ORG_NAME"]),
               context=dict(link=link, hours=hours, role=user.role, name=user.name))



def check_invitation(session: Session, *, token: str, now: datetime | None = None) -> tuple[StaffInvitation, StaffUser]:
    """The invitation and its account if the link may be used now; InvitationError otherwise."""
    try:
        payload = _invite_serializer().loads(token)
    except BadSignature:
        raise InvitationError("invalid") from None
    nonce = payload.get("n") if isinstance(payload, dict) else None
    if not isinstance(nonce, str):
        raise InvitationError("invalid")
    row = session.execute(select(StaffInvitation).where(StaffInvitation.nonce_hash == _nonce_hash(nonce))).scalar()
    user = session.get(StaffUser, row.staff_id) if row is not None else None
    if row is None or user is None or not user.active:
        raise InvitationError("invalid")
    if row.used_at is not None or user.password_hash is not None:
        raise InvitationError("used")
    if (now or clock.now()) >= row.expires_at:
        raise InvitationError("expired")
    return row, user



@atomic
def accept_invitation(session: Session, *, token: str, password: str, now: datetime | None = None) -> StaffUser:
    """Spend the invitation and set the password. Only one POST can ever succeed."""
    now = now or clock.now()
    row, user = check_invitation(session, token=token, now=now)
    problem = password_problem(password, user.email)
    if problem:
        raise StaffError(problem)
    done = session.execute(update(StaffInvitation).where(StaffInvitation.id == row.id, StaffInvitation.used_at.is_(None))
                           .values(used_at=now).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.rollback()
        raise InvitationError("used")
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    touch(user, end_sessions=True)
    audit.record(session, action="staff_invitation_accepted", actor=audit.staff_actor(user))
    session.commit()
    return user
