"""A backup, as the README takes it (the database dump plus a tar of the instance folder), restored
into a fresh install (a new folder, a new database) opens a stored document through the app. On
PostgreSQL with Debian's pg_dump and pg_restore; on SQLite with SQLite's online backup (the same as
`sqlite3 portal.db ".backup ..."`). Without the instance folder the restored database refuses to start."""
import io
import shutil
import sqlite3
import subprocess
import tarfile
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal import db as portal_db
from portal.services.documents import store as documents
from portal.services.documents.instance_keys import MissingKeys

from .. import files
from ..conftest import PG_URL
from ..support import make_staff, new_case, sign_in
from .nginx import REPO


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _backup_database(url: str, dump) -> None:
    if PG_URL:
        pg_dump = shutil.which("pg_dump")
        assert pg_dump, "pg_dump not found (apt-get install postgresql)"
        subprocess.run([pg_dump, "--format=custom", "--file", str(dump), _libpq(url)], check=True, timeout=120)
    else:
        source = sqlite3.connect(portal_db.sqlite_file(url))
        target = sqlite3.connect(dump)
        with target:
            source.backup(target)
        source.close()
        target.close()


def _restore_database(dump, tmp_path) -> tuple[str, object]:
    """A new, empty database filled from the dump; its URL and a clean-up function."""
    if PG_URL:
        name = f"portal_restored_{uuid.uuid4().hex[:8]}"
        admin = create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        pg_restore = shutil.which("pg_restore")
        assert pg_restore, "pg_restore not found (apt-get install postgresql)"
        subprocess.run([pg_restore, "--no-owner", "--exit-on-error", "--dbname", _libpq(url), str(dump)],
                       check=True, timeout=120)

        def drop():
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return url, drop
    path = tmp_path / "restored" / "portal.db"
    path.parent.mkdir()
    shutil.copyfile(dump, path)
    return f"sqlite:///{path}", lambda: None


def test_a_backup_restores_into_a_fresh_install_and_opens_a_stored_document(app_config, tmp_path):
    # The install being backed up: its instance folder holds the generated keys and the documents.
    old = tmp_path / "old-host"
    app = create_app({**app_config, "INSTANCE_PATH": str(old / "instance")})
    staff = make_staff(app, "admin")
    case = new_case(app)
    letter = files.pdf(text="Restored from the backup")
    with app.app_context():
        s = portal_db.session()
        doc = documents.store(s, stream=io.BytesIO(letter), filename="authorization.pdf",
                              declared_type="application/pdf", purpose="authorization", request_id=case.id,
                              uploaded_by="agent")
        s.commit()
        doc_id = doc.id
    app.extensions["db_engine"].dispose()

    # The backup: the database dump, and the instance folder as one tar (keys, documents, config).
    dump = tmp_path / "backup" / "portal.dump"
    dump.parent.mkdir()
    _backup_database(app_config["DATABASE_URL"], dump)
    with tarfile.open(tmp_path / "backup" / "instance.tar.gz", "w:gz") as tar:
        tar.add(old / "instance", arcname="instance")
    shutil.rmtree(old)  # the old host is gone

    url, drop = _restore_database(dump, tmp_path)
    try:
        # Without the instance folder the restored database does not start with new keys.
        with pytest.raises(MissingKeys, match="stored documents are encrypted with keys"):
            create_app({**app_config, "INSTANCE_PATH": str(tmp_path / "keyless"), "DATABASE_URL": url})

        new = tmp_path / "new-host"
        new.mkdir()
        with tarfile.open(tmp_path / "backup" / "instance.tar.gz") as tar:
            tar.extractall(new, filter="data")
        restored = create_app({**app_config, "INSTANCE_PATH": str(new / "instance"), "DATABASE_URL": url})
        client = restored.test_client()
        sign_in(client, staff)
        resp = client.get(f"/staff/requests/{case.reference}/documents/{doc_id}")
        assert resp.status_code == 200 and resp.data == files.kept(letter)
        assert "attachment" in resp.headers["Content-Disposition"]
        restored.extensions["mail_delivery"].stop()
        restored.extensions["db_engine"].dispose()
    finally:
        drop()


def test_the_readme_says_what_a_backup_holds():
    readme = (REPO / "deploy" / "README.md").read_text()
    section = readme[readme.index("## Backups"):]
    for thing in ("pg_dump", "pg_restore", ".backup", "secret_key", "encryption_keys", "subject_hash_key",
                  "documents", "PORTAL_ENCRYPTION_KEYS", "config.py"):
        assert thing in section, thing
