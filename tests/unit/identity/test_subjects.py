"""The identity index: import (streamed, line-numbered rejections, all-or-nothing on a malformed
file), status, forget, and no plain copy of the business's records anywhere."""
import io
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from portal import db
from portal.models import IdentitySubject
from portal.services.identity import subjects

HEADER = "subject_id,email,phone,first_name,last_name,date_of_birth,claim_number,date_of_injury,employer,postal_code\n"
ROW_1 = "S-1001,Ana.Ruiz@Example.org,(909) 555-0142,José,García-López,1980-02-29,WC-2024-0017,2024-03-04,Acme Roofing Inc,92373\n"
ROW_2 = "S-1002,thu.quach@example.org,909.555.0199,Minh-Thu,Quach,1975-07-01,WC-2023-0402,,Sunrise Packing,92501\n"


def run_import(app, text: str, **kw) -> subjects.ImportSummary:
    with app.app_context():
        return subjects.import_csv(db.session(), stream=io.BytesIO(text.encode()), **kw)


def count(app) -> int:
    with app.app_context():
        return db.session().execute(select(func.count()).select_from(IdentitySubject)).scalar_one()


def test_import_stores_hashes_that_match_what_people_type(app):
    summary = run_import(app, HEADER + ROW_1 + ROW_2)
    assert (summary.rows_read, summary.rows_imported, summary.rejections) == (2, 2, [])
    with app.app_context():
        typed, bad = subjects.hashes({"email": " ana.ruiz@example.org", "phone": "9095550142", "first_name": "Jose",
                                      "last_name": "Lopez Garcia", "date_of_birth": "02/29/1980",
                                      "claim_number": "wc 2024 0017", "employer": "ACME ROOFING",
                                      "postal_code": "92373-0001", "date_of_injury": "03/04/2024"})
        match = subjects.best_match(db.session(), typed)
    assert bad == []
    assert match.subject_key == "S-1001"
    assert set(match.matched) == set(subjects.POINTS)


def test_columns_in_any_order_and_reimport_replaces_the_row(app):
    run_import(app, HEADER + ROW_1)
    run_import(app, "phone,subject_id\n(909) 555-0100,S-1001\n")
    assert count(app) == 1
    with app.app_context():
        old, _ = subjects.hashes({"phone": "(909) 555-0142"})
        new, _ = subjects.hashes({"phone": "(909) 555-0100"})
        assert subjects.best_match(db.session(), old).subject_key is None
        assert subjects.best_match(db.session(), new).matched == ("phone",)


def test_dry_run_reports_and_writes_nothing(app):
    summary = run_import(app, HEADER + ROW_1 + "S-9,,not-a-phone,,,,,,,\n" + ",a@b.org,,,,,,,,\n", dry_run=True)
    assert summary.rows_imported == 1
    assert [(r.line, r.reason) for r in summary.rejections] == [(3, "cannot read phone"), (4, "subject_id is empty")]
    assert count(app) == 0
    with app.app_context():
        assert subjects.status(db.session()).last_import is None


@pytest.mark.parametrize("text,message", [
    ("subject_id,email,ssn,mothers_maiden_name\n1,a@b.org,1,2\n", "unknown columns: ssn, mothers_maiden_name"),
    ("email,phone\na@b.org,9095550142\n", "the subject_id column is required"),
    ("", "the file is empty"),
    (HEADER + ROW_1 + "S-3,only,three\n", "line 3: 3 fields where the header has 10"),
    (HEADER + ROW_1 + 'S-4,"unclosed\n', "line"),
    ("subject_id,email,email\n1,a@b.org,c@d.org\n", "columns given twice: email"),
])
def test_malformed_file_imports_nothing(app, text, message):
    with pytest.raises(subjects.MalformedFile, match=message):
        run_import(app, text)
    assert count(app) == 0


def test_bytes_that_are_not_utf8_import_nothing(app):
    with app.app_context(), pytest.raises(subjects.MalformedFile, match="line 3: the file is not UTF-8"):
        subjects.import_csv(db.session(), stream=io.BytesIO((HEADER + ROW_1).encode() + b"S-5,\xff\xfe@x.org,,,,,,,,\n"))
    assert count(app) == 0


def test_a_malformed_row_after_many_batches_rolls_everything_back(app):
    rows = "".join(f"S-{i},p{i}@example.org,,,,,,,,\n" for i in range(25))
    with pytest.raises(subjects.MalformedFile):
        run_import(app, HEADER + rows + "S-x,too,few\n", batch_rows=10)
    assert count(app) == 0


def test_status_and_forget(app, runner, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(HEADER + ROW_1 + ROW_2)
    result = runner.invoke(args=["subjects", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 rows read, imported 2, rejected 0" in result.output
    with time_machine.travel(datetime(2026, 7, 1, 2, 30, tzinfo=timezone.utc), tick=False):
        runner.invoke(args=["subjects", "import", str(path)])
    status = runner.invoke(args=["subjects", "status"]).output
    assert "2 subjects" in status
    assert "last import 2026-06-30 19:30 PDT (California time): 2 rows imported, 0 rejected" in status
    assert "employer        2" in status
    assert runner.invoke(args=["subjects", "forget", "S-1001"]).exit_code == 0
    assert count(app) == 1
    missing = runner.invoke(args=["subjects", "forget", "S-1001"])
    assert missing.exit_code == 1 and "no subject S-1001" in missing.output


def test_cli_refuses_unknown_columns_by_name_and_lists_rejections(app, runner, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("subject_id,ssn\n1,123-45-6789\n")
    result = runner.invoke(args=["subjects", "import", str(bad)])
    assert result.exit_code == 1
    assert "unknown columns: ssn" in result.output and "Nothing was imported" in result.output
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(HEADER + ROW_1 + "S-7,,,,,1990-02-30,,,,\n")
    result = runner.invoke(args=["subjects", "import", "--dry-run", str(mixed)])
    assert "line 3: rejected: cannot read date_of_birth" in result.output
    assert "would import 1, rejected 1 (dry run: nothing written)" in result.output
    assert count(app) == 0


def test_no_plain_value_anywhere_in_the_database_file_or_instance_folder(app_config, tmp_path):
    """Search the raw bytes of the SQLite file (and WAL) and every file of the instance folder."""
    if not app_config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("searches the raw SQLite file")
    from portal import create_app
    app = create_app(app_config)
    try:
        run_import(app, HEADER + ROW_1 + ROW_2)
    finally:
        app.extensions["mail_delivery"].stop()
        app.extensions["db_engine"].dispose()
    plain = [v for row in (ROW_1, ROW_2) for v in row.strip().split(",")[1:] if v]
    plain += ["ana.ruiz@example.org", "+19095550142", "9095550142", "WC20240017", "garcia", "García", "Acme", "acme roofing"]
    files = [Path(app_config["DATABASE_URL"].removeprefix("sqlite:///"))]
    files += [p for p in Path(app_config["INSTANCE_PATH"]).rglob("*") if p.is_file()]
    files += [Path(str(files[0]) + suffix) for suffix in ("-wal", "-journal") if os.path.exists(str(files[0]) + suffix)]
    for path in files:
        # The keyed hashes are hex: a ZIP code or a phone number can occur inside one by chance (about
        # once in a few hundred runs), which holds nothing of the value. Search beside them.
        raw = re.sub(rb"[0-9a-f]{32,}", b" ", path.read_bytes().lower())
        for value in plain:
            assert value.lower().encode() not in raw, f"{value!r} found in {path.name}"
    assert b"s-1001" in files[0].read_bytes().lower()  # the business's own key is kept, to replace and forget
