"""Where uploaded documents' encrypted blobs live: a small interface, a local folder by default.

Anything with the four methods of `Storage` can take the local folder's place (an object store,
for instance): set `app.extensions["document_storage"]` before the first upload. A storage may
also offer `put_stream` and `open` (the local folder does), so a large blob is written and read
in chunks; `put_chunks` and `open_blob` fall back to the four methods otherwise.
"""
import io
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app

# Names are generated here, never taken from an upload; the pattern also refuses any name that
# could step out of the folder ("..", "/", NUL) should one ever be passed in from elsewhere.
_NAME = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class StorageError(Exception):
    """The storage could not find or keep a blob."""


class Storage(Protocol):
    def put(self, name: str, data: bytes) -> None:
        """Write atomically: a reader sees the old blob or the new one, never half of either."""
        write_atomic(self._path(name), data)

    def get(self, name: str) -> bytes: ...

    def delete(self, name: str) -> None: ...

    def exists(self, name: str) -> bool: ...


def new_name() -> str:
    """A random, unguessable blob name (192 bits), unrelated to the upload's own name."""
    return secrets.token_urlsafe(24)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise StorageError("invalid blob name")
    return name


def write_atomic(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Replace `path` with `data` (bytes, or an iterable of chunks written one by one) atomically,
    owner-only from the first byte, synced to disk."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            for part in ((data,) if isinstance(data, (bytes, bytearray, memoryview)) else data):
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class LocalStorage:
    """Blobs as owner-only files in one folder (by default `<instance>/documents/`, outside static/)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / check_name(name)

    def put(self, name: str, data: bytes) -> None:
        """Write atomically: a reader sees the old blob or the new one, never half of either."""
        write_atomic(self._path(name), data)

    def put_stream(self, name: str, chunks: Iterable[bytes]) -> None:
        """As `put`, from chunks: the blob is never held whole in memory."""
        write_atomic(self._path(name), chunks)

    def get(self, name: str) -> bytes:
        try:
            return self._path(name).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError("blob not found") from exc

    def open(self, name: str) -> BinaryIO:
        """The blob for reading in chunks. An open file keeps reading the blob it opened even if
        `put` replaces it meanwhile (the replacement is a new file)."""
        try:
            return self._path(name).open("rb")
        except FileNotFoundError as exc:
            raise StorageError("blob not found") from exc

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()


def put_chunks(storage: Storage, name: str, chunks: Iterable[bytes]) -> None:
    """Write a blob from chunks, streamed where the storage can take a stream."""
    if hasattr(storage, "put_stream"):
        storage.put_stream(name, chunks)
    else:
        storage.put(name, b"".join(chunks))


def open_blob(storage: Storage, name: str) -> BinaryIO:
    """A blob as a readable binary file, read in chunks where the storage allows it."""
    if hasattr(storage, "open"):
        return storage.open(name)
    return io.BytesIO(storage.get(name))


def get_storage() -> Storage:
    """The app's document storage, created on first use."""
    app = current_app._get_current_object()
    storage = app.extensions.get("document_storage")
    if storage is None:
        root = app.config.get("DOCUMENTS_PATH") or Path(app.instance_path) / "documents"
        storage = app.extensions["document_storage"] = LocalStorage(root)
    return storage
