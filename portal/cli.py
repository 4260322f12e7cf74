"""`flask --app portal ...` commands."""
import sys

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from . import db as database
from .models import AuditEvent
from .services import audit, mail, requests, staff

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


def scheduled_jobs():
    """The jobs the worker runs on every pass, each in its own transaction."""
    return [lambda: requests.expire_unconfirmed(database.session()),
            lambda: staff.send_daily_digests(database.session())]


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Run one pass and exit.")
def worker(once):
    """Deliver queued mail and run scheduled jobs, in the foreground."""
    app = current_app._get_current_object()
    click.echo("worker started" + (" (one pass)" if once else "; Ctrl-C stops it"))
    try:
        mail.run_worker(app, once=once, jobs=scheduled_jobs())
    except KeyboardInterrupt:
        click.echo("worker stopped")


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
    """Walk the hash chain; exit 1 at the first broken link."""
    session = database.session()
    broken = audit.first_broken_link(session)
    if broken is not None:
        click.echo(f"audit chain broken at event {broken.id} (action {broken.action}, {broken.created_at.isoformat()})",
                   err=True)
        raise SystemExit(1)
    count = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    click.echo(f"audit chain OK: {count} events")


def register(app):
    app.cli.add_command(db_cli)
    app.cli.add_command(worker)
    app.cli.add_command(staff_cli)
    app.cli.add_command(audit_cli)
