"""`flask --app portal ...` commands."""
import functools
import sys

import click
from cryptography.fernet import Fernet
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from . import background
from . import db as database
from .client_commands import clients_cli
from .datamap_commands import datamap_cli, fulfil_cli, reencrypt_map_tokens
from .lifecycle import PACIFIC
from .models import AuditEvent, Document
from .services import audit
from .services.cases import notices
from .services.clients import registry as client_registry
from .services.delivery import failures, mail
from .services.delivery import worker as worker_service
from .services.documents import keys
from .services.documents import store as documents
from .services.drp import exchange as drp
from .services.identity import subjects
from .services.records import annual_metrics, retention
from .services.staff import accounts as staff

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision):
    """Apply migrations up to REVISION (default: the newest)."""
    database.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision):
    """Revert migrations down to REVISION."""
    database.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Run one pass and exit.")
def worker(once):
    """Deliver queued mail and run scheduled jobs, in the foreground; SIGTERM or Ctrl-C stops it
    after the message in hand."""
    app = current_app._get_current_object()
    from .services.checklist import placeholders
    with database.read_session() as reader:  # a read of its own: nothing held while the worker runs
        placeholders.log_warnings(reader, skip={"worker"})  # this process is the worker
    click.echo("worker started" + (" (one pass)" if once else "; SIGTERM or Ctrl-C stops it"))
    worker_service.run_worker(app, once=once, jobs=background.scheduled_jobs(), deliverers=background.DELIVERERS,
                              handle_signals=True)
    click.echo("worker stopped")


mail_cli = AppGroup("mail", help="The outgoing mail queue.")


@mail_cli.command("retry")
@click.option("--failed", is_flag=True, help="Also queue again failed messages whose text is still kept.")
def mail_retry(failed):
    """Make every pending message due now (the worker sends it on its next pass); with --failed, also
    failed messages that ran out of retries (permanently refused ones cannot be sent again)."""
    result = mail.retry(database.session(), failed=failed)
    click.echo(f"{result.pending} pending messages due now")
    if failed:
        click.echo(f"{result.failed} failed messages queued again; {result.lost} cannot be sent again "
                   "(refused for good or impossible to build: their text was dropped)")


notices_cli = AppGroup("notices", help="Signed notices to recipients (webhooks).")


def _channel_retry(channel: str, failed: bool, noun: str) -> None:
    result = failures.retry(database.session(), channel=channel, failed=failed)
    click.echo(f"{result.pending} pending {noun} due now")
    if failed:
        click.echo(f"{result.failed} failed {noun} queued again, each with a new DELIVERY_RETRY_FOR_SECONDS")


@notices_cli.command("retry")
@click.option("--failed", is_flag=True, help="Also queue again notices that failed (ran out of retries or were refused).")
def notices_retry(failed):
    """Make every pending notice due now (the worker sends it on its next pass); with --failed,
    also the failed ones, with the same Idempotency-Key."""
    _channel_retry("webhooks", failed, "notices")


staff_cli = AppGroup("staff", help="Staff accounts for the console.")


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(staff.ROLES), help="What the account may do.")
@click.option("--name", default="", help="The person's name, shown in the console.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def staff_create(email, role, name, password_stdin):
    """Create a staff account that can sign in at once."""
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL") from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    try:
        user = staff.create(database.session(), email=email, role=role, password=password, name=name)
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"staff account {user.id} created ({role})")


audit_cli = AppGroup("audit", help="The hash-chained audit log.")


@audit_cli.command("verify")
def audit_verify():
    """Walk the hash chain, streamed (flat memory, no write lock); exit 1 at the first broken link."""
    with database.read_session() as reader:
        broken_id, count = audit.walk(reader)
        if broken_id is not None:
            broken = reader.get(AuditEvent, broken_id)
            click.echo(f"audit chain broken at event {broken.id} (action {broken.action}, "
                       f"{broken.created_at.isoformat()})", err=True)
            raise SystemExit(1)
    click.echo(f"audit chain OK: {count} events")

@click.command("metrics")
@click.option("--year", type=int, required=True, help="The calendar year (California time).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def metrics_cmd(year, fmt):
    """The annual request metrics (§7102): per request type, received, complied, denied, days to respond."""
    import json
    with database.read_session() as reader:
        result = annual_metrics.annual(reader, year=year, store=False)  # a read-only session: months read, not stored
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(annual_metrics.metrics_csv(result), nl=False)


keys_cli = AppGroup("keys", help="Encryption keys of stored documents.")


@keys_cli.command("rotate")
@click.option("--reencrypt-only", is_flag=True,
              help="Only re-encrypt stored documents under the newest configured key.")
def keys_rotate(reencrypt_only):
    """Add a new key (newest first) and re-encrypt every stored document with it."""
    path = current_app.config["ENCRYPTION_KEYS_FILE"]
    if not reencrypt_only and path is None:
        # The keys come from PORTAL_ENCRYPTION_KEYS or a config file, which only the operator can
        # change; re-encrypting now would lock out every process that has not restarted yet.
        click.echo("The encryption keys come from PORTAL_ENCRYPTION_KEYS (or the instance config), "
                   "which this command cannot change. To rotate:")
        click.echo(f"  1. Put this new key first, keeping the current keys after it:\n"
                   f"     PORTAL_ENCRYPTION_KEYS={Fernet.generate_key().decode()},<current keys>")
        click.echo("  2. Restart every web and worker process with the new value.")
        click.echo("  3. Run: flask --app portal keys rotate --reencrypt-only")
        click.echo("Nothing was re-encrypted.")
        return
    if not reencrypt_only:
        new_id = keys.rotate_key_file(path)
        click.echo(f"new key {new_id} written first in {path}; older keys kept for reading")
    result = documents.reencrypt_all(database.session())
    click.echo(f"re-encrypted {result.reencrypted} documents under key {keys.keyring().primary_id}; "
               f"{result.current} already under it; {result.failed} could not be read")
    click.echo(f"re-encrypted {notices.reencrypt_secrets(database.session())} webhook signing secrets")
    click.echo(f"re-encrypted {client_registry.reencrypt_secrets(database.session())} clients' signing secrets")
    reencrypt_map_tokens()
    if result.failed:
        raise click.ClickException(f"{result.failed} documents failed their integrity check; "
                                   "they keep their old encryption (see the log for their ids)")


@keys_cli.command("status")
def keys_status():
    """How many stored documents each key encrypts (keys shown by fingerprint)."""
    keys.keyring()  # picks up a key file changed since start
    with database.read_session() as reader:
        counts = dict(reader.execute(select(Document.key_id, func.count()).group_by(Document.key_id)).all())
    for position, key in enumerate(current_app.config["ENCRYPTION_KEYS"]):
        fingerprint = keys.key_id(key)
        label = "newest" if position == 0 else f"older #{position}"
        click.echo(f"{fingerprint}  {label:<10} {counts.pop(fingerprint, 0)} documents")
    for fingerprint, count in counts.items():
        click.echo(f"{fingerprint}  MISSING    {count} documents (their key is not configured)")


retention_cli = AppGroup("retention", help="Retention rules: what personal data is removed, and when.")


@retention_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
def retention_purge(dry_run):
    """Apply the retention rules now; print how many of each kind were (or would be) removed."""
    # The worker's daily purge takes the same lock: two purges never run together.
    with worker_service.job_lock(current_app.extensions["db_engine"], "retention") as mine:
        if not mine:
            raise click.ClickException("a retention purge is running (the worker's daily job or another "
                                       "`retention purge`); try again when it has finished")
        result = retention.purge(database.session(), dry_run=dry_run, actor="cli")
    for kind in retention.KINDS:
        click.echo(f"{kind:<18} {result.counts[kind]}")
    click.echo(("would remove" if dry_run else "removed") + f" {result.total} in all"
               + (f"; {result.compacted}" if result.compacted else ""))


drp_cli = AppGroup("drp", help="Data Rights Protocol: the authorized-agent services the portal trusts.")
drp_agent_cli = AppGroup("agent", help="Agents: add, list, remove.")
drp_cli.add_command(drp_agent_cli)
drp_callbacks_cli = AppGroup("callbacks", help="Status callbacks to agents.")
drp_cli.add_command(drp_callbacks_cli)


@drp_callbacks_cli.command("retry")
@click.option("--failed", is_flag=True, help="Also queue again failed callbacks (each subject's latest only).")
def drp_callbacks_retry(failed):
    """Make every pending DRP callback due now; with --failed, also the failed ones that are still
    their subject's latest (an older state superseded by a newer one is not sent again)."""
    _channel_retry("drp_callbacks", failed, "callbacks")


@drp_agent_cli.command("add")
@click.argument("agent_id")
@click.option("--verify-key", required=True, help="The agent's Ed25519 verify key, standard base64 (from the DRP directory).")
@click.option("--name", default=None, help="The agent's name, shown to staff (default: AGENT_ID).")
def drp_agent_add(agent_id, verify_key, name):
    """Trust an agent: it can then pair (POST /drp/v1/agent/AGENT_ID) and send requests."""
    try:
        agent = drp.add_agent(database.session(), agent_id=agent_id, verify_key=verify_key, name=name)
    except drp.AgentError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"agent {agent.agent_id} added ({agent.name}); it pairs at {current_app.config['BASE_URL']}/drp/v1/agent/{agent.agent_id}")


@drp_agent_cli.command("list")
def drp_agent_list():
    """Every agent: id, name, whether it has paired, and removed ones."""
    with database.read_session() as reader:
        agents = drp.list_agents(reader)
    if not agents:
        click.echo("no agents")
    for agent in agents:
        state = (f"removed {agent.removed_at:%Y-%m-%d}" if agent.removed_at else
                 f"paired {agent.token_issued_at:%Y-%m-%d %H:%M} UTC" if agent.token_issued_at else "not paired yet")
        click.echo(f"{agent.agent_id}\t{agent.name}\tkey {agent.verify_key}\t{state}")


@drp_agent_cli.command("remove")
@click.argument("agent_id")
def drp_agent_remove(agent_id):
    """Stop trusting an agent: its token stops working at once; its cases stay with staff."""
    try:
        drp.remove_agent(database.session(), agent_id=agent_id)
    except drp.AgentError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"agent {agent_id} removed; its token no longer works")
subjects_cli = AppGroup("subjects", help="The identity index: the business's records of people, as keyed hashes.")


@subjects_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
def subjects_import(file, dry_run):
    """Import FILE.csv (header row; columns: subject_id, email, phone, first_name, last_name,
    date_of_birth, claim_number, date_of_injury, employer, postal_code, client: a registered client's
    key, the row is held for it). A re-imported subject_id replaces its row (for the same client); rejected rows are listed with their line numbers; a malformed file imports nothing."""
    import os
    size = os.path.getsize(file)
    with open(file, "rb") as stream, click.progressbar(length=size, label="importing" if not dry_run else "checking",
                                                       file=sys.stderr) as bar:
        try:
            summary = subjects.import_csv(database.session(), stream=stream, dry_run=dry_run, progress=bar.update)
        except subjects.MalformedFile as exc:
            raise click.ClickException(f"{exc}. Nothing was imported.") from None
    for rejection in summary.rejections:
        click.echo(f"line {rejection.line}: rejected: {rejection.reason}")
    verb = "would import" if dry_run else "imported"
    click.echo(f"{summary.rows_read} rows read, {verb} {summary.rows_imported}, rejected {len(summary.rejections)}"
               + (" (dry run: nothing written)" if dry_run else ""))


@subjects_cli.command("status")
def subjects_status():
    """How many subjects the index holds, per data point, and the last import."""
    with database.read_session() as reader:
        result = subjects.status(reader)
    click.echo(f"{result.subjects} subjects")
    for point, count in result.per_point.items():
        click.echo(f"  {point:<15} {count}")
    click.echo(f"  {'name forms':<15} {result.name_forms} (keyed hashes of the forms of a name that match it)")
    if result.last_import is None:
        click.echo("no import yet")
    else:
        when = result.last_import.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M %Z")
        click.echo(f"last import {when} (California time): {result.last_imported} rows imported, "
                   f"{result.last_rejected} rejected")


@subjects_cli.command("forget")
@click.argument("subject_id")
def subjects_forget(subject_id):
    """Remove one subject (by the business's SUBJECT_ID) from the index."""
    if not subjects.forget(database.session(), subject_key=subject_id):
        raise click.ClickException(f"no subject {subject_id} in the index")
    click.echo(f"subject {subject_id} removed from the index")


def _clean_errors(command) -> None:
    """An expected failure (the database cannot be reached or refuses) is one line and exit 1, not a traceback."""
    for sub in getattr(command, "commands", {}).values():
        _clean_errors(sub)
    callback = command.callback
    if callback is None or getattr(callback, "clean_errors", False):
        return

    def wrapped(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except DBAPIError as exc:
            raise click.ClickException(f"the database cannot be reached or refused the command "
                                       f"({type(exc.orig).__name__}); nothing was changed by this command") from None
    wrapped.clean_errors = True
    command.callback = functools.update_wrapper(wrapped, callback)


def register(app):
    app.cli.add_command(retention_cli)
    app.cli.add_command(db_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(worker)
    app.cli.add_command(mail_cli)
    app.cli.add_command(notices_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(metrics_cmd)
    app.cli.add_command(drp_cli)
    app.cli.add_command(subjects_cli)
    app.cli.add_command(datamap_cli)
    app.cli.add_command(fulfil_cli)
    app.cli.add_command(clients_cli)
    for command in (retention_cli, db_cli, keys_cli, worker, mail_cli, notices_cli, staff_cli, audit_cli,
                    metrics_cmd, drp_cli, subjects_cli, datamap_cli, fulfil_cli, clients_cli):
        _clean_errors(command)
