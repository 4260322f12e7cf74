"""A key that is given but is not the one the database was written with stops the start (issue 35,
Operations 2): the secret key (every mailed link and session would be refused) and the identity hash
key (no identity would ever match). Replacing one on purpose has a way that says so."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from portal import create_app
from portal import db as portal_db
from portal.models import IdentitySubject, KeyFingerprint
from portal.services.documents.instance_keys import MissingKeys, fingerprint

OLD_SECRET = "the-secret-key-the-database-was-written-with-" + "s" * 8
NEW_SECRET = "a-different-secret-key-given-by-mistake-" + "n" * 8
OLD_HASH_KEY = "the-identity-hash-key-of-the-index-" + "h" * 12
NEW_HASH_KEY = "another-identity-hash-key-" + "k" * 20


def _start(app_config, **keys):
    app = create_app({**app_config, **keys})
    app.extensions["mail_delivery"].stop()
    app.extensions["db_engine"].dispose()
    return app


def _recorded(app_config) -> dict[str, str]:
    app = _start(app_config, SECRET_KEY=OLD_SECRET, SUBJECT_HASH_KEY=OLD_HASH_KEY, KEYS_REPLACED=[])
    with app.app_context():
        recorded = dict(portal_db.session().execute(select(KeyFingerprint.name, KeyFingerprint.fingerprint)).all())
    app.extensions["db_engine"].dispose()
    return recorded


@pytest.fixture
def written(app_config):
    """A database first started with the old keys, holding an identity index row."""
    app = _start(app_config, SECRET_KEY=OLD_SECRET, SUBJECT_HASH_KEY=OLD_HASH_KEY)
    with app.app_context():
        session = portal_db.session()
        session.add(IdentitySubject(subject_key="S-1", email_hash="0" * 64))
        session.commit()
    app.extensions["db_engine"].dispose()
    return app_config


def test_the_first_start_records_a_fingerprint_of_each_key_that_gives_nothing_of_it_away(written):
    recorded = _recorded(written)
    assert recorded == {"secret_key": fingerprint("secret_key", OLD_SECRET),
                        "subject_hash_key": fingerprint("subject_hash_key", OLD_HASH_KEY)}
    assert OLD_SECRET not in recorded.values() and len(set(recorded.values())) == 2
    database = written["DATABASE_URL"]
    if database.startswith("sqlite:///"):
        raw = b"".join(Path(database.removeprefix("sqlite:///") + suffix).read_bytes()
                       for suffix in ("", "-wal") if Path(database.removeprefix("sqlite:///") + suffix).exists())
        assert OLD_SECRET.encode() not in raw and OLD_HASH_KEY.encode() not in raw


def test_a_different_secret_key_given_by_mistake_stops_the_start_with_what_to_do(written):
    with pytest.raises(MissingKeys) as refused:
        _start(written, SECRET_KEY=NEW_SECRET, SUBJECT_HASH_KEY=OLD_HASH_KEY)
    message = str(refused.value)
    assert "SECRET_KEY is not the key this database's links and sessions were made with" in message
    assert "PORTAL_SECRET_KEY_FALLBACKS" in message and "PORTAL_KEYS_REPLACED=secret_key" in message
    assert NEW_SECRET not in message and OLD_SECRET not in message
    assert _recorded(written)["secret_key"] == fingerprint("secret_key", OLD_SECRET)  # nothing was adopted


def test_a_rotation_with_the_old_key_among_the_fallbacks_is_adopted(written):
    _start(written, SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET], SUBJECT_HASH_KEY=OLD_HASH_KEY)
    _start(written, SECRET_KEY=NEW_SECRET, SUBJECT_HASH_KEY=OLD_HASH_KEY)  # the fallback may go afterwards
    with pytest.raises(MissingKeys, match="SECRET_KEY is not the key"):
        _start(written, SECRET_KEY=OLD_SECRET, SUBJECT_HASH_KEY=OLD_HASH_KEY)  # and the old key is now the stranger


def test_a_lost_secret_key_is_replaced_when_the_operator_names_it_replaced(written):
    _start(written, SECRET_KEY=NEW_SECRET, SUBJECT_HASH_KEY=OLD_HASH_KEY, KEYS_REPLACED=["secret_key"])
    _start(written, SECRET_KEY=NEW_SECRET, SUBJECT_HASH_KEY=OLD_HASH_KEY)


def test_a_different_identity_hash_key_stops_the_start_while_the_index_holds_rows(written):
    with pytest.raises(MissingKeys) as refused:
        _start(written, SECRET_KEY=OLD_SECRET, SUBJECT_HASH_KEY=NEW_HASH_KEY)
    assert "SUBJECT_HASH_KEY is not the key the identity index was hashed with" in str(refused.value)
    assert "subjects import" in str(refused.value)
    _start(written, SECRET_KEY=OLD_SECRET, SUBJECT_HASH_KEY=NEW_HASH_KEY, KEYS_REPLACED=["subject_hash_key"])


def test_a_new_identity_hash_key_is_adopted_when_the_index_is_empty(app_config):
    _start(app_config, SECRET_KEY=OLD_SECRET, SUBJECT_HASH_KEY=OLD_HASH_KEY)
    _start(app_config, SECRET_KEY=OLD_SECRET, SUBJECT_HASH_KEY=NEW_HASH_KEY)
    app = _start(app_config, SECRET_KEY=OLD_SECRET, SUBJECT_HASH_KEY=NEW_HASH_KEY)
    with app.app_context():
        recorded = portal_db.session().get(KeyFingerprint, "subject_hash_key").fingerprint
    app.extensions["db_engine"].dispose()
    assert recorded == fingerprint("subject_hash_key", NEW_HASH_KEY)


def test_the_cli_refuses_a_different_key_from_the_environment_and_takes_a_plain_fallback(written, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_INSTANCE_PATH=str(tmp_path / "host"), PORTAL_DATABASE_URL=written["DATABASE_URL"],
               PORTAL_SUBJECT_HASH_KEY=OLD_HASH_KEY, PORTAL_SECRET_KEY=NEW_SECRET, PORTAL_MAIL_BACKGROUND_DELIVERY="false")
    flask = [str(Path(sys.executable).parent / "flask"), "--app", "portal", "keys", "status"]
    root = Path(__file__).resolve().parents[2]
    refused = subprocess.run(flask, env=env, cwd=root, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "SECRET_KEY is not the key this database's links and sessions were made with" in refused.stderr
    assert "Traceback" not in refused.stderr
    env["PORTAL_SECRET_KEY_FALLBACKS"] = OLD_SECRET  # one old key, as a plain value
    started = subprocess.run(flask, env=env, cwd=root, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
