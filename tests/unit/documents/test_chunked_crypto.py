"""Documents encrypted in chunks: round trip, tampering refused, Fernet documents still read and
moved to the chunked format by `keys rotate`, rotation of chunked documents."""
import io
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from portal.models import Document
from portal.services.documents import chunked_crypto, keys
from portal.services.documents import store as documents
from portal.services.documents.storage import get_storage
from portal.services.documents.store import DocumentTampered

from ... import files

KEY = os.urandom(32)
KID = b"\x01" * 8


def seal(data: bytes, chunk: int = 16) -> bytes:
    return b"".join(chunked_crypto.encrypt(data, key=KEY, key_id=KID, chunk=chunk))


def unseal(blob: bytes) -> bytes:
    return b"".join(chunked_crypto.decrypt(io.BytesIO(blob), keys={KID: KEY}))


def chunks_of(blob: bytes, chunk: int = 16) -> tuple[bytes, list[bytes]]:
    header, body = blob[:chunked_crypto.HEADER_SIZE], blob[chunked_crypto.HEADER_SIZE:]
    size = chunk + chunked_crypto.TAG
    return header, [body[i:i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 32, 100])
def test_round_trip_at_every_chunk_boundary(length):
    data = os.urandom(length)
    blob = seal(data)
    assert unseal(blob) == data
    assert blob.startswith(chunked_crypto.MAGIC)
    assert len(blob) == chunked_crypto.HEADER_SIZE + length + max(1, -(-length // 16)) * chunked_crypto.TAG


def test_each_encryption_is_fresh():
    assert seal(b"same content") != seal(b"same content")


def test_a_flipped_byte_anywhere_is_refused():
    blob = seal(b"x" * 100)
    for pos in range(0, len(blob), 7):
        bad = bytearray(blob)
        bad[pos] ^= 0x01
        with pytest.raises(chunked_crypto.Tampered):
            unseal(bytes(bad))


def test_dropping_the_last_chunk_or_cutting_short_is_refused():
    header, parts = chunks_of(seal(b"y" * 64))  # four full chunks, the last one marked last
    assert len(parts) == 4
    for cut in (header + b"".join(parts[:-1]), header + b"".join(parts[:1]), header, seal(b"y" * 64)[:-1]):
        with pytest.raises(chunked_crypto.Tampered):
            unseal(cut)


def test_swapped_repeated_or_appended_chunks_are_refused():
    header, parts = chunks_of(seal(b"".join(bytes([i]) * 16 for i in range(4))))
    for body in ([parts[1], parts[0], *parts[2:]], [parts[0], parts[0], *parts[2:]], [*parts, parts[-1]]):
        with pytest.raises(chunked_crypto.Tampered):
            unseal(header + b"".join(body))


def test_chunks_from_another_file_under_the_same_key_are_refused():
    header_a, parts_a = chunks_of(seal(b"a" * 48))
    _, parts_b = chunks_of(seal(b"b" * 48))
    with pytest.raises(chunked_crypto.Tampered):
        unseal(header_a + parts_a[0] + parts_b[1] + parts_a[2])


def test_an_unknown_key_or_a_changed_header_is_refused():
    blob = seal(b"z" * 40)
    with pytest.raises(chunked_crypto.Tampered, match="key"):
        b"".join(chunked_crypto.decrypt(io.BytesIO(blob), keys={b"\x02" * 8: KEY}))
    changed = bytearray(blob)
    changed[5:9] = (32).to_bytes(4, "big")  # claims another chunk size: the header is authenticated
    with pytest.raises(chunked_crypto.Tampered):
        unseal(bytes(changed))


# ---------------------------------------------------------------- through the documents service

def _store(session, data: bytes, name="letter.pdf"):
    doc = documents.store(session, stream=io.BytesIO(data), filename=name, declared_type="application/pdf",
                          purpose="authorization", uploaded_by="agent")
    session.commit()
    return doc


def _blob(app, doc) -> Path:
    return Path(app.instance_path) / "documents" / doc.storage_name


def test_a_stored_document_is_chunked_and_reads_back(session, app):
    data = files.kept(files.pdf(text="z" * 300_000))  # five chunks, as stored
    doc = _store(session, data)
    raw = _blob(app, doc).read_bytes()
    assert chunked_crypto.is_chunked(raw)
    assert chunked_crypto.header_key_id(io.BytesIO(raw)).hex() == doc.key_id == keys.keyring().primary_id
    assert len(raw) == chunked_crypto.HEADER_SIZE + len(data) + 5 * chunked_crypto.TAG
    assert documents.read(session, document=doc) == data


@pytest.mark.parametrize("damage", ["flip", "drop_last", "swap"])
def test_a_tampered_stored_document_is_refused(session, app, damage):
    doc = _store(session, files.pdf(text="w" * 200_000))
    path = _blob(app, doc)
    header, parts = chunks_of(path.read_bytes(), chunked_crypto.CHUNK)
    if damage == "flip":
        parts[1] = parts[1][:100] + bytes([parts[1][100] ^ 0x80]) + parts[1][101:]
    elif damage == "drop_last":
        parts = parts[:-1]
    else:
        parts[0], parts[1] = parts[1], parts[0]
    path.write_bytes(header + b"".join(parts))
    with pytest.raises(DocumentTampered):
        documents.read(session, document=doc)


def _legacy(session, app, data: bytes) -> Document:
    """A document as stored before chunked encryption: one Fernet token of the whole file."""
    doc = _store(session, data)
    get_storage().put(doc.storage_name, keys.keyring().fernet.encrypt(files.kept(data)))
    return doc


def test_documents_stored_as_fernet_tokens_are_still_read(session, app):
    doc = _legacy(session, app, files.pdf(text="stored last year"))
    assert _blob(app, doc).read_bytes().startswith(b"gAAAAA")
    assert documents.read(session, document=doc) == files.kept(files.pdf(text="stored last year"))
    raw = bytearray(_blob(app, doc).read_bytes())
    raw[len(raw) // 2] = ord("A") if raw[len(raw) // 2] != ord("A") else ord("B")
    _blob(app, doc).write_bytes(bytes(raw))
    with pytest.raises(DocumentTampered):
        documents.read(session, document=doc)


def test_reencrypt_only_moves_fernet_documents_to_chunks(session, app, runner):
    old = _legacy(session, app, files.pdf(text="old format"))
    new = _store(session, files.pdf(text="new format"))
    new_raw = _blob(app, new).read_bytes()
    session.close()
    result = runner.invoke(args=["keys", "rotate", "--reencrypt-only"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 documents" in result.output and "1 already under it" in result.output
    assert chunked_crypto.is_chunked(_blob(app, old).read_bytes())
    assert _blob(app, new).read_bytes() == new_raw  # already chunked under the newest key: untouched
    for doc_id, text in ((old.id, "old format"), (new.id, "new format")):
        assert documents.read(session, document=session.get(Document, doc_id)) == files.kept(files.pdf(text=text))
    again = runner.invoke(args=["keys", "rotate", "--reencrypt-only"])
    assert "re-encrypted 0 documents" in again.output and "2 already under it" in again.output


def test_rotation_reencrypts_both_formats_under_the_new_key(session, app, runner):
    old = _legacy(session, app, files.pdf(text="fernet"))
    chunked = _store(session, files.pdf(text="chunked"))
    session.close()
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 2 documents" in result.output
    new_id = keys.keyring().primary_id
    for doc in session.execute(select(Document).order_by(Document.id)).scalars():
        raw = _blob(app, doc).read_bytes()
        assert doc.key_id == new_id == chunked_crypto.header_key_id(io.BytesIO(raw)).hex()
        assert documents.read(session, document=doc) == files.kept(files.pdf(text="fernet" if doc.id == old.id else "chunked"))
    assert chunked.id != old.id


def test_a_non_seekable_upload_is_read_whole_once(session, app):
    data = files.kept(files.pdf(text="q" * 100_000))

    class Pipe:  # a body that can only be read forward, as a socket would be
        def __init__(self):
            self.inner = io.BytesIO(data)

        def read(self, n=-1):
            return self.inner.read(n)
    doc = documents.store(session, stream=Pipe(), filename="a.pdf", declared_type="application/pdf",
                          purpose="authorization", uploaded_by="agent")
    session.commit()
    assert documents.read(session, document=doc) == data
