"""Everything the portal writes in its instance folder is owner-only, whatever the umask."""
import io
import os
import stat
from pathlib import Path

import pytest

from portal import create_app
from portal import db as portal_db

from .. import files
from ..support import Mailbox, csrf_from, post_form, request_form


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)  # the usual default: new files 0644, folders 0755
    yield
    os.umask(old)


def _loose(folder: Path) -> list[str]:
    found = []
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(folder)} {mode:o}")
    return found


def test_the_instance_folder_stays_owner_only_under_umask_022(loose_umask, tmp_path):
    instance = tmp_path / "instance"
    config = {"TESTING": True, "INSTANCE_PATH": str(instance), "BASE_URL": "http://portal.test",
              "MAIL_BACKGROUND_DELIVERY": False, "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8192,
              "ARGON2_PARALLELISM": 1}  # no DATABASE_URL: the SQLite file in the instance folder
    app = create_app(config)
    try:
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        client = app.test_client()
        assert post_form(client, "/requests/new", request_form("access")).status_code == 303
        page = client.get("/agent/requests/new").get_data(as_text=True)
        resp = client.post("/agent/requests/new", content_type="multipart/form-data", data={
            "csrf_token": csrf_from(page), "agent_kind": "person", "agent_name": "Maria Lopez",
            "agent_email": "maria@example.org", "consumer_first_name": "Ana", "consumer_last_name": "Ruiz",
            "consumer_email": "ana.ruiz@example.org", "consumer_phone": "", "request_type": "opt_out",
            "authorization_kind": "signed_permission", "declaration": "y",
            "authorization": (io.BytesIO(files.pdf()), "letter.pdf", "application/pdf")})
        assert resp.status_code == 303
        assert Mailbox(app).deliver() >= 2
        names = {p.name for p in instance.rglob("*")}
        assert {"portal.db", "portal.db-wal", "portal.db-shm", "secret_key", "encryption_keys"} <= names
        assert list((instance / "outbox").glob("*.eml")) and list((instance / "documents").iterdir())
        assert _loose(instance) == []
    finally:
        app.extensions["db_engine"].dispose()


def test_a_database_left_readable_by_an_older_version_is_tightened(loose_umask, tmp_path):
    db_file = tmp_path / "portal.db"
    url = f"sqlite:///{db_file}"
    portal_db.upgrade(url)
    engine = portal_db.make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    engine.dispose()
    for path in tmp_path.iterdir():
        os.chmod(path, 0o644)
    engine = portal_db.make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    engine.dispose()
    assert _loose(tmp_path) == []
