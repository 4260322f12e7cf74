"""The one service every upload goes through: checked by content, encrypted at rest, audited on view.
(kinds.py decides what a file is; keys.py holds the key ring.)

A file is accepted for what its bytes are, never for its name or the type the browser claims:
magic bytes (`filetype`) first, then a check of the whole file by a real parser (a PDF read by
qpdf, every object and stream, for active content; an image's header by Pillow, for its pixel
count, then its chunks or markers, with metadata dropped; see upload_checks), then the name and
the declared type must agree with what was found. What passes is encrypted in 64 KiB chunks
(AES-256-GCM under a key derived from the newest instance key; see chunked_crypto) and written
under a random name to the document storage; the SHA-256 of the plaintext is checked on every read.
Documents stored before that as one Fernet token are still read; `keys rotate` moves them over.
"""
import hashlib
import hmac
import io
import logging
from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from sqlalchemy import event, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...models import Document
from .. import audit
from . import chunked_crypto, kinds
from .keys import Keyring, keyring
from .kinds import PURPOSES, DocumentRejected, Kind, accepted_label, max_bytes, read_capped, sanitize_filename
from .storage import StorageError, get_storage, new_name, open_blob, put_chunks

log = logging.getLogger(__name__)

ACCESS_ACTIONS = ("document_viewed", "document_downloaded")


class DocumentTampered(Exception):
    """A stored document could not be decrypted, or its content no longer matches its hash."""


# ---------------------------------------------------------------- storing and reading

def _forget_blob_on_rollback(session: Session, storage, name: str) -> None:
    session.info.setdefault("uncommitted_blobs", []).append((storage, name))


@event.listens_for(OrmSession, "after_commit")
def _blobs_committed(session):
    session.info.pop("uncommitted_blobs", None)
    for storage, name in session.info.pop("discarded_blobs", []):
        storage.delete(name)  # the row is gone for good: its blob goes too


@event.listens_for(OrmSession, "after_transaction_end")
def _blobs_rolled_back(session, transaction):
    # Ended without a commit (rollback, or close): the row never reached the database, so
    # remove its blob and leave no orphan behind. A commit has already emptied the list.
    if transaction.parent is not None:
        return
    for storage, name in session.info.pop("uncommitted_blobs", []):
        try:
            storage.delete(name)
        except Exception:  # noqa: BLE001  cleanup is best effort; the blob is encrypted and unreferenced
            log.warning("could not remove an uncommitted document blob")


@dataclass(frozen=True)
class Checked:
    """An upload that passed every check: the bytes to keep (a PDF as qpdf rewrote it, an image
    without its metadata), what they are, and the name to show."""
    data: bytes
    kind: Kind
    filename: str | None
    purpose: str


def check(*, stream, filename: str | None, declared_type: str | None, purpose: str) -> Checked:
    """Run every check of `store` without keeping anything; DocumentRejected with a message to show."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown document purpose {purpose!r}")
    data = read_capped(stream, max_bytes())
    if not data:
        raise DocumentRejected(_l("The file is empty. Send a %(types)s file.", types=accepted_label(purpose)),
                               code="empty")
    kind, data = kinds.detect(data, purpose)
    kinds.check_claims(kind, filename, declared_type, purpose)
    return Checked(data, kind, filename, purpose)


def inspect(*, stream, filename: str | None, declared_type: str | None, purpose: str) -> bytes:
    """Run every check of `store` without keeping anything; the accepted bytes, or DocumentRejected."""
    return check(stream=stream, filename=filename, declared_type=declared_type, purpose=purpose).data


def store(session: Session, *, stream, filename: str | None, declared_type: str | None, purpose: str,
          request_id: int | None = None, uploaded_by: str) -> Document:
    """Check, encrypt and keep one upload; raise DocumentRejected with a message to show.

    The document row is added and flushed in the caller's transaction (the caller commits, so
    the document and what it belongs to are saved together); its blob is removed on rollback.
    """
    checked = check(stream=stream, filename=filename, declared_type=declared_type, purpose=purpose)
    return keep(session, checked=checked, request_id=request_id, uploaded_by=uploaded_by)


def keep(session: Session, *, checked: Checked, request_id: int | None = None, uploaded_by: str) -> Document:
    """Encrypt and keep an upload `check` accepted (a caller that must check before it knows
    whether it will keep the file: see cases.submission), in the caller's transaction."""
    data, kind = checked.data, checked.kind
    ring = keyring()
    storage, name = get_storage(), new_name()
    put_chunks(storage, name, _encrypt(data, ring))
    _forget_blob_on_rollback(session, storage, name)
    doc = Document(request_id=request_id, purpose=checked.purpose, storage_name=name,
                   original_name=sanitize_filename(checked.filename, kind), content_type=kind.content_type,
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


@atomic
def record_access(session: Session, *, document: Document, actor: str, action: str,
                  inquiry_id: int | None = None) -> None:
    """Put a view or download of a document on record (hash-chained audit log)."""
    if action not in ACCESS_ACTIONS:
        raise ValueError(f"unknown document access {action!r}")
    audit.record(session, action=action, actor=actor, request_id=document.request_id, inquiry_id=inquiry_id,
                 detail=f"document {document.id} ({document.purpose})")
    session.commit()


@atomic
def delete(session: Session, *, document: Document, actor: str) -> None:
    """Remove a document and its blob (retention, or a staff correction), on record."""
    audit.record(session, action="document_deleted", actor=actor, request_id=document.request_id,
                 detail=f"document {document.id} ({document.purpose})")
    session.delete(document)
    session.commit()
    get_storage().delete(document.storage_name)


def discard(session: Session, *, document: Document, actor: str) -> None:
    """Remove a document in the caller's transaction; its blob goes once that commits (kept on rollback)."""
    audit.record(session, action="document_deleted", actor=actor, request_id=document.request_id,
                 detail=f"document {document.id} ({document.purpose})")
    session.delete(document)
    session.info.setdefault("discarded_blobs", []).append((get_storage(), document.storage_name))


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


