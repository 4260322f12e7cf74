"""Two purges never overlap, and what a purge reports (and audits) is what its deletes removed."""
import json
from datetime import timedelta

from sqlalchemy import delete, select

from portal import clock, db
from portal.models import AuditEvent, OutboxMessage
from portal.services.delivery import worker
from portal.services.records import retention


def _old_sent_mail(session, n=2):
    for i in range(n):
        session.add(OutboxMessage(message_id=f"<old{i}@portal.test>", template="status_link", to_addr=f"o{i}@example.org",
                                  subject="s", text_body="", html_body="", status="sent",
                                  created_at=clock.now() - timedelta(days=40)))
    session.commit()


def test_the_cli_purge_takes_the_scheduled_jobs_lock(app, runner):
    with worker.job_lock(app.extensions["db_engine"], "retention") as mine:
        assert mine
        result = runner.invoke(args=["retention", "purge"])
    assert result.exit_code == 1
    assert "a retention purge is running" in result.output and "Traceback" not in result.output
    result = runner.invoke(args=["retention", "purge"])
    assert result.exit_code == 0, result.output


def test_the_counts_are_the_rows_deleted_not_the_rows_planned(app, session, monkeypatch):
    _old_sent_mail(session)
    real_plan = retention._plan

    def plan_then_overlap(s, now):
        plan = real_plan(s, now)
        # Another purge removed one of these rows after this one planned it.
        s.execute(delete(OutboxMessage).where(OutboxMessage.id == plan.mail[0]))
        return plan

    monkeypatch.setattr(retention, "_plan", plan_then_overlap)
    result = retention.purge(session)
    assert result.counts["mail"] == 1
    detail = session.execute(select(AuditEvent.detail).where(AuditEvent.action == "retention_purge")
                             .order_by(AuditEvent.id.desc())).scalars().first()
    assert json.loads(detail)["mail"] == 1
    monkeypatch.undo()
    assert retention.purge(session, dry_run=True).counts["mail"] == 0
    with db.read_session() as reader:
        assert not reader.execute(select(OutboxMessage.id)).all()
