"""`flask --app portal datamap check|scan`: the data map's commands (docs/datamap.md)."""
from pathlib import Path

import click
from fideslang.validation import FidesValidationError, validate_fides_key
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from .services.fulfilment import connections, datamap_check, datamap_scan

datamap_cli = AppGroup("datamap", help="The data map: the business's systems, what they hold, what each right does there.")


@datamap_cli.command("check")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def datamap_check_command(strict):
    """Check the map at DATAMAP_PATH: one line per problem, naming file, dataset, collection and field;
    exit 1 on any error (with --strict, on any warning too)."""
    report = datamap_check.check_configured_map()
    for finding in report.findings:
        click.echo(finding.line())
    datamap = report.datamap
    click.echo(f"{current_app.config['DATAMAP_PATH']}: " + ", ".join(_counted(n, what) for n, what in (
        (len(datamap.datasets), "dataset"), (len(datamap.systems), "system"), (len(datamap.rules), "rule")))
        + "; " + ", ".join(_counted(n, what) for n, what in ((report.errors, "error"), (report.warnings, "warning"))))
    if report.errors or (strict and report.warnings):
        raise SystemExit(1)


def _counted(number: int, word: str) -> str:
    return f"{number} {word}" + ("" if number == 1 else "s")


@datamap_cli.command("scan")
@click.argument("url")
@click.option("--dataset", "dataset_key", required=True, help="The new dataset's fides_key.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the YAML to this new file "
              "(default: standard output).")
def datamap_scan_command(url, dataset_key, out):
    """Draft a fideslang dataset from the database at URL (a SQLAlchemy URL or env:NAME): tables,
    columns, keys and references, with guessed data categories marked for review."""
    try:
        validate_fides_key(dataset_key)
    except FidesValidationError as exc:
        raise click.BadParameter(str(exc), param_hint="--dataset") from None
    if out is not None and out.exists():
        raise click.ClickException(f"{out} exists: choose another --out (a reviewed dataset is never overwritten)")
    try:
        document = datamap_scan.scan(url, dataset_key=dataset_key)
    except connections.ConnectionUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot read the database's schema: {str(exc).splitlines()[0]}") from None
    text = datamap_scan.to_yaml(document)
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    collections = document["dataset"][0]["collections"]
    fields = sum(len(c["fields"]) for c in collections)
    click.echo(f"wrote {len(collections)} collections, {fields} fields to {out}: review every guessed category")


@datamap_cli.command("encrypt-url")
def datamap_encrypt_url():
    """Read a connection URL from standard input and print its `enc:` form (encrypted with the instance
    keys) for `connection:` or `write_connection:` in systems:, so its password is not in the map in clear."""
    import sys

    from sqlalchemy.engine import make_url

    url = sys.stdin.read().strip()
    try:
        make_url(url)
    except Exception:  # noqa: BLE001  ArgumentError, ValueError: the message could echo the password
        raise click.ClickException("standard input does not hold a SQLAlchemy URL (dialect://...)") from None
    click.echo(connections.encrypt(url))


def reencrypt_map_tokens() -> None:
    """`keys rotate`'s last step: the map's `enc:` connections re-encrypted under the newest key."""
    folder = Path(current_app.config["DATAMAP_PATH"])
    for path, tokens, written in connections.reencrypt_map(folder) if folder.is_dir() else []:
        if written:
            click.echo(f"re-encrypted {tokens} enc: connections in {path}")
        else:
            click.echo(f"{path} cannot be written: its {tokens} enc: connections stay under the older key (still "
                       "read while that key is kept); make each again with `flask datamap encrypt-url` and paste it")


fulfil_cli = AppGroup("fulfil", help="A case's fulfilment plan, built from the data map.")


@fulfil_cli.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="An object with reference and items.")
def fulfil_show(reference, as_json):
    """The case's plan: one item per system, its kind, state and evidence."""
    import json

    from . import db
    from .services.cases import references, submission
    from .services.fulfilment import console

    ref = references.normalize(reference)
    with db.read_session() as session:
        req = submission.get_by_reference(session, ref) if ref else None
        if req is None:
            raise click.ClickException(f"no case {reference}")
        shown = console.show(session, req)
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    click.echo(f"{shown['reference']}: {len(shown['items'])} items")
    for item in shown["items"]:
        evidence = item["evidence"]
        found = {True: "found", False: "not found", None: "-"}[evidence["found"]]
        click.echo(f"  {item['system']} ({item['name']}): {item['kind']}, {item['state']}, due {item['due']}"
                   + (" OVERDUE" if item["overdue"] else "") + f", {item['assignee'] or item['owner'] or 'unassigned'}"
                   + f"; evidence: {found}" + (f", {evidence['note']}" if evidence["note"] else ""))


def _case(session, reference):
    from .services.cases import references, submission

    ref = references.normalize(reference)
    req = submission.get_by_reference(session, ref) if ref else None
    if req is None:
        raise click.ClickException(f"no case {reference}")
    return req


@fulfil_cli.command("run")
@click.argument("reference")
def fulfil_run(reference):
    """Run the case's automatic items that are ready now, instead of waiting for the worker."""
    from . import db
    from .services.fulfilment import runs

    session = db.session()
    succeeded = runs.run_case(session, _case(session, reference))
    click.echo(f"{reference}: {succeeded} runs done")


@fulfil_cli.command("approve")
@click.argument("reference")
@click.option("--staff", "email", required=True, help="The approving staff member's email (admin role).")
def fulfil_approve(reference, email):
    """Record that staff member's approval of the previewed erasure (two people for health data)."""
    from sqlalchemy import func, select

    from . import db
    from .models import StaffUser
    from .services.fulfilment import approvals

    session = db.session()
    req = _case(session, reference)
    staff = session.execute(select(StaffUser).where(func.lower(StaffUser.email) == email.strip().lower())).scalar()
    if staff is None:
        raise click.ClickException(f"no staff member {email}")
    try:
        item = approvals.approve(session, req=req, staff=staff)
    except approvals.ApprovalRefused as exc:
        raise click.ClickException(str(exc)) from None
    got = len(item.detail.get("approvals", []))
    click.echo(f"{reference}: {item.system} approved by {staff.email} ({got} of {item.detail.get('approvals_needed', 1)})")


@fulfil_cli.command("package")
@click.argument("reference")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def fulfil_package(reference, out):
    """Write the access package's JSON as the requester receives it (after the disclosure scan)."""
    from . import db
    from .services.fulfilment import access_package

    session = db.session()
    req = _case(session, reference)
    data = access_package.read(session, req)
    if data is None and req.request_type == "access":  # building it failed before: build it now
        access_package.build_when_complete(session, request_id=req.id)
        data = access_package.read(session, req)
    if data is None:
        raise click.ClickException(f"{reference} has no access package yet (its access items are not all settled)")
    out.write_bytes(data)
    click.echo(f"wrote {len(data)} bytes to {out}")
