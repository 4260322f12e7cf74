"""The instance keys: the key ring every document, webhook secret and encrypted body is read with,
re-read when the key file changes (so `keys rotate` takes effect at once), and the key file itself."""
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app

from ...config import parse_keys
from . import chunked_crypto
from .storage import write_atomic


def key_id(key: str) -> str:
    """A short fingerprint of a key, safe to store and print (it reveals nothing of the key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]



@dataclass(frozen=True)
class Keyring:
    fernet: MultiFernet  # reads documents stored as Fernet tokens, and webhook secrets
    primary_id: str
    stamp: int | None
    chunk_keys: dict  # key id (8 bytes) -> the key's 32 bytes, for chunked documents
    primary_raw: bytes



def keyring() -> Keyring:
    """The current keys. Keys from the instance file are re-read when the file changes, so a
    running app picks up `keys rotate` at once and can read what the rotation re-encrypted."""
    app = current_app._get_current_object()
    path = app.config.get("ENCRYPTION_KEYS_FILE")
    stamp = None
    if path:
        try:
            stamp = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            stamp = None
    ring = app.extensions.get("document_keyring")
    if ring is not None and ring.stamp == stamp:
        return ring
    if stamp is not None:
        app.config["ENCRYPTION_KEYS"] = parse_keys(Path(path).read_text())
    keys = app.config["ENCRYPTION_KEYS"]
    if not keys:
        raise RuntimeError("no encryption keys configured")
    raw = {bytes.fromhex(key_id(k)): chunked_crypto.raw_key(k) for k in keys}
    ring = Keyring(MultiFernet([Fernet(k.encode()) for k in keys]), key_id(keys[0]), stamp, raw,
                   chunked_crypto.raw_key(keys[0]))
    app.extensions["document_keyring"] = ring
    return ring



def write_key_file(path: str | os.PathLike, keys: list[str]) -> None:
    """Replace the key file atomically, owner-only from the first byte."""
    write_atomic(Path(path), ("\n".join(keys) + "\n").encode())



def rotate_key_file(path: str | os.PathLike) -> str:
    """Put a new key first in the instance key file (old keys kept); return its fingerprint."""
    app = current_app._get_current_object()
    keys = parse_keys(Path(path).read_text()) if Path(path).exists() else list(app.config["ENCRYPTION_KEYS"])
    new = Fernet.generate_key().decode()
    write_key_file(path, [new, *keys])
    app.config["ENCRYPTION_KEYS"] = [new, *keys]
    app.extensions.pop("document_keyring", None)
    return key_id(new)
