"""The privacy staff who use the console: StaffUser (with Flask-Login's user protocol),
StaffInvitation, the single-use invitation to set a password, and DigestRun, one daily digest mailed."""
from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _ts


class StaffUser(SQLModel, table=True):
    """A member of the business's privacy staff who signs in to the console."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(default="", max_length=100)
    role: str = Field(max_length=16)  # admin | support | viewer
    password_hash: str | None = Field(default=None, max_length=255)  # None until an invitation is accepted
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_enabled: bool = Field(default=False)
    active: bool = Field(default=True)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = _ts()
    last_login_at: datetime | None = _ts()
    # Bumped on password change, TOTP reset, role change or deactivation: older sessions stop working.
    session_epoch: int = Field(default=0)
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    updated_at: datetime = _ts(nullable=False, default_factory=clock.now)
    # The last TOTP time step accepted: a code is never accepted twice (RFC 6238 §5.2).
    totp_last_step: int | None = Field(default=None)

    # Flask-Login's user protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"


class StaffInvitation(SQLModel, table=True):
    """Server-side half of an emailed invitation to set a password: single-use by its nonce hash."""

    __tablename__ = "staff_invitation"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(sa_column=Column(Integer, ForeignKey("staff_user.id", ondelete="CASCADE"),
                                           nullable=False, index=True))
    nonce_hash: str = Field(max_length=64, unique=True)
    invited_by: str = Field(max_length=64)
    expires_at: datetime = _ts(nullable=False)
    used_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


class DigestRun(SQLModel, table=True):
    """One daily digest mailed to one staff member on one California calendar day (at most)."""

    __tablename__ = "digest_run"
    __table_args__ = (UniqueConstraint("staff_id", "day", name="uq_digest_run_staff_id_day"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(sa_column=Column(Integer, ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False))
    day: date
    case_count: int = Field(default=0)
    sent_at: datetime = _ts(nullable=False, default_factory=clock.now)
