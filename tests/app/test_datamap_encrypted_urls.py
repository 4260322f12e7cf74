"""Connection strings encrypted with the instance keys: `datamap encrypt-url` prints the `enc:` form,
`datamap check` opens it, the runs use it, and `keys rotate` re-encrypts it in the map's files."""
from portal.services.fulfilment import connections

from . import test_fulfilment_runs as runs_tests

built, example, app_config = runs_tests.built, runs_tests.example, runs_tests.app_config  # the same fixtures


def _encrypt_map(runner, example):
    systems = example / "datamap" / "systems.yml"
    text = systems.read_text()
    url = next(line.split("write_connection: ", 1)[1] for line in text.splitlines() if "write_connection: " in line)
    result = runner.invoke(args=["datamap", "encrypt-url"], input=url + "\n")
    assert result.exit_code == 0 and result.output.startswith("enc:"), result.output
    token = result.output.strip()
    assert url not in token
    systems.write_text(text.replace(f"write_connection: {url}", f"write_connection: {token}", 1))
    return systems, url, token


def test_an_encrypted_connection_is_read_checked_and_rotated(app, example, runner):
    systems, url, token = _encrypt_map(runner, example)
    result = runner.invoke(args=["datamap", "check"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert connections.resolve(token, instance_path=app.instance_path).render_as_string() == url
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 enc: connections" in result.output
    rotated = systems.read_text()
    assert token not in rotated and url not in rotated and "enc:" in rotated
    new_token = next(w for w in rotated.split() if w.startswith("enc:"))
    with app.app_context():
        assert connections.resolve(new_token, instance_path=app.instance_path).render_as_string() == url
    assert runner.invoke(args=["datamap", "check"]).exit_code == 0


def test_a_token_no_key_reads_is_reported_and_erasure_runs_through_an_encrypted_connection(app, example, runner):
    from portal import db
    from portal.services.fulfilment import approvals

    from ..support import get_case, make_staff

    systems, url, token = _encrypt_map(runner, example)
    admin = make_staff(app, "admin")
    req = runs_tests._verified_case(app, example, "delete", number=runs_tests._subscribed_claimant(example))
    runs_tests._run(app, req)
    claims = runs_tests._items(app, req)["billgenix_claims"]
    second = make_staff(app, "admin", "second-admin@billgenix.example")
    for staff in (admin, second):
        with app.app_context():
            approvals.approve(db.session(), req=get_case(app, req.reference), staff=staff, item_id=claims.id)
    runs_tests._run(app, req)
    assert runs_tests._items(app, req)["billgenix_claims"].state == "done"  # written through the enc: connection
    systems.write_text(systems.read_text().replace(token, "enc:" + "A" * 40))
    result = runner.invoke(args=["datamap", "check"])
    assert result.exit_code == 1 and "cannot be read with the instance keys" in result.output
