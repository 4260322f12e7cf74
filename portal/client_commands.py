"""`flask --app portal clients add|list|remove`: the client businesses whose data the business holds
as their service provider or business associate (docs/clients.md)."""
import click
from flask.cli import AppGroup

from . import db as database
from .services.clients import registry

clients_cli = AppGroup("clients", help="Client businesses whose data the business holds as their service provider "
                                       "or business associate.")


@clients_cli.command("add")
@click.argument("key")
@click.option("--name", required=True, help="The client's name, as consumers know it.")
@click.option("--kind", required=True, type=click.Choice(list(registry.KINDS)), help="What kind of business it is.")
@click.option("--agreement", required=True, type=click.Choice(list(registry.AGREEMENTS)),
              help="The agreement the business holds its data under.")
@click.option("--email", required=True, help="The client's privacy contact.")
@click.option("--webhook", default=None, help="An https:// address for forwarded requests and status callbacks "
                                               "(signed; a signing secret is generated and printed once).")
@click.option("--days", type=int, default=None, help=f"Days it commits to answer in (default {registry.DEFAULT_DAYS}).")
@click.option("--verify-key", default=None, help="Its Ed25519 public key, standard base64: it may then use the API.")
def clients_add(key, name, kind, agreement, email, webhook, days, verify_key):
    """Add the client KEY (the key the identity index's client column and the map's client: name)."""
    try:
        saved = registry.save(database.session(), actor="cli", data=registry.ClientData(
            key=key, name=name, kind=kind, agreement=agreement, email=email, webhook_url=webhook, days=days,
            verify_key=verify_key))
    except registry.ClientError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"client {saved.client.key} added: {registry.describe(saved.client)}")
    if saved.generated_secret:
        click.echo(f"webhook signing secret (give it to the client; it is not shown again): {saved.generated_secret}")


@clients_cli.command("list")
def clients_list():
    """Every client: key, name, kind, agreement, contact, how requests reach it."""
    with database.read_session() as reader:
        found = registry.active(reader)
    if not found:
        click.echo("no clients")
    for c in found:
        click.echo("\t".join([c.key, c.name, c.kind, c.agreement, c.email, c.webhook_url or "mail", f"{c.days} days",
                              "api key" if c.verify_key else "no api key"]))


@clients_cli.command("remove")
@click.argument("key")
def clients_remove(key):
    """Remove a client: nothing new is forwarded to it and its API key stops working; its cases stay."""
    try:
        registry.remove(database.session(), key=key, actor="cli")
    except registry.ClientError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"client {key} removed")
