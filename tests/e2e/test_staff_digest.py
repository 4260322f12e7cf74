"""The worker's daily digest, delivered through a real SMTP server: once per California day."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from portal import db
from portal.background import scheduled_jobs
from portal.lifecycle import PACIFIC
from portal.models import DigestRun
from portal.services.cases import submission as request_service
from portal.services.cases.submission import NewRequest
from portal.services.delivery import mail as mail_service
from portal.services.staff import accounts, digest

from ..support import STAFF_PASSWORD

# 08:00 in California on a Tuesday.
MORNING = datetime(2026, 12, 8, 8, 0, tzinfo=PACIFIC).astimezone(timezone.utc)
TODAY = date(2026, 12, 8)


def _case(session, email, *, due, status="in_progress", extended=None):
    outcome = request_service.submit(session, new=NewRequest(request_type="opt_out", first_name="Ana",
                                                             last_name="Ruiz", email=email))
    req = outcome.request
    req.response_due, req.extended_due, req.status = due, extended, status
    session.add(req)
    session.commit()
    return req.reference


@pytest.fixture
def cases(app):
    with app.app_context():
        s = db.session()
        refs = dict(
            overdue=_case(s, "a@example.org", due=TODAY - timedelta(days=2)),
            today=_case(s, "b@example.org", due=TODAY, status="on_hold"),
            soon=_case(s, "c@example.org", due=TODAY + timedelta(days=7), status="verifying"),
            later=_case(s, "d@example.org", due=TODAY + timedelta(days=8)),
            extended=_case(s, "e@example.org", due=TODAY - timedelta(days=1), extended=TODAY + timedelta(days=30)),
            closed=_case(s, "f@example.org", due=TODAY - timedelta(days=3), status="completed"),
        )
        for email, role in (("admin@staff.example", "admin"), ("support@staff.example", "support"),
                            ("viewer@staff.example", "viewer"), ("gone@staff.example", "support")):
            user = accounts.create(s, email=email, role=role, password=STAFF_PASSWORD)
        accounts.deactivate(s, target=user, by=accounts.find_by_email(s, "admin@staff.example"))
        # Requester mail from submission goes out first, so the digest count below is exact.
        mail_service.deliver_for_app(app)
    return refs


def _run(app, now):
    with app.app_context():
        sent = digest.send_daily_digests(db.session(), now=now)
        mail_service.deliver_for_app(app)
        return sent


def _digests(smtp_server):
    return [m for m in smtp_server.received if m["To"].endswith("@staff.example")]


def test_digest_lists_due_and_overdue_cases_once_a_day(smtp_server, app, cases):
    before = len(smtp_server.received)
    assert _run(app, MORNING - timedelta(hours=2)) == 0  # 06:00: too early
    assert _run(app, MORNING) == 2
    smtp_server.wait_for(before + 2)
    digests = _digests(smtp_server)
    assert sorted(m["To"] for m in digests) == ["admin@staff.example", "support@staff.example"]
    text = digests[0].get_body(preferencelist=("plain",)).get_content()
    assert digests[0]["Subject"] == "Privacy requests: 1 overdue, 2 due within 7 days"
    for key in ("overdue", "today", "soon"):
        assert cases[key] in text and f"http://portal.test/staff/requests/{cases[key]}" in text
    for key in ("later", "extended", "closed"):
        assert cases[key] not in text
    assert "2 days overdue" in text and "due today" in text and "in 7 days" in text
    assert text.index(cases["overdue"]) < text.index(cases["today"]) < text.index(cases["soon"])
    assert "Ana" not in text and "@example.org" not in text  # references only, no requester data
    html = digests[0].get_body(preferencelist=("html",)).get_content()
    assert cases["soon"] in html

    # Later the same day, again and again (several workers, every minute): nothing more.
    for hours in (1, 5, 15):
        assert _run(app, MORNING + timedelta(hours=hours)) == 0
    assert len(_digests(smtp_server)) == 2
    # The next California day: one more each.
    assert _run(app, MORNING + timedelta(days=1)) == 2
    smtp_server.wait_for(before + 4)
    assert len(_digests(smtp_server)) == 4
    with app.app_context():
        runs = db.session().execute(select(DigestRun.day)).scalars().all()
    assert sorted(runs) == [TODAY, TODAY, TODAY + timedelta(days=1), TODAY + timedelta(days=1)]


def test_a_second_worker_cannot_send_the_same_digest(smtp_server, app, cases, monkeypatch):
    """Two workers that both read 'not sent yet': the unique (staff_id, day) row stops the second."""
    with app.app_context():
        stale = digest._digest_recipients(db.session(), TODAY)
        db.session().rollback()
    assert len(stale) == 2
    assert _run(app, MORNING) == 2
    monkeypatch.setattr(digest, "_digest_recipients", lambda session, today: stale)
    assert _run(app, MORNING + timedelta(minutes=1)) == 0
    assert sorted(m["To"] for m in _digests(smtp_server)) == ["admin@staff.example", "support@staff.example"]


def test_no_mail_when_nothing_is_due(smtp_server, app):
    with app.app_context():
        accounts.create(db.session(), email="support@staff.example", role="support", password=STAFF_PASSWORD)
        _case(db.session(), "d@example.org", due=TODAY + timedelta(days=20))
    assert _run(app, MORNING) == 0


def test_the_worker_runs_the_digest(smtp_server, app, cases, time_machine):
    time_machine.move_to(MORNING, tick=False)
    with app.app_context():
        for job in scheduled_jobs():
            job()
        runs = db.session().execute(select(DigestRun.day)).scalars().all()
    assert runs == [TODAY, TODAY]
