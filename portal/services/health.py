"""Readiness and the operational figures behind /readyz and /metrics.

Every figure comes from a cheap query: counts and ages over the outbox's (status, next_attempt_at)
index, the heartbeat table, and the counts of open cases the triggers keep (open_counts); nothing
reads message bodies or personal data.
"""
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlmodel import Session

from .. import clock
from ..lifecycle import OPEN
from ..models import DrpCallback, OpenCaseCount, OutboxMessage, WebhookDelivery
from .cases import open_counts
from .delivery import failures, heartbeat


@dataclass
class Check:
    ok: bool
    value: float | int | bool | None
    threshold: float | int | None = None
    detail: str | None = None


@dataclass
class Readiness:
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())

    def as_json(self) -> dict:
        return {"status": "ok" if self.ok else "unavailable",
                "checks": {name: {k: v for k, v in asdict(c).items() if v is not None or k == "value"}
                           for name, c in self.checks.items()}}


@dataclass
class Snapshot:
    """The outbox and case figures at one moment."""
    pending_mail: int
    failed_mail: int
    oldest_pending_mail_age: float | None  # seconds; None: nothing pending
    sent_last_hour: int
    webhook_backlog: int
    heartbeat_age: float | None  # seconds since the newest beat; None: no beat in the last day
    delivering_processes: int
    open_cases: dict[str, int]
    overdue_cases: int
    failed: dict[str, int] = field(default_factory=dict)  # per channel (mail, webhooks, drp_callbacks)
    pending: dict[str, int] = field(default_factory=dict)  # per channel
    mail_timing_out: bool = False  # the last attempts at mail saw only timeouts


def _channel_figures(session: Session, now: datetime, smtp_timeout: float) -> dict:
    return {"failed": failures.failed_counts(session), "pending": failures.pending_counts(session),
            "mail_timing_out": failures.mail_timing_out(session, now=now, smtp_timeout=smtp_timeout)}


def _age(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


def snapshot(session: Session, *, alive_within: timedelta, smtp_timeout: float = 10) -> Snapshot:
    """Read every figure; read-only, ends its transaction."""
    now = clock.now()
    try:
        by_status = dict(session.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.status.in_(("pending", "failed")))
            .group_by(OutboxMessage.status)).all())
        oldest = session.execute(select(func.min(OutboxMessage.created_at))
                                 .where(OutboxMessage.status == "pending")).scalar()
        sent = session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.sent_at >= now - timedelta(hours=1), OutboxMessage.status == "sent")).scalar_one()
        backlog = sum(session.execute(select(func.count()).select_from(model).where(model.status == "pending"))
                      .scalar_one() for model in (WebhookDelivery, DrpCallback))
        beat = heartbeat.latest(session)
        alive = heartbeat.alive(session, within=alive_within)
        cases = open_counts.per_status(session)
        overdue = sum(open_counts.per_status(session, OpenCaseCount.due_on < clock.today(), by_due=True).values())
        channels = _channel_figures(session, now, smtp_timeout)
    finally:
        session.rollback()
    return Snapshot(pending_mail=by_status.get("pending", 0), failed_mail=by_status.get("failed", 0),
                    oldest_pending_mail_age=_age(now, oldest), sent_last_hour=sent, webhook_backlog=backlog,
                    heartbeat_age=_age(now, beat), delivering_processes=alive,
                    open_cases={s: cases.get(s, 0) for s in sorted(OPEN)}, overdue_cases=overdue, **channels)


def readiness(session: Session, cfg, *, started_at: datetime, instance_path: str,
              rate_limit_storage=None) -> Readiness:
    """Each check with its value and threshold. `rate_limit_storage`: the shared store to ping
    (a `limits` storage), or None when limits are kept in memory."""
    report = Readiness()
    try:
        session.execute(text("SELECT 1"))
        report.checks["database"] = Check(ok=True, value=True)
    except Exception:  # noqa: BLE001  any driver error means "not reachable"
        session.rollback()
        report.checks["database"] = Check(ok=False, value=False, detail="unreachable")
    if rate_limit_storage is not None:
        try:
            reachable = bool(rate_limit_storage.check())
        except Exception:  # noqa: BLE001  a storage that raises is as unreachable as one that says so
            reachable = False
        report.checks["rate_limit_storage"] = Check(ok=reachable, value=reachable)
    report.checks["storage_free_mb"] = storage_check(storage_folders(instance_path, cfg["DATABASE_URL"]),
                                                     min_free_mb=int(cfg["READY_MIN_FREE_STORAGE_MB"]))
    max_worker = float(cfg["READY_MAX_WORKER_AGE_SECONDS"])
    figures = None
    if report.checks["database"].ok:
        try:
            figures = snapshot(session, alive_within=timedelta(seconds=max_worker), smtp_timeout=cfg["SMTP_TIMEOUT"])
        except Exception:  # noqa: BLE001  the database went away between the two queries
            report.checks["database"] = Check(ok=False, value=False, detail="unreachable")
    if figures is None:
        for name, key in (("worker_heartbeat_age_seconds", "READY_MAX_WORKER_AGE_SECONDS"),
                          ("oldest_pending_mail_age_seconds", "READY_MAX_PENDING_MAIL_AGE_SECONDS"),
                          ("failed_mail", "READY_MAX_FAILED_MAIL"), ("webhook_backlog", "READY_MAX_WEBHOOK_BACKLOG"),
                          *FAILED_CHECKS, ("mail_server_answers", None)):
            report.checks[name] = Check(ok=False, value=None, threshold=cfg[key] if key else None,
                                        detail="database unavailable")
        return report
    # No beat yet: count from this process's start, so a fresh start has the threshold's grace.
    worker_age = figures.heartbeat_age if figures.heartbeat_age is not None else _age(clock.now(), started_at)
    report.checks["worker_heartbeat_age_seconds"] = Check(
        ok=worker_age <= max_worker, value=round(worker_age, 1), threshold=cfg["READY_MAX_WORKER_AGE_SECONDS"])
    mail_age = figures.oldest_pending_mail_age or 0.0
    report.checks["oldest_pending_mail_age_seconds"] = Check(
        ok=mail_age <= float(cfg["READY_MAX_PENDING_MAIL_AGE_SECONDS"]), value=round(mail_age, 1),
        threshold=cfg["READY_MAX_PENDING_MAIL_AGE_SECONDS"])
    report.checks["failed_mail"] = Check(ok=figures.failed_mail <= int(cfg["READY_MAX_FAILED_MAIL"]),
                                         value=figures.failed_mail, threshold=cfg["READY_MAX_FAILED_MAIL"])
    report.checks["webhook_backlog"] = Check(ok=figures.webhook_backlog <= int(cfg["READY_MAX_WEBHOOK_BACKLOG"]),
                                             value=figures.webhook_backlog, threshold=cfg["READY_MAX_WEBHOOK_BACKLOG"])
    _delivery_checks(report, figures, cfg)
    return report


# Failed rows of the notice channels, each against its threshold (mail's is `failed_mail` above).
FAILED_CHECKS = (("failed_webhooks", "READY_MAX_FAILED_WEBHOOKS"),
                 ("failed_drp_callbacks", "READY_MAX_FAILED_DRP_CALLBACKS"))


def _delivery_checks(report: Readiness, figures: Snapshot, cfg) -> None:
    for name, key in FAILED_CHECKS:
        value = figures.failed.get(name.removeprefix("failed_"), 0)
        report.checks[name] = Check(ok=value <= int(cfg[key]), value=value, threshold=cfg[key])
    answers = not figures.mail_timing_out
    report.checks["mail_server_answers"] = Check(
        ok=answers, value=answers, detail=None if answers else failures.TIMEOUT_ALERT)


def storage_folders(instance_path: str, database_url: str) -> list[str]:
    """Where the portal writes on this host: the instance folder (uploads, outbox files, keys) and,
    for SQLite, the database's folder (its WAL grows there)."""
    folders = [instance_path]
    url = str(database_url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        folders.append(os.path.dirname(os.path.abspath(url.removeprefix("sqlite:///"))))
    return folders


def storage_check(folders: list[str], *, min_free_mb: int) -> Check:
    """The free space left where the portal writes, in MB (the smallest of its folders): a full disk
    refuses every submission, so readiness says so before it happens."""
    threshold = min_free_mb
    try:
        free = min(shutil.disk_usage(folder).free for folder in folders) // (1024 * 1024)
    except OSError:
        return Check(ok=False, value=None, threshold=threshold, detail="storage unreadable")
    return Check(ok=free >= threshold, value=free, threshold=threshold,
                 detail=None if free >= threshold else "storage almost full")
