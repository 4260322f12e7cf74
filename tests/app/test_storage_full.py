"""A full disk: the requester keeps what they typed (a 507 with the form as it was), nothing is
half-saved, the same form goes through once there is room again, and /readyz says the storage is
almost full before it is. The disk is a real one: a small tmpfs holding the instance folder (and the
SQLite database), filled to the last byte."""
import errno
import io
import os
import shutil
import sqlite3
import subprocess

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal import db as portal_db
from portal.models import Document, PrivacyRequest
from portal.storage_full import StorageFull, is_storage_full

from ..files import png
from ..support import csrf_from, request_form

DISK_MB = 16


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB filesystem of its own, with `fill()` and `free()`: a real ENOSPC for every write."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:  # not root, or a sandbox without the capability to mount (reported, not silent)
        pytest.skip(f"cannot mount a small filesystem here ({mounted.stderr.strip() or 'mount failed'})")

    class Disk:
        path = mount_point
        filler = mount_point / "filler"

        def fill(self, leave_bytes: int = 0) -> None:
            with open(self.filler, "ab", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
            if leave_bytes:
                os.truncate(self.filler, os.path.getsize(self.filler) - leave_bytes)

        def free(self) -> None:
            self.filler.unlink(missing_ok=True)

    yield Disk()
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def full_disk_app(small_disk, app_config, database_url):
    """The app with its instance folder on the small disk; on SQLite its database too."""
    config = dict(app_config, INSTANCE_PATH=str(small_disk.path / "instance"))
    if database_url.startswith("sqlite:///"):
        database = small_disk.path / "portal.db"
        shutil.copyfile(database_url.removeprefix("sqlite:///"), database)
        config["DATABASE_URL"] = f"sqlite:///{database}"
    app = create_app(config)
    yield app
    app.extensions["mail_delivery"].stop()
    app.extensions["db_engine"].dispose()


def _correction_with_document(client, **fields):
    page = client.get("/requests/new?type=correct")
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)),
            **request_form("correct", first_name="Soledad", last_name="Quiroga-Benítez",
                           email="soledad.q@example.org", declaration_signature="Soledad Quiroga-Benítez", **fields),
            "correction_document": (io.BytesIO(png(400, 300)), "lease.png")}
    return client.post("/requests/new", data=data, content_type="multipart/form-data")


def _stored(app) -> tuple[int, int]:
    with app.app_context():
        session = portal_db.session()
        return (session.execute(select(func.count()).select_from(PrivacyRequest)).scalar_one(),
                session.execute(select(func.count()).select_from(Document)).scalar_one())


def test_a_full_disk_keeps_the_form_as_typed_saves_nothing_and_the_same_form_goes_through_later(
        full_disk_app, small_disk):
    client = full_disk_app.test_client()
    client.get("/")  # the first request sets up what it needs while there is room
    small_disk.fill()

    resp = _correction_with_document(client, correction_details="My street is Calle Olvido 12, not 21")

    assert resp.status_code == 507
    page = resp.get_data(as_text=True)
    assert "Our storage is full just now, so nothing you sent was saved" in page
    assert "a file must be attached again" in page
    for typed in ("Soledad", "Quiroga-Benítez", "soledad.q@example.org", "My street is Calle Olvido 12, not 21"):
        assert typed in page  # the form is drawn again with what was typed
    assert 'id="request-form"' in page
    assert "Traceback" not in page
    small_disk.free()
    assert _stored(full_disk_app) == (0, 0)  # nothing half-saved: no case, no document
    documents = small_disk.path / "instance" / "documents"
    assert not (documents.exists() and any(documents.rglob("*.*")) or any(p.is_file() for p in documents.rglob("*")))

    resp = _correction_with_document(client, correction_details="My street is Calle Olvido 12, not 21")
    assert resp.status_code == 303
    assert _stored(full_disk_app) == (1, 1)


def test_the_inquiry_form_keeps_its_message_on_a_full_disk(full_disk_app, small_disk):
    client = full_disk_app.test_client()
    page = client.get("/inquiries/new")
    small_disk.fill()
    resp = client.post("/inquiries/new", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "kind": "question", "name": "Dmitri Volkov",
        "email": "dmitri@example.org", "organization": "", "message": "How long do you keep lien files?",
        "attachment": (io.BytesIO(png(400, 300)), "question.png")})
    assert resp.status_code == 507
    assert "How long do you keep lien files?" in resp.get_data(as_text=True)


def test_readiness_reports_storage_almost_full_before_it_is(full_disk_app, small_disk):
    full_disk_app.config["READY_MIN_FREE_STORAGE_MB"] = 4
    client = full_disk_app.test_client()
    check = client.get("/readyz").get_json()["checks"]["storage_free_mb"]
    assert check["ok"] and DISK_MB - 4 <= check["value"] <= DISK_MB and check["threshold"] == 4

    small_disk.fill(leave_bytes=3 * 1024 * 1024)
    resp = client.get("/readyz")
    check = resp.get_json()["checks"]["storage_free_mb"]
    assert resp.status_code == 503
    assert check == {"ok": False, "value": check["value"], "threshold": 4, "detail": "storage almost full"}
    assert check["value"] < 4


@pytest.mark.parametrize("error, full", [
    (OSError(errno.ENOSPC, "No space left on device"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    (sqlite3.OperationalError("database or disk is full"), True),
    (sqlite3.OperationalError("database is locked"), False),
    (StorageFull("no room"), True),
    (ValueError("not a disk"), False),
])
def test_a_full_disk_is_told_apart_from_other_failures(error, full):
    assert is_storage_full(error) is full


def test_postgresql_disk_full_is_a_full_disk_and_other_server_errors_are_not():
    psycopg_errors = pytest.importorskip("psycopg.errors")
    assert is_storage_full(psycopg_errors.DiskFull("could not extend file: No space left on device"))
    assert not is_storage_full(psycopg_errors.DeadlockDetected("deadlock detected"))


def test_an_error_raised_from_a_full_disk_is_one_too():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("writing the upload failed") from inner
    except RuntimeError as outer:
        assert is_storage_full(outer)
