"""The one service every upload goes through: checked by content, encrypted at rest, audited on view.

A file is accepted for what its bytes are, never for its name or the type the browser claims:
magic bytes (`filetype`) first, then a check of the whole file by a real parser (a PDF read by
qpdf, every object and stream, for active content; an image's header by Pillow, for its pixel
count, then its chunks or markers, with metadata dropped; see upload_checks), then the name and
the declared type must agree with what was found. What passes is encrypted in 64 KiB chunks
(AES-256-GCM under a key derived from the newest instance key; see chunked_crypto) and written
under a random name to the document storage; the SHA-256 of the plaintext is checked on every read.
Documents stored before that as one Fernet token are still read; `keys rotate` moves them over.
"""
import csv
import hashlib
import hmac
import io
import json
import logging
import os
import re
import struct
import tempfile
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path

import filetype
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from ...config import parse_keys
from ...i18n import lazy_gettext as _l
from ...models import Document
from .. import audit
from . import chunked_crypto, upload_checks
from .storage import StorageError, get_storage, new_name, open_blob, put_chunks, write_atomic

log = logging.getLogger(__name__)

# correction: a document the requester sends with a correction request (§7023), for staff to weigh.
PURPOSES = ("authorization", "evidence", "inquiry_attachment", "response_file", "correction")
ACCESS_ACTIONS = ("document_viewed", "document_downloaded")
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Kind:
    content_type: str
    extensions: tuple[str, ...]
    aliases: tuple[str, ...]  # declared types browsers use for it
    label: str


PDF = Kind("application/pdf", (".pdf",), ("application/pdf", "application/x-pdf"), "PDF")
PNG = Kind("image/png", (".png",), ("image/png",), "PNG")
JPEG = Kind("image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif"), ("image/jpeg", "image/jpg", "image/pjpeg"), "JPEG")
JSON = Kind("application/json", (".json",), ("application/json", "text/json", "text/plain"), "JSON")
# Windows browsers declare .csv files as Excel documents.
CSV = Kind("text/csv", (".csv",), ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"), "CSV")
KINDS = {k.content_type: k for k in (PDF, PNG, JPEG, JSON, CSV)}
ACCEPTED = {purpose: (PDF, PNG, JPEG) for purpose in PURPOSES}
ACCEPTED["response_file"] = (PDF, PNG, JPEG, JSON, CSV)
# A declared type that says nothing about the content; the content alone decides then.
NO_CLAIM = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}
INLINE_TYPES = {PDF.content_type, PNG.content_type, JPEG.content_type}


class DocumentRejected(Exception):
    """The upload is not accepted; `message` says why and what is accepted (safe to show)."""

    def __init__(self, message, *, code: str = "rejected"):
        super().__init__(str(message))
        self.message = message
        self.code = code  # empty | too_large | type | mismatch | damaged | active_content


class DocumentTampered(Exception):
    """A stored document could not be decrypted, or its content no longer matches its hash."""


def accepted_label(purpose: str) -> str:
    """"PDF, PNG or JPEG" for the purpose, for messages and hints."""
    labels = [k.label for k in ACCEPTED[purpose]]
    return _l("%(first)s or %(last)s", first=", ".join(labels[:-1]), last=labels[-1])


def max_bytes() -> int:
    return int(current_app.config["DOCUMENT_MAX_BYTES"])


def size_label(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


# ---------------------------------------------------------------- reading the upload

def _too_large(limit: int) -> DocumentRejected:
    return DocumentRejected(_l("The file is larger than %(size)s. Send a smaller file.", size=size_label(limit)),
                            code="too_large")


def _seekable(stream) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def read_capped(stream, limit: int) -> bytes:
    """Read a file-like object, refusing as soon as it passes `limit` bytes.

    The upload ends up in memory once: a seekable stream (werkzeug spools uploads to a file) is
    measured and read in one piece; any other is first copied to a temporary file in chunks.
    """
    if not _seekable(stream):
        with tempfile.TemporaryFile() as spool:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                spool.write(chunk)
                if spool.tell() > limit:
                    # Stop here: a 100 MB upload costs one chunk past the cap, never the whole body.
                    raise _too_large(limit)
            spool.seek(0)
            return read_capped(spool, limit)
    start = stream.tell()
    size = stream.seek(0, io.SEEK_END) - start
    stream.seek(start)
    if size > limit:
        raise _too_large(limit)
    data = stream.read(size + 1)
    if len(data) > limit:  # grew since it was measured
        raise _too_large(limit)
    return data


# ---------------------------------------------------------------- deciding what a file is

_PDF_HEADER = re.compile(rb"%PDF-(1\.[0-7]|2\.0)[\r\n %]")
# The upload must be complete: a trailer at the end, after which only whitespace (some scanners
# pad with NULs) may follow. The xref offset itself may be a little wrong, as scanners write it:
# qpdf rebuilds the table, as viewers do.
_PDF_TAIL = re.compile(rb"startxref\s+\d+\s+%%EOF[\s\x00]*\Z")
# Markup a browser or viewer would act on, anywhere in an image: a polyglot is refused.
_MARKUP = re.compile(rb"<\s*(script|html|svg|iframe|body|object|embed|\?xml|!doctype)|%PDF-|<\?php", re.I)
_ACTIVE_PDF = _l("The PDF contains scripts, embedded files or actions that we do not accept. "
                 "Print it to a new PDF, or send a scan as PNG or JPEG.")


def _check_pdf(data: bytes) -> None:
    damaged = DocumentRejected(_l("The PDF is damaged or incomplete (it may not have finished uploading). "
                                  "Send the complete file as a PDF, PNG or JPEG."), code="damaged")
    if not _PDF_HEADER.match(data) or not _PDF_TAIL.search(data[-2048:]):
        raise damaged  # truncated: no trailer, or something appended after the last %%EOF
    try:
        upload_checks.check_pdf(data)
    except upload_checks.Refused as refused:
        if refused.code == "active_content":
            raise DocumentRejected(_ACTIVE_PDF, code="active_content") from None
        if refused.code == "encrypted":
            raise DocumentRejected(_l("The PDF is protected by a password, so we cannot check it. Send it "
                                      "without the password, or send a scan as PNG or JPEG."), code="damaged") from None
        raise damaged from None


def _check_image(data: bytes, kind: "Kind") -> bytes:
    """The image's structure and size checked; returned without its metadata."""
    limit = int(current_app.config["IMAGE_MAX_PIXELS"])
    try:
        upload_checks.image_size(data, "PNG" if kind is PNG else "JPEG", limit)
    except upload_checks.Refused as refused:
        if refused.code == "too_large":
            raise DocumentRejected(_l("The image has more than %(n)s million pixels. Send a smaller scan "
                                      "(300 dpi is enough).", n=f"{limit / 1_000_000:g}"), code="too_large") from None
        raise DocumentRejected(_l("The %(kind)s image is damaged or incomplete. Send the complete file as a "
                                  "PDF, PNG or JPEG.", kind=kind.label), code="damaged") from None
    (_check_png if kind is PNG else _check_jpeg)(data)
    try:
        return upload_checks.strip_png(data) if kind is PNG else upload_checks.strip_jpeg(data)
    except upload_checks.Refused:
        raise DocumentRejected(_l("The %(kind)s image is damaged or incomplete. Send the complete file as a "
                                  "PDF, PNG or JPEG.", kind=kind.label), code="damaged") from None


def _check_png(data: bytes) -> None:
    damaged = DocumentRejected(_l("The PNG image is damaged or incomplete. Send the complete file as a "
                                  "PDF, PNG or JPEG."), code="damaged")
    pos, first = 8, True
    while True:
        if pos + 12 > len(data):
            raise damaged
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body_end = pos + 8 + length
        if body_end + 4 > len(data) or (first and ctype != b"IHDR"):
            raise damaged
        (crc,) = struct.unpack(">I", data[body_end:body_end + 4])
        if zlib.crc32(data[pos + 4:body_end]) != crc:
            raise damaged
        pos, first = body_end + 4, False
        if ctype == b"IEND":
            break
    if pos != len(data):
        raise DocumentRejected(_l("The image carries extra data after its end. Send a plain PDF, PNG or JPEG."),
                               code="active_content")


def _check_jpeg(data: bytes) -> None:
    if not (data.startswith(b"\xff\xd8\xff") and data.rstrip(b"\x00").endswith(b"\xff\xd9")):
        raise DocumentRejected(_l("The JPEG image is damaged or incomplete. Send the complete file as a "
                                  "PDF, PNG or JPEG."), code="damaged")


def _check_text(data: bytes, kind: Kind) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentRejected(_l("%(kind)s files must be UTF-8 text.", kind=kind.label), code="type") from exc
    if "\x00" in text or text.lstrip().startswith("<"):
        raise DocumentRejected(_l("This is not a %(kind)s file.", kind=kind.label), code="type")
    return text


def _detect(data: bytes, purpose: str) -> tuple[Kind, bytes]:
    """What the bytes are, by magic number and structure, and the bytes to keep (an image without
    its metadata); DocumentRejected if not accepted."""
    accepted = ACCEPTED[purpose]
    not_accepted = DocumentRejected(_l("We accept %(types)s files only; this file is not one of them.",
                                       types=accepted_label(purpose)), code="type")
    guess = filetype.guess(data[:8192])
    kind = KINDS.get(guess.mime) if guess else None
    if kind in (PDF, PNG, JPEG) and kind in accepted:
        if kind is PDF:
            _check_pdf(data)
            return kind, data
        if _MARKUP.search(data):
            raise DocumentRejected(_l("The image also contains web page or document code, which we do not "
                                      "accept. Send a plain PDF, PNG or JPEG."), code="active_content")
        return kind, _check_image(data, kind)
    if guess is None and JSON in accepted:
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if head in (b"{", b"["):
            text = _check_text(data, JSON)
            try:
                json.loads(text)
            except ValueError as exc:
                raise DocumentRejected(_l("The JSON file could not be read (it is not valid JSON)."),
                                       code="damaged") from exc
            return JSON, data
        text = _check_text(data, CSV)
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise DocumentRejected(_l("The CSV file could not be read."), code="damaged") from exc
        if not rows:
            raise not_accepted
        return CSV, data
    raise not_accepted


# ---------------------------------------------------------------- names

_UNSAFE = re.compile(r'[<>:"|?*;\\/]')
MAX_NAME = 120


def sanitize_filename(name: str | None, kind: Kind) -> str:
    """A display and download name: no path, no control or invisible characters, NFKC, bounded.

    Only ever used as a label: the blob is stored under a random name.
    """
    name = unicodedata.normalize("NFKC", name or "")
    # NFKC first, so a fullwidth solidus or similar becomes "/" and is cut away with the path.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Drop control, format (bidi overrides that fake an extension), surrogate and unassigned characters.
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", _UNSAFE.sub("_", name)).strip()
    stem, dot, ext = name.rpartition(".")
    ext = dot + ext
    if ext.lower() not in kind.extensions:
        stem, ext = name, kind.extensions[0]
    # No leading dot (a hidden file once saved), no trailing dots or spaces (Windows drops them).
    stem = stem.strip(" .")[:MAX_NAME - len(ext)].rstrip(" .") or "document"
    return stem + ext.lower()


def _extension(name: str | None) -> str:
    base = unicodedata.normalize("NFKC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    stem, dot, ext = base.rpartition(".")
    return (dot + ext).lower() if dot else ""


def _check_claims(kind: Kind, filename: str | None, declared_type: str | None, purpose: str) -> None:
    declared = (declared_type or "").split(";")[0].strip().lower()
    ext = _extension(filename)
    if (declared not in NO_CLAIM and declared not in kind.aliases) or (ext and ext not in kind.extensions):
        raise DocumentRejected(_l("The file's name or type does not match its content (it looks like a %(kind)s). "
                                  "We accept %(types)s files; send the original file without renaming it.",
                                  kind=kind.label, types=accepted_label(purpose)), code="mismatch")


# ---------------------------------------------------------------- keys

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


# ---------------------------------------------------------------- storing and reading

def _forget_blob_on_rollback(session: Session, storage, name: str) -> None:
    session.info.setdefault("uncommitted_blobs", []).append((storage, name))


@event.listens_for(OrmSession, "after_commit")
def _blobs_committed(session):
    session.info.pop("uncommitted_blobs", None)


@event.listens_for(OrmSession, "after_transaction_end")
def _blobs_rolled_back(session, transaction):
    # Ended without a commit (rollback, or close): the row never reached the database, so
    # remove its blob and leave no orphan behind. A commit has already emptied the list.
    if transaction.parent is not None:
        return
    for storage, name in session.info.pop("uncommitted_blobs", []):
        try:
            storage.delete(name)
        except Exception:  # cleanup is best effort; the blob is encrypted and unreferenced
            log.warning("could not remove an uncommitted document blob")


def _inspect(*, stream, filename: str | None, declared_type: str | None, purpose: str) -> tuple[bytes, Kind]:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown document purpose {purpose!r}")
    data = read_capped(stream, max_bytes())
    if not data:
        raise DocumentRejected(_l("The file is empty. Send a %(types)s file.", types=accepted_label(purpose)),
                               code="empty")
    kind, data = _detect(data, purpose)
    _check_claims(kind, filename, declared_type, purpose)
    return data, kind


def inspect(*, stream, filename: str | None, declared_type: str | None, purpose: str) -> bytes:
    """Run every check of `store` without keeping anything; the accepted bytes, or DocumentRejected."""
    return _inspect(stream=stream, filename=filename, declared_type=declared_type, purpose=purpose)[0]


def store(session: Session, *, stream, filename: str | None, declared_type: str | None, purpose: str,
          request_id: int | None = None, uploaded_by: str) -> Document:
    """Check, encrypt and keep one upload; raise DocumentRejected with a message to show.

    The document row is added and flushed in the caller's transaction (the caller commits, so
    the document and what it belongs to are saved together); its blob is removed on rollback.
    """
    data, kind = _inspect(stream=stream, filename=filename, declared_type=declared_type, purpose=purpose)
    ring = keyring()
    storage, name = get_storage(), new_name()
    put_chunks(storage, name, _encrypt(data, ring))
    _forget_blob_on_rollback(session, storage, name)
    doc = Document(request_id=request_id, purpose=purpose, storage_name=name,
                   original_name=sanitize_filename(filename, kind), content_type=kind.content_type,
                   size=len(data), sha256=hashlib.sha256(data).hexdigest(), key_id=ring.primary_id,
                   uploaded_by=uploaded_by)
    session.add(doc)
    session.flush()
    log.info("document %s stored (%s, %s bytes, request %s)", doc.id, kind.label, doc.size, request_id)
    return doc


def _encrypt(data, ring: Keyring):
    return chunked_crypto.encrypt(data, key=ring.primary_raw, key_id=bytes.fromhex(ring.primary_id))


def _stored_format(document: Document) -> tuple[str, str | None]:
    """("chunked", the key id its header names) or ("fernet", None), from the blob's first bytes."""
    with open_blob(get_storage(), document.storage_name) as f:
        head = f.read(chunked_crypto.HEADER_SIZE)
    if not chunked_crypto.is_chunked(head):
        return "fernet", None
    try:
        return "chunked", chunked_crypto.header_key_id(io.BytesIO(head)).hex()
    except chunked_crypto.Tampered:
        return "chunked", None


def _decrypt(document: Document, ring: Keyring) -> bytearray | bytes:
    try:
        with open_blob(get_storage(), document.storage_name) as f:
            if chunked_crypto.is_chunked(f.read(len(chunked_crypto.MAGIC))):
                f.seek(0)
                # Decrypted chunk by chunk into one buffer of the recorded size: no whole copies.
                data = chunked_crypto.join_into(chunked_crypto.decrypt(f, keys=ring.chunk_keys), document.size)
            else:
                f.seek(0)
                data = ring.fernet.decrypt(f.read())  # stored before chunked encryption
    except chunked_crypto.WrongLength as exc:
        log.warning("document %s does not match its recorded hash", document.id)
        raise DocumentTampered(f"document {document.id} does not match its recorded hash") from exc
    except (InvalidToken, StorageError, chunked_crypto.Tampered) as exc:
        log.warning("document %s could not be decrypted or is missing", document.id)
        raise DocumentTampered(f"document {document.id} could not be decrypted") from exc
    # Constant-time compare: the hash of the plaintext must be what was recorded at upload.
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), document.sha256):
        log.warning("document %s does not match its recorded hash", document.id)
        raise DocumentTampered(f"document {document.id} does not match its recorded hash")
    return data


def read(session: Session, *, document: Document) -> bytearray | bytes:
    """The plaintext of a stored document, checked against its hash; DocumentTampered otherwise.
    (A bytearray for chunked documents: filled in place, so reading costs the file's size once.)"""
    return _decrypt(document, keyring())


def for_request(session: Session, *, request_id: int, purpose: str | None = None) -> list[Document]:
    """The documents of one case, oldest first."""
    query = select(Document).where(Document.request_id == request_id)
    if purpose:
        query = query.where(Document.purpose == purpose)
    return list(session.execute(query.order_by(Document.id)).scalars())


def record_access(session: Session, *, document: Document, actor: str, action: str,
                  inquiry_id: int | None = None) -> None:
    """Put a view or download of a document on record (hash-chained audit log)."""
    if action not in ACCESS_ACTIONS:
        raise ValueError(f"unknown document access {action!r}")
    audit.record(session, action=action, actor=actor, request_id=document.request_id, inquiry_id=inquiry_id,
                 detail=f"document {document.id} ({document.purpose})")
    session.commit()


def delete(session: Session, *, document: Document, actor: str) -> None:
    """Remove a document and its blob (retention, or a staff correction), on record."""
    audit.record(session, action="document_deleted", actor=actor, request_id=document.request_id,
                 detail=f"document {document.id} ({document.purpose})")
    session.delete(document)
    session.commit()
    get_storage().delete(document.storage_name)


# ---------------------------------------------------------------- rotation

@dataclass
class ReencryptResult:
    reencrypted: int = 0
    current: int = 0
    failed: int = 0


def reencrypt_all(session: Session, *, batch: int = 100) -> ReencryptResult:
    """Re-encrypt every stored document not yet under the newest key, or still in the Fernet
    format (which moves to chunked encryption).

    Each blob is replaced atomically, so readers see the old or the new ciphertext, and both
    decrypt while the key ring keeps the old keys. Resumable: a second run skips what is done.
    """
    ring = keyring()
    storage, result, last_id = get_storage(), ReencryptResult(), 0
    while True:
        docs = list(session.execute(select(Document).where(Document.id > last_id)
                                    .order_by(Document.id).limit(batch)).scalars())
        if not docs:
            session.commit()  # end the read transaction (on SQLite it holds the write lock)
            return result
        for doc in docs:
            last_id = doc.id
            try:
                form, header_key = _stored_format(doc)
            except StorageError:
                result.failed += 1
                continue
            if form == "chunked" and header_key == doc.key_id == ring.primary_id:
                result.current += 1
                continue
            try:
                data = _decrypt(doc, ring)
            except DocumentTampered:
                result.failed += 1
                continue
            put_chunks(storage, doc.storage_name, _encrypt(data, ring))
            del data
            doc.key_id = ring.primary_id
            result.reencrypted += 1
        session.commit()


def rotate_key_file(path: str | os.PathLike) -> str:
    """Put a new key first in the instance key file (old keys kept); return its fingerprint."""
    app = current_app._get_current_object()
    keys = parse_keys(Path(path).read_text()) if Path(path).exists() else list(app.config["ENCRYPTION_KEYS"])
    new = Fernet.generate_key().decode()
    write_key_file(path, [new, *keys])
    app.config["ENCRYPTION_KEYS"] = [new, *keys]
    app.extensions.pop("document_keyring", None)
    return key_id(new)
