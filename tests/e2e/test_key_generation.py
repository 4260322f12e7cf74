"""A first start that cannot reach its database keeps no key it generated, and says why; with the
keys given it starts (the database is then the health check's business)."""
import pytest
from cryptography.fernet import Fernet

from portal import create_app
from portal.services.documents.instance_keys import MissingKeys

from ..support import free_port


def _unreachable() -> str:
    return f"postgresql+psycopg://portal:x@127.0.0.1:{free_port()}/portal?connect_timeout=2"


def test_generated_keys_are_removed_when_the_database_cannot_be_reached(tmp_path):
    instance = tmp_path / "instance"
    with pytest.raises(MissingKeys) as refused:
        create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "DATABASE_URL": _unreachable(),
                    "MAIL_BACKGROUND_DELIVERY": False})
    message = str(refused.value)
    assert message.startswith("Refusing to start") and "could not be reached" in message
    assert "secret_key" in message and "subject_hash_key" in message
    assert not [p.name for p in instance.iterdir() if p.is_file()]  # no key kept


def test_with_every_key_given_an_unreachable_database_does_not_stop_the_start(tmp_path):
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": _unreachable(),
                      "MAIL_BACKGROUND_DELIVERY": False, "SECRET_KEY": "s" * 48,
                      "ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SUBJECT_HASH_KEY": "h" * 48})
    assert app.config["GENERATED_SECRETS"] == []
    app.extensions["db_engine"].dispose()
