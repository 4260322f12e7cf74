"""The Billgenix example's generator: deterministic, fictitious, shared ZIP codes and employers, the
identity index's CSV for the same people, and the map installed once beside the portal."""
import csv
import sqlite3
from collections import Counter

import pytest
from sqlalchemy.engine import make_url

from portal.services.fulfilment import datamap_check, datamap_loader
from portal.services.identity import subjects

from ...conftest import PG_URL
from .maps import BASES, edit


def _rows(path, query):
    with sqlite3.connect(path) as connection:
        return connection.execute(query).fetchall()


def test_the_same_seed_builds_the_same_systems(generator, tmp_path):
    first = generator.build(tmp_path / "a", claimants=25, seed=7)
    second = generator.build(tmp_path / "b", claimants=25, seed=7)
    assert first == second and first["claimants"] == 25 and first["bills"] >= first["claims"] >= 25
    assert (tmp_path / "a" / "subjects.csv").read_bytes() == (tmp_path / "b" / "subjects.csv").read_bytes()
    query = "SELECT * FROM page_views ORDER BY id"
    assert _rows(tmp_path / "a" / "web.db", query) == _rows(tmp_path / "b" / "web.db", query)
    other = generator.build(tmp_path / "c", claimants=25, seed=8)
    assert (tmp_path / "c" / "subjects.csv").read_bytes() != (tmp_path / "a" / "subjects.csv").read_bytes()
    assert other["claimants"] == 25


def test_people_are_fictitious_and_share_zip_codes_and_employers(example_databases):
    claimants = _rows(example_databases / "claims.db", "SELECT email, phone, zip, employer FROM claimants")
    assert all(email.endswith("@example.com") and " 555-" in phone for email, phone, _zip, _employer in claimants)
    assert len({email for email, *_ in claimants}) == len(claimants)
    assert max(Counter(zip_code for _e, _p, zip_code, _m in claimants).values()) >= 2
    assert max(Counter(employer for *_rest, employer in claimants).values()) >= 2
    # some marketing subscribers and web visitors are claimants (the same email), some are not
    subscribers = {email for (email,) in _rows(example_databases / "marketing.db", "SELECT email FROM subscribers")}
    claimant_emails = {email for email, *_ in claimants}
    assert subscribers & claimant_emails and subscribers - claimant_emails


def test_the_subjects_csv_imports_into_the_identity_index_as_is(example_databases):
    path = example_databases / "subjects.csv"
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        # Every column but `client`: the example's records are all the business's own.
        assert tuple(next(reader)) == tuple(c for c in subjects.COLUMNS if c != "client")
    summary = subjects.ImportSummary()
    with open(path, "rb") as stream:
        rows = list(subjects.read_rows(stream, key=b"k" * 32, summary=summary))
    assert summary.rejections == [] and len(rows) == 40
    keys = {key for (key,) in _rows(example_databases / "claims.db", "SELECT subject_id FROM claimants")}
    assert {row["subject_key"] for row in rows} == keys
    claim_numbers = {n for (n,) in _rows(example_databases / "claims.db", "SELECT claim_number FROM claims")}
    with open(path, newline="", encoding="utf-8") as f:
        assert all(row["claim_number"] in claim_numbers for row in csv.DictReader(f))


def test_install_builds_once_and_never_replaces_an_existing_map(generator, tmp_path):
    assert generator.install(tmp_path, claimants=3, seed=1) == [
        f"built the Billgenix example systems in {tmp_path / 'example'} (3 claimants)",
        f"copied the example's data map to {tmp_path / 'datamap'}"]
    edit(tmp_path / "datamap" / "rules.yml", "basis: exempt_cmia", "basis: legal_obligation")
    assert generator.install(tmp_path, claimants=3, seed=1) == []
    assert "basis: legal_obligation" in (tmp_path / "datamap" / "rules.yml").read_text()
    assert not (tmp_path / "example.building").exists()


def test_the_map_can_point_at_one_postgresql_database(generator, tmp_path):
    url = "postgresql+psycopg://bench:pw@127.0.0.1:5432/billgenix"
    generator.write_map(tmp_path, database_url=url)
    text = (tmp_path / "systems.yml").read_text()
    reading = [line.split(": ", 1)[1] for line in text.splitlines() if line.strip().startswith("connection:")]
    writing = [line.split(": ", 1)[1] for line in text.splitlines() if line.strip().startswith("write_connection:")]
    assert len(reading) == 3 and len(writing) == 2 and set(writing) == {url}
    assert all(make_url(r).query["options"] == "-c default_transaction_read_only=on" for r in reading)


def test_the_map_can_point_at_one_mariadb_database(generator, tmp_path):
    url = "mysql+pymysql://bench:pw@127.0.0.1:3306/billgenix?charset=utf8mb4"
    generator.write_map(tmp_path, database_url=url)
    text = (tmp_path / "systems.yml").read_text()
    reading = [line.split(": ", 1)[1] for line in text.splitlines() if line.strip().startswith("connection:")]
    writing = [line.split(": ", 1)[1] for line in text.splitlines() if line.strip().startswith("write_connection:")]
    assert len(reading) == 3 and {make_url(w) for w in writing} == {make_url(url)}
    assert all(make_url(r).query["init_command"] == "SET SESSION TRANSACTION READ ONLY" for r in reading)
    assert all(make_url(r).query["charset"] == "utf8mb4" for r in reading)


def test_the_generator_runs_from_the_command_line(generator, tmp_path, capsys):
    assert generator.main(["--out", str(tmp_path / "db"), "--map-out", str(tmp_path / "map"), "--claimants", "5"]) == 0
    out = capsys.readouterr().out
    assert "claimants 5," in out and f"the map, connected to them, in {tmp_path / 'map'}" in out
    assert f"sqlite:///file:{tmp_path / 'db' / 'claims.db'}?mode=ro&uri=true" in (tmp_path / "map" / "systems.yml").read_text()


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (PORTAL_TEST_DATABASE_URL)")
def test_the_example_builds_into_one_postgresql_database_and_checks_clean(generator, database_url, tmp_path):
    counts = generator.build(tmp_path / "out", claimants=30, seed=3, database_url=database_url)
    assert counts["claimants"] == 30 and counts["page_views"] > 0
    generator.write_map(tmp_path / "map", database_url=database_url)
    loaded = datamap_loader.load(tmp_path / "map")
    assert datamap_check.check(loaded, bases=BASES, policy_text=None, instance_path=tmp_path) == []
