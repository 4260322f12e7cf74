"""Everything that runs outside a request, said once.

- DELIVERERS: the channels of the one delivery core (services/delivery/outbox.py) that every
  delivery pass runs: mail, signed notices to recipients (webhooks), DRP status callbacks, and the
  data map's automatic items (services/fulfilment/runs.py). The web
  process runs them in a background thread (MAIL_BACKGROUND_DELIVERY, started by its first request);
  `flask worker` runs them in the foreground (services/delivery/worker.py holds both loops).
- scheduled_jobs(): what `flask worker` runs every minute, each job in its own transactions and
  under its own lock, so any number of workers can run side by side without running a job twice.
"""
from . import db
from .services.cases import auto_completion, open_counts, submission
from .services.clients import referrals as client_referrals
from .services.delivery import mail, webhooks
from .services.drp import callbacks as drp_callbacks
from .services.fulfilment import runs as fulfilment_runs
from .services.records import annual_metrics, retention
from .services.staff import digest

DELIVERERS = (mail.deliver_for_app, webhooks.deliver_for_app, drp_callbacks.deliver_for_app,
              fulfilment_runs.deliver_for_app)


def _job(name, run):
    def job():
        return run(db.session())
    job.job_name = job.__name__ = name
    return job


def scheduled_jobs():
    """The worker's jobs: unconfirmed requests expire at their due date, the staff's daily digest,
    the retention purge, the open-case counts folded, the §7102 months stored once ended, reminders
    to clients that have not answered a forwarded request, opt-out and limit cases completed once
    every notice downstream is settled."""
    return [_job("expire_unconfirmed", submission.expire_unconfirmed),
            _job("daily_digests", digest.send_daily_digests),
            _job("retention", retention.run_daily),
            _job("open_case_counts", open_counts.compact),
            _job("metrics_months", annual_metrics.store_ended_months),
            _job("client_reminders", client_referrals.send_reminders),
            _job("opt_outs_completed", auto_completion.complete_settled)]
