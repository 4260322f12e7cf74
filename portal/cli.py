"""`flask --app portal ...` commands."""
import click
from flask import current_app
from flask.cli import AppGroup

from . import db as database
from .services import mail, metrics, requests

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
    return [lambda: requests.expire_unconfirmed(database.session())]


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one pass and exit.")
def worker(once):
    """Deliver queued mail and run scheduled jobs, in the foreground."""
    app = current_app._get_current_object()
    click.echo("worker started" + (" (one pass)" if once else "; Ctrl-C stops it"))
    try:
        mail.run_worker(app, once=once, jobs=scheduled_jobs())
    except KeyboardInterrupt:
        click.echo("worker stopped")


@click.command("metrics")
@click.option("--year", type=int, required=True, help="The calendar year (California time).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
def metrics_cmd(year, fmt):
    """The annual request metrics (§7102): per request type, received, complied, denied, days to respond."""
    import json
    result = metrics.annual(database.session(), year=year)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        click.echo(metrics.metrics_csv(result), nl=False)


def register(app):
    app.cli.add_command(db_cli)
    app.cli.add_command(worker)
    app.cli.add_command(metrics_cmd)
