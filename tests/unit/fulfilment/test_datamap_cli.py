"""`flask --app portal datamap check|scan` through Flask's CLI runner."""
import pytest

from portal import create_app

from .maps import edit


@pytest.fixture
def app_config(app_config, example_map):
    app_config["DATAMAP_PATH"] = str(example_map)
    return app_config


def test_check_passes_on_the_example_whose_policy_lists_its_categories(runner, example_map):
    result = runner.invoke(args=["datamap", "check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert not [line for line in lines if line.startswith("error:")]
    # The policy page lists every category the map holds, with the sources, purposes and retention the
    # example's systems give: nothing for the policy to miss.
    assert "privacy policy" not in result.output
    assert lines[-1] == f"{example_map}: 4 datasets, 4 systems, 7 rules; 0 errors, 0 warnings"
    assert runner.invoke(args=["datamap", "check", "--strict"]).exit_code == 0
    edit(example_map / "systems.yml", "    retention:\n      en: 13 months\n      es: 13 meses\n", "")
    warned = runner.invoke(args=["datamap", "check"])
    assert warned.exit_code == 0 and "warning: systems.yml: system billgenix_web: no retention" in warned.output
    strict = runner.invoke(args=["datamap", "check", "--strict"])
    assert strict.exit_code == 1 and strict.output == warned.output


def test_check_prints_each_problem_on_its_line_and_exits_1(runner, example_map):
    edit(example_map / "claims.yml", "field: claims.id", "field: claims.number")
    edit(example_map / "rules.yml", "basis: exempt_cmia", "basis: medical")
    result = runner.invoke(args=["datamap", "check"])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    lines = result.output.splitlines()
    assert lines[:2] == [
        "error: claims.yml: dataset billgenix_claims, collection bills, field claim_id: references "
        "billgenix_claims:claims.number, which does not exist",
        "error: claims.yml: dataset billgenix_claims, collection bills: no identity reaches it: it has no email, "
        "phone_number or subject_id identity field, and no reference links it to a collection that has one"]
    assert any(line.startswith("error: rules.yml: rule 1 (user.health_and_medical): basis medical is not a "
                               "denial-basis code (known: unverifiable, exempt_cmia, ") for line in lines)
    assert lines[-1].endswith("; 4 errors, 0 warnings")


def test_bad_yaml_is_a_line_not_a_traceback(runner, example_map):
    (example_map / "broken.yml").write_text("rules:\n  - categories: [user\n")
    (example_map / "list.yaml").write_text("- 1\n")
    result = runner.invoke(args=["datamap", "check"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: broken.yml: line 3, column 1: not valid YAML: expected ',' or ']', but got '<stream end>'" in result.output
    assert "error: list.yaml: the file must be a mapping with dataset:, systems: or rules: at the top, not a list" \
        in result.output


def test_check_uses_the_configured_bases(app, runner, example_map):
    edit(example_map / "rules.yml", "basis: exempt_cmia", "basis: legal_retention_wc")
    warned = runner.invoke(args=["datamap", "check"])
    assert warned.exit_code == 0 and "basis legal_retention_wc is turned off" in warned.output
    app.config["DENIAL_BASIS_OVERRIDES"] = {"legal_retention_wc": {"enabled": True}}
    assert "turned off" not in runner.invoke(args=["datamap", "check"]).output


def test_scan_writes_a_new_file_and_never_overwrites(runner, example_databases, tmp_path):
    out = tmp_path / "claims-draft.yml"
    url = f"sqlite:///{example_databases / 'claims.db'}"
    result = runner.invoke(args=["datamap", "scan", url, "--dataset", "claims_draft", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote 4 collections, 36 fields to {out}: review every guessed category\n"
    assert out.read_text().startswith("dataset:\n- fides_key: claims_draft\n")
    again = runner.invoke(args=["datamap", "scan", url, "--dataset", "claims_draft", "--out", str(out)])
    assert again.exit_code == 1 and "exists: choose another --out" in again.output


def test_scan_to_standard_output_and_its_mistakes(runner, example_databases, tmp_path):
    url = f"sqlite:///{example_databases / 'web.db'}"
    printed = runner.invoke(args=["datamap", "scan", url, "--dataset", "web"])
    assert printed.exit_code == 0 and "- name: page_views\n" in printed.output
    bad_key = runner.invoke(args=["datamap", "scan", url, "--dataset", "web site"])
    assert bad_key.exit_code == 2 and "FidesKeys must only contain" in bad_key.output
    missing = runner.invoke(args=["datamap", "scan", f"sqlite:///{tmp_path / 'no.db'}", "--dataset", "x"])
    assert missing.exit_code == 1 and f"Error: the SQLite file {tmp_path / 'no.db'} does not exist" in missing.output
    nonsense = runner.invoke(args=["datamap", "scan", "not a url", "--dataset", "x"])
    assert nonsense.exit_code == 1 and "Error: not a SQLAlchemy URL" in nonsense.output


def test_the_map_folder_defaults_to_the_instance_folder(database_url, tmp_path):
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": database_url,
                      "MAIL_BACKGROUND_DELIVERY": False})
    try:
        assert app.config["DATAMAP_PATH"] == str(tmp_path / "instance" / "datamap")
        result = app.test_cli_runner().invoke(args=["datamap", "check"])
        assert result.exit_code == 1 and result.output.startswith(
            f"error: {tmp_path / 'instance' / 'datamap'}: the data map folder does not exist (PORTAL_DATAMAP_PATH)\n")
    finally:
        app.extensions["mail_delivery"].stop()
        app.extensions["db_engine"].dispose()


def test_the_map_is_checked_on_a_fresh_install_before_its_migrations(example_map, tmp_path):
    """CI checks the example's map against a new instance folder that was never migrated: the check
    runs (a system's `client:` is then not checked against the clients' table, which is not there yet)."""
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "fresh"), "MAIL_BACKGROUND_DELIVERY": False,
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.db'}", "DATAMAP_PATH": str(example_map)})
    try:
        result = app.test_cli_runner().invoke(args=["datamap", "check"])
        assert result.exit_code == 0, result.output
        assert "0 errors" in result.output and "cannot be reached" not in result.output
    finally:
        app.extensions["mail_delivery"].stop()
        app.extensions["db_engine"].dispose()
