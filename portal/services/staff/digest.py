"""The daily digest: each admin and support member gets, once per California day, the open cases
due soon or overdue (and admins the mail alerts)."""
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ... import clock, lifecycle
from ...models import DUE_ORDER, DigestRun, FulfilmentItem, PrivacyRequest, StaffUser
from ..cases.work_queue import due_soon_days, overdue_items
from ..delivery import failures, mail
from .accounts import ADMIN, CASE_WORKERS

log = logging.getLogger(__name__)


# Cases staff can act on: an unconfirmed request (awaiting_email) waits for the requester, not for staff.
DIGEST_STATUSES = lifecycle.OPEN - {lifecycle.AWAITING_EMAIL}



@dataclass(frozen=True)
class DigestCase:
    reference: str
    request_type: str
    status: str
    due: date
    days_left: int
    link: str



def digest_cases(session: Session, *, today: date) -> list[DigestCase]:
    """Open cases due soon after `today`, or overdue, soonest first."""
    soon = today + timedelta(days=due_soon_days())
    rows = session.execute(select(PrivacyRequest.reference, PrivacyRequest.request_type, PrivacyRequest.status,
                                  DUE_ORDER)
                           .where(PrivacyRequest.status.in_(DIGEST_STATUSES), DUE_ORDER <= soon)
                           .order_by(DUE_ORDER, PrivacyRequest.id)).all()
    base = current_app.config["BASE_URL"].rstrip("/")
    return [DigestCase(ref, kind, status, day, (day - today).days, f"{base}/staff/requests/{ref}")
            for ref, kind, status, day in rows]



@dataclass(frozen=True)
class DigestItem:
    reference: str
    system: str
    due: date
    link: str


def digest_items(session: Session, *, today: date) -> list[DigestItem]:
    """Open cases' fulfilment plan items past their due date, the oldest first."""
    rows = session.execute(select(PrivacyRequest.reference, FulfilmentItem.system_name, FulfilmentItem.due_on)
                           .join(PrivacyRequest, PrivacyRequest.id == FulfilmentItem.request_id)
                           .where(PrivacyRequest.status.in_(DIGEST_STATUSES), overdue_items(today))
                           .order_by(FulfilmentItem.due_on, FulfilmentItem.id)).all()
    base = current_app.config["BASE_URL"].rstrip("/")
    return [DigestItem(ref, system, due, f"{base}/staff/requests/{ref}") for ref, system, due in rows]


def _digest_recipients(session: Session, today: date) -> list[tuple[int, str, str, str]]:
    """(id, email, name, role) of active admin and support staff who have not had today's digest."""
    done_today = select(DigestRun.staff_id).where(DigestRun.day == today)
    return [tuple(row) for row in session.execute(select(StaffUser.id, StaffUser.email, StaffUser.name, StaffUser.role).where(
        StaffUser.active.is_(True), StaffUser.role.in_(CASE_WORKERS), StaffUser.password_hash.is_not(None),
        StaffUser.id.not_in(done_today)).order_by(StaffUser.id))]



def send_daily_digests(session: Session, *, now: datetime | None = None) -> int:
    """Mail each active admin and support member today's list of due and overdue cases, once per
    California calendar day however many workers run this: the (staff_id, day) row is unique."""
    now = now or clock.now()
    local = now.astimezone(lifecycle.PACIFIC)
    if local.hour < int(current_app.config["STAFF_DIGEST_HOUR"]):
        return 0
    today = local.date()
    recipients = _digest_recipients(session, today)
    cases = digest_cases(session, today=today) if recipients else []
    items = digest_items(session, today=today) if recipients else []
    # Admins also hear about mail, notices and callbacks that failed or wait too long (English operator notes).
    mail_alerts = failures.alerts(session, now=now) if recipients else []
    session.rollback()
    if not cases and not items and not mail_alerts:
        return 0
    overdue = [c for c in cases if c.days_left < 0]
    due_soon = [c for c in cases if c.days_left >= 0]
    subject = _("Privacy requests: %(overdue)s overdue, %(soon)s due within %(days)s days",
                overdue=len(overdue), soon=len(due_soon), days=due_soon_days())
    sent = 0
    for staff_id, email, name, role in recipients:
        alerts = mail_alerts if role == ADMIN else []
        if not cases and not items and not alerts:
            continue
        try:
            session.add(DigestRun(staff_id=staff_id, day=today, case_count=len(cases), sent_at=now))
            session.flush()  # another worker that got here first makes this fail: no second mail
            mail.queue(session, to=email, subject=subject, template="staff_digest", context=dict(
                name=name, today=today, overdue=overdue, due_soon=due_soon, days=due_soon_days(), overdue_items=items,
                console=current_app.config["BASE_URL"].rstrip("/") + "/staff/", mail_alerts=alerts,
                outbox_link=current_app.config["BASE_URL"].rstrip("/") + "/staff/admin/outbox"))
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        sent += 1
        log.info("daily digest for staff %s: %s cases", staff_id, len(cases))
    return sent
