"""Started against a database whose data was made with keys it lacks, the portal refuses to start
(the app factory, the flask CLI and gunicorn) instead of generating new keys; a fresh install still
generates its keys."""
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal import create_app
from portal import db as portal_db
from portal.models import IdentitySubject, Recipient
from portal.services.delivery import webhooks
from portal.services.documents import keys
from portal.services.documents import store as documents
from portal.services.documents.instance_keys import MissingKeys

from .. import files
from ..support import make_staff

VENV_BIN = Path(sys.executable).parent


def _store_document(app) -> int:
    with app.app_context():
        s = portal_db.session()
        doc = documents.store(s, stream=io.BytesIO(files.pdf()), filename="letter.pdf",
                              declared_type="application/pdf", purpose="authorization", uploaded_by="agent")
        s.commit()
        return doc.id


def _stop(app):
    app.extensions["mail_delivery"].stop()
    app.extensions["db_engine"].dispose()


def _other_host(app_config, tmp_path, name="other", **extra):
    """The same database and documents store, another (empty) instance folder."""
    return {**app_config, "INSTANCE_PATH": str(tmp_path / name), **extra}


def test_a_fresh_install_generates_its_keys_and_starts(app_config, tmp_path):
    config = _other_host(app_config, tmp_path, "fresh")
    app = create_app(config)
    assert {"secret_key", "encryption_keys", "subject_hash_key"} <= {p.name for p in (tmp_path / "fresh").iterdir()}
    assert app.test_client().get("/healthz").status_code == 200
    _stop(app)


def test_documents_encrypted_with_keys_it_lacks_stop_the_start_and_no_key_is_left_behind(app_config, tmp_path):
    app_config["DOCUMENTS_PATH"] = str(tmp_path / "shared-documents")
    first = create_app(app_config)
    _store_document(first)
    old_id = keys.key_id(first.config["ENCRYPTION_KEYS"][0])
    _stop(first)

    with pytest.raises(MissingKeys) as refused:
        create_app(_other_host(app_config, tmp_path, SECRET_KEY="s" * 48, SUBJECT_HASH_KEY="h" * 48))
    message = str(refused.value)
    assert "Refusing to start" in message and f"key {old_id} (1 documents)" in message
    assert "PORTAL_ENCRYPTION_KEYS" in message and first.config["ENCRYPTION_KEYS"][0] not in message
    assert not (tmp_path / "other" / "encryption_keys").exists()  # the key it made up is gone again

    # The operator gives the keys (and the rest of the shared configuration): the document opens.
    again = create_app(_other_host(app_config, tmp_path, ENCRYPTION_KEYS=",".join(first.config["ENCRYPTION_KEYS"]),
                                   SECRET_KEY=first.config["SECRET_KEY"]))
    with again.app_context():
        s = portal_db.session()
        doc = s.get(documents.Document, 1)
        assert documents.read(s, document=doc) == files.kept(files.pdf())
    _stop(again)


def test_a_rotated_out_key_still_in_use_stops_the_start(app_config, tmp_path):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    first = create_app({**app_config, "ENCRYPTION_KEYS": old})
    _store_document(first)
    _stop(first)
    with pytest.raises(MissingKeys, match=keys.key_id(old)):
        create_app({**app_config, "ENCRYPTION_KEYS": new})  # the old key dropped before re-encrypting
    _stop(create_app({**app_config, "ENCRYPTION_KEYS": f"{new},{old}"}))


def test_webhook_secrets_encrypted_with_other_keys_stop_the_start(app_config):
    old = Fernet.generate_key().decode()
    first = create_app({**app_config, "ENCRYPTION_KEYS": old})
    with first.app_context():
        s = portal_db.session()
        s.add(Recipient(name="Processor", kind="service_provider", request_types="delete", method="webhook",
                        webhook_url="https://hooks.example.org/in", webhook_secret=webhooks.encrypt_secret("shh")))
        s.commit()
    _stop(first)
    with pytest.raises(MissingKeys, match="1 webhook secret"):
        create_app({**app_config, "ENCRYPTION_KEYS": Fernet.generate_key().decode()})


def test_identity_index_without_its_hash_key_stops_the_start(app_config, tmp_path):
    first = create_app(app_config)
    with first.app_context():
        s = portal_db.session()
        s.add(IdentitySubject(subject_key="S-1", email_hash="0" * 64))
        s.commit()
    _stop(first)
    keys = {"SECRET_KEY": first.config["SECRET_KEY"], "ENCRYPTION_KEYS": first.config["ENCRYPTION_KEYS"]}
    with pytest.raises(MissingKeys, match="PORTAL_SUBJECT_HASH_KEY"):
        create_app(_other_host(app_config, tmp_path, **keys))
    assert not (tmp_path / "other" / "subject_hash_key").exists()
    _stop(create_app(_other_host(app_config, tmp_path, SUBJECT_HASH_KEY=first.config["SUBJECT_HASH_KEY"], **keys)))


def test_records_without_the_secret_key_stop_the_start_unless_a_key_is_given(app_config, tmp_path):
    first = create_app(app_config)
    make_staff(first, "admin")
    _stop(first)
    with pytest.raises(MissingKeys, match="PORTAL_SECRET_KEY"):
        create_app(_other_host(app_config, tmp_path, ENCRYPTION_KEYS=first.config["ENCRYPTION_KEYS"]))
    # A new secret key given on purpose, named as replaced, is the operator's choice (it signs out
    # everyone); given without saying so, it is refused (tests/app/test_key_fingerprints.py).
    _stop(create_app(_other_host(app_config, tmp_path, "chosen", ENCRYPTION_KEYS=first.config["ENCRYPTION_KEYS"],
                                 SECRET_KEY="a-new-key-chosen-by-the-operator-" + "x" * 16,
                                 KEYS_REPLACED=["secret_key"])))


def _environment(app_config, instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_INSTANCE_PATH=str(instance), PORTAL_DATABASE_URL=app_config["DATABASE_URL"],
               PORTAL_DOCUMENTS_PATH=app_config["DOCUMENTS_PATH"], PORTAL_MAIL_BACKGROUND_DELIVERY="false")
    return env


def test_the_flask_cli_and_gunicorn_refuse_with_the_message(app_config, tmp_path):
    app_config["DOCUMENTS_PATH"] = str(tmp_path / "shared-documents")
    first = create_app(app_config)
    _store_document(first)
    _stop(first)
    env = _environment(app_config, tmp_path / "new-host")
    root = Path(__file__).resolve().parents[2]

    cli = subprocess.run([str(VENV_BIN / "flask"), "--app", "portal", "keys", "status"], env=env, cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode != 0
    assert "Refusing to start" in cli.stderr and "stored documents are encrypted with keys" in cli.stderr

    gunicorn = subprocess.run([str(VENV_BIN / "gunicorn"), "--bind", "127.0.0.1:0", "--workers", "1", "wsgi:app"],
                              env=env, cwd=root, capture_output=True, text=True, timeout=120)
    assert gunicorn.returncode != 0  # the worker fails to boot, so the master exits
    assert "Refusing to start" in gunicorn.stderr
    assert not (tmp_path / "new-host" / "encryption_keys").exists()
