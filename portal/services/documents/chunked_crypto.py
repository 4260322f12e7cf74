"""Documents encrypted in chunks, so that neither storing nor reading one copies it whole.

The construction is the STREAM online AEAD (Hoang, Reyhanitabar, Rogaway, Vizár 2015) as Tink's
AES-GCM-HKDF streaming AEAD uses it, built from the `cryptography` library's AESGCM and HKDF:

    header = MAGIC | version (1) | chunk size (4) | key id (8) | salt (16) | nonce prefix (7)
    file key = HKDF-SHA256(the instance key, salt, INFO)          (a fresh key per file)
    chunk i  = AES-256-GCM(file key, nonce = prefix | i (4) | last (1), chunk, aad = header)

The counter in the nonce refuses reordered chunks, the `last` flag refuses a file cut at a chunk
boundary (or one with chunks appended), and the header in every chunk's associated data binds
the key id, the chunk size and the salt. Nothing here is a new primitive.
"""
import base64
import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Not base64 (a Fernet token is URL-safe base64 text starting "gAAAAA"), so the formats never meet.
MAGIC = b"\x89PPE"
VERSION = 1
CHUNK = 64 * 1024
TAG = 16
_HEADER = struct.Struct(">4sBI8s16s7s")
HEADER_SIZE = _HEADER.size  # 40
INFO = b"privacy-portal document chunks v1"
MAX_CHUNK = 16 * 1024 * 1024


class Tampered(Exception):
    """The blob is not a whole, untouched chunked document under one of our keys."""


class WrongLength(Tampered):
    """The blob decrypts, but not to as many bytes as were recorded (another document's content)."""


def is_chunked(head: bytes) -> bool:
    """Whether a blob starting with `head` is in this format (else it is a Fernet token)."""
    return head[:len(MAGIC)] == MAGIC


def raw_key(fernet_key: str) -> bytes:
    """The 32 bytes of an instance (Fernet) key, the input of the per-file key derivation."""
    raw = base64.urlsafe_b64decode(fernet_key.encode())
    if len(raw) != 32:
        raise ValueError("an encryption key must be 32 bytes, URL-safe base64")
    return raw


def _file_key(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=INFO).derive(key))


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def encrypt(data, *, key: bytes, key_id: bytes, chunk: int = CHUNK) -> Iterator[bytes]:
    """The header, then each encrypted chunk of `data` (any bytes-like object; never copied whole)."""
    header = _HEADER.pack(MAGIC, VERSION, chunk, key_id, os.urandom(16), os.urandom(7))
    salt, prefix = header[17:33], header[33:40]
    aead = _file_key(key, salt)
    yield header
    view = memoryview(data)
    count = max(1, -(-len(view) // chunk))
    if count >= 2 ** 32:
        raise ValueError("too large for one document")
    for i in range(count):
        yield aead.encrypt(_nonce(prefix, i, i == count - 1), view[i * chunk:(i + 1) * chunk], header)


def header_key_id(f: BinaryIO) -> bytes:
    """The key id a chunked blob names (reads the header only)."""
    header = f.read(HEADER_SIZE)
    if len(header) != HEADER_SIZE or not is_chunked(header):
        raise Tampered("not a chunked document")
    return _HEADER.unpack(header)[3]


def decrypt(f: BinaryIO, *, keys: dict[bytes, bytes]) -> Iterator[bytes]:
    """The plaintext chunks of a blob read from `f`, each checked before it is given out; Tampered
    as soon as a chunk fails (so a caller must not act on what it got before the end)."""
    header = f.read(HEADER_SIZE)
    if len(header) != HEADER_SIZE or not is_chunked(header):
        raise Tampered("not a chunked document")
    _, version, chunk, key_id, salt, prefix = _HEADER.unpack(header)
    if version != VERSION or not 0 < chunk <= MAX_CHUNK:
        raise Tampered("unknown format version or chunk size")
    key = keys.get(key_id)
    if key is None:
        raise Tampered("encrypted under a key this instance does not have")
    aead, size = _file_key(key, salt), chunk + TAG
    current, index = f.read(size), 0
    while True:
        following = f.read(size) if len(current) == size else b""
        last = not following
        try:
            yield aead.decrypt(_nonce(prefix, index, last), current, header)
        except (InvalidTag, ValueError) as exc:
            raise Tampered(f"chunk {index} does not authenticate") from exc
        if last:
            return
        current, index = following, index + 1


def join_into(chunks: Iterable[bytes], size: int) -> bytearray:
    """Chunks copied into one buffer allocated once (at most `size` bytes, else Tampered)."""
    out, pos = bytearray(size), 0
    for piece in chunks:
        if pos + len(piece) > size:
            raise WrongLength("longer than recorded")
        out[pos:pos + len(piece)] = piece
        pos += len(piece)
    if pos != size:
        raise WrongLength("shorter than recorded")
    return out
