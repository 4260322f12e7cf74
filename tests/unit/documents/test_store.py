"""The documents service: what it accepts, how it stores, reads, rotates keys and serves."""
import io
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from portal import create_app, web
from portal import db as portal_db
from portal.models import AuditEvent, Document
from portal.services import audit
from portal.services.documents import chunked_crypto, keys, kinds
from portal.services.documents import store as documents
from portal.services.documents.kinds import DocumentRejected
from portal.services.documents.storage import LocalStorage, StorageError, get_storage
from portal.services.documents.store import DocumentTampered

from ... import files
from ...files import CountingStream


def store(session, data: bytes, filename="letter.pdf", declared="application/pdf", purpose="authorization", **kw):
    doc = documents.store(session, stream=io.BytesIO(data), filename=filename, declared_type=declared,
                          purpose=purpose, uploaded_by="agent", **kw)
    session.commit()
    return doc


def rejected(session, data: bytes, **kw) -> DocumentRejected:
    before = session.execute(select(func.count()).select_from(Document)).scalar()
    with pytest.raises(DocumentRejected) as info:
        store(session, data, **kw)
    session.rollback()
    assert session.execute(select(func.count()).select_from(Document)).scalar() == before
    return info.value


def blobs(app) -> list[Path]:
    folder = Path(app.instance_path) / "documents"
    return [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.exists() else []


# ---------------------------------------------------------------- accepted files

@pytest.mark.parametrize("data,filename,declared,content_type", [
    (files.pdf(), "Signed letter.pdf", "application/pdf", "application/pdf"),
    (files.png(), "scan.PNG", "image/png", "image/png"),
    (files.jpeg(), "photo.jpeg", "image/jpeg", "image/jpeg"),
    (files.jpeg(), "photo.jpg", "application/octet-stream", "image/jpeg"),  # no claim: the content decides
])
def test_accepts_real_pdf_png_jpeg_and_reads_them_back(session, app, data, filename, declared, content_type):
    doc = store(session, data, filename=filename, declared=declared)
    kept = files.kept(data) if content_type == "application/pdf" else data  # a PDF as qpdf rewrote it
    assert doc.id and doc.content_type == content_type and doc.size == len(kept)
    assert doc.original_name == filename.replace(".PNG", ".png")
    assert documents.read(session, document=doc) == kept
    [blob] = blobs(app)
    assert blob.name == doc.storage_name and filename not in blob.name
    assert stat.S_IMODE(blob.stat().st_mode) == 0o600
    assert "static" not in blob.parts


def test_raw_stored_file_contains_no_plaintext(session, app):
    secret = "Jane Q. Consumer, SSN 123-45-6789, claim WC-2026-0042"
    doc = store(session, files.pdf(text=secret))
    raw = (Path(app.instance_path) / "documents" / doc.storage_name).read_bytes()
    assert b"123-45-6789" not in raw and b"%PDF" not in raw and b"Consumer" not in raw
    assert documents.read(session, document=doc) == files.kept(files.pdf(text=secret))


def test_pdf_padded_with_nuls_after_eof_is_accepted(session):
    doc = store(session, files.pdf() + b"\x00" * 64)
    assert doc.content_type == "application/pdf"


def test_response_files_also_take_json_and_csv(session):
    j = store(session, b'{"categories": ["contact"], "records": 3}', filename="export.json",
              declared="application/json", purpose="response_file")
    c = store(session, "name,value\nJosé,1\n".encode(), filename="export.csv", declared="application/vnd.ms-excel",
              purpose="response_file")
    assert (j.content_type, c.content_type) == ("application/json", "text/csv")
    assert rejected(session, b'{"broken": ', filename="x.json", declared="application/json",
                    purpose="response_file").code == "damaged"
    assert rejected(session, b"\xff\xfe n\x00a\x00", filename="x.csv", declared="text/csv",
                    purpose="response_file").code == "type"
    # Only response files may be JSON or CSV.
    assert rejected(session, b'{"a": 1}', filename="x.json", declared="application/json").code == "type"


# ---------------------------------------------------------------- upload attacks

@pytest.mark.parametrize("data", [files.ELF, files.PE], ids=["elf", "pe"])
def test_executable_renamed_pdf_is_refused(session, data):
    error = rejected(session, data, filename="letter.pdf", declared="application/pdf")
    assert error.code == "type"
    assert "PDF, PNG or JPEG" in str(error.message)


@pytest.mark.parametrize("data,filename,declared", [
    (files.HTML, "letter.pdf", "application/pdf"),
    (files.HTML, "page.html", "text/html"),
    (files.SVG, "scan.png", "image/png"),
    (files.SVG, "drawing.svg", "image/svg+xml"),
])
def test_html_and_svg_are_refused(session, data, filename, declared):
    assert rejected(session, data, filename=filename, declared=declared).code == "type"


@pytest.mark.parametrize("data", [files.HTML, files.SVG], ids=["html", "svg"])
def test_markup_is_refused_even_as_a_response_file(session, data):
    assert rejected(session, data, filename="export.csv", declared="text/csv", purpose="response_file").code == "type"


@pytest.mark.parametrize("data,filename,declared", [
    (files.jpeg(comment=files.HTML), "photo.jpg", "image/jpeg"),  # JPEG header, HTML inside
    (files.jpeg(comment=b"x") + files.HTML, "photo.jpg", "image/jpeg"),  # JPEG, then HTML
    (files.jpeg(comment=files.pdf()), "photo.jpg", "image/jpeg"),  # JPEG and PDF at once
    (files.png() + files.HTML, "scan.png", "image/png"),  # PNG with HTML after IEND
    (files.png() + b"trailing", "scan.png", "image/png"),
    (files.pdf() + files.HTML, "letter.pdf", "application/pdf"),  # PDF with HTML after %%EOF
])
def test_polyglots_are_refused(session, data, filename, declared):
    assert rejected(session, data, filename=filename, declared=declared).code in ("active_content", "damaged")


def test_zero_bytes_are_refused(session):
    error = rejected(session, b"")
    assert error.code == "empty" and "empty" in str(error.message)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_pdf_is_refused(session, cut):
    data = files.pdf()
    assert rejected(session, data[:int(len(data) * cut)]).code == "damaged"


def test_pdf_with_a_wrong_xref_offset_is_read_as_viewers_read_it(session):
    # qpdf rebuilds the table, as viewers do; what decides is the content (test_upload_checks).
    data = files.pdf().replace(b"startxref\n", b"startxref\n9")
    assert store(session, data).content_type == "application/pdf"


def test_truncated_png_and_jpeg_are_refused(session):
    assert rejected(session, files.png()[:-10], filename="a.png", declared="image/png").code == "damaged"
    corrupt = bytearray(files.png())
    corrupt[40] ^= 0xFF  # inside IDAT: the CRC no longer matches
    assert rejected(session, bytes(corrupt), filename="a.png", declared="image/png").code == "damaged"
    assert rejected(session, files.jpeg()[:-2], filename="a.jpg", declared="image/jpeg").code == "damaged"


@pytest.mark.parametrize("catalog_extra,extra", [
    ("/OpenAction 6 0 R ", (b"<< /S /JavaScript /JS (app.alert(1)) >>",)),
    ("/OpenAction 6 0 R ", (b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>",)),  # hex-escaped names
    ("/OpenAction 6 0 R ", (b"<< /S /Launch /F (cmd.exe) >>",)),
    ("/Names << /EmbeddedFiles 6 0 R >> ", (b"<< /Names [] >>",)),
])
def test_pdf_with_javascript_or_launch_actions_is_refused(session, catalog_extra, extra):
    data = files.pdf(catalog_extra=catalog_extra, extra_objects=extra)
    assert rejected(session, data).code == "active_content"


def test_javascript_hidden_in_a_compressed_object_stream_is_refused(session):
    from ...evasions import pdf_with_object_stream
    data = pdf_with_object_stream()
    assert b"JavaScript" not in data
    assert rejected(session, data).code == "active_content"


def test_a_large_stream_is_refused_early_without_reading_it_whole(session, app):
    limit = app.config["DOCUMENT_MAX_BYTES"]
    stream = CountingStream(100 * 1024 * 1024, head=files.pdf()[:-8])
    with pytest.raises(DocumentRejected) as info:
        documents.store(session, stream=stream, filename="big.pdf", declared_type="application/pdf",
                        purpose="authorization", uploaded_by="agent")
    assert info.value.code == "too_large" and "10 MB" in str(info.value.message)
    assert limit < stream.read_bytes <= limit + kinds.CHUNK
    assert not blobs(app)


def test_size_cap_is_configurable(app_config, tmp_path):
    app_config["DOCUMENT_MAX_BYTES"] = 1024
    app = create_app(app_config)
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 + app.config["FORM_OVERHEAD_BYTES"]
    with app.app_context():
        error = rejected(portal_db.session(), files.pdf(text="x" * 2000))
    assert error.code == "too_large" and "1 KB" in str(error.message)
    app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("filename,expected", [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\Windows\\System32\\letter.pdf", "letter.pdf"),
    ("C:\\Users\\ana\\Desktop\\carta firmada.pdf", "carta firmada.pdf"),
    ("\uff0e\uff0e\uff0fsecret\uff0fletter.pdf", "letter.pdf"),  # fullwidth ../ folds to ../ under NFKC
    ("invoice\u202efdp.exe.pdf", "invoicefdp.exe.pdf"),  # right-to-left override dropped
    ("car\u0074a\u0301 de\x00 permiso\r\n.pdf", "cartá de permiso.pdf"),  # NFC, NUL and newlines gone
    ("José Núñez — autorización.pdf", "José Núñez — autorización.pdf"),
    ("<script>.pdf", "_script_.pdf"),
    ("....pdf", "document.pdf"),
    ("letter", "letter.pdf"),
    ("", "document.pdf"),
    ("a" * 500 + ".pdf", "a" * 116 + ".pdf"),
])
def test_file_names_are_sanitized_and_only_a_label(session, app, filename, expected):
    doc = store(session, files.pdf(), filename=filename)
    assert doc.original_name == expected
    [blob] = blobs(app)
    assert blob.parent == Path(app.instance_path) / "documents" and blob.name == doc.storage_name


@pytest.mark.parametrize("data,filename,declared", [
    (files.pdf(), "letter.pdf", "image/png"),  # declared type disagrees with the content
    (files.pdf(), "letter.pdf", "text/html"),
    (files.png(), "scan.png", "image/jpeg"),
    (files.png(), "scan.jpg", "image/png"),  # renamed: extension disagrees
    (files.jpeg(), "photo.pdf", "application/pdf"),
    (files.pdf(), "letter.exe", "application/pdf"),
])
def test_wrong_declared_type_or_extension_is_refused(session, data, filename, declared):
    error = rejected(session, data, filename=filename, declared=declared)
    assert error.code == "mismatch" and "does not match its content" in str(error.message)


def test_inspect_checks_without_keeping_anything(session, app):
    assert documents.inspect(stream=io.BytesIO(files.png()), filename="a.png", declared_type="image/png",
                             purpose="evidence") == files.png()
    with pytest.raises(DocumentRejected):
        documents.inspect(stream=io.BytesIO(files.SVG), filename="a.png", declared_type="image/png", purpose="evidence")
    assert blobs(app) == [] and session.execute(select(func.count()).select_from(Document)).scalar() == 0


def test_unknown_purpose_is_a_programming_error(session):
    with pytest.raises(ValueError):
        documents.store(session, stream=io.BytesIO(files.pdf()), filename="a.pdf", declared_type="application/pdf",
                        purpose="avatar", uploaded_by="agent")


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_upload_not_committed_leaves_no_blob(session, app, end):
    kept = store(session, files.pdf(text="kept"))  # committed: must survive what follows
    documents.store(session, stream=io.BytesIO(files.pdf()), filename="a.pdf", declared_type="application/pdf",
                    purpose="authorization", uploaded_by="agent")
    assert len(blobs(app)) == 2
    getattr(session, end)()
    assert [b.name for b in blobs(app)] == [kept.storage_name]
    assert session.execute(select(func.count()).select_from(Document)).scalar() == 1


# ---------------------------------------------------------------- integrity

def test_tampered_stored_file_is_detected(session, app):
    doc = store(session, files.pdf())
    path = Path(app.instance_path) / "documents" / doc.storage_name
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(DocumentTampered):
        documents.read(session, document=doc)


def test_swapped_ciphertext_fails_the_hash_check(session, app):
    """A validly encrypted blob with other content (someone holding the key) is still caught."""
    a, b = store(session, files.pdf(text="first")), store(session, files.pdf(text="second"))
    folder = Path(app.instance_path) / "documents"
    (folder / a.storage_name).write_bytes((folder / b.storage_name).read_bytes())
    with pytest.raises(DocumentTampered, match="hash"):
        documents.read(session, document=a)
    assert documents.read(session, document=b) == files.kept(files.pdf(text="second"))


def test_missing_blob_is_reported(session, app):
    doc = store(session, files.pdf())
    (Path(app.instance_path) / "documents" / doc.storage_name).unlink()
    with pytest.raises(DocumentTampered):
        documents.read(session, document=doc)


def test_local_storage_refuses_names_that_leave_its_folder(tmp_path):
    storage = LocalStorage(tmp_path / "docs")
    for bad in ("../outside", "a/b" * 8, "x" * 10, "..", "/etc/passwd", "abcdefghijklmnop\x00"):
        with pytest.raises(StorageError):
            storage.put(bad, b"data")
    storage.put("A" * 32, b"data")
    assert storage.exists("A" * 32) and storage.get("A" * 32) == b"data"
    storage.delete("A" * 32)
    assert not storage.exists("A" * 32) and list((tmp_path / "docs").iterdir()) == []
    with pytest.raises(StorageError):
        storage.get("A" * 32)


# ---------------------------------------------------------------- audit

def test_every_view_and_download_is_on_record(session):
    from portal.services.cases.submission import NewRequest, submit
    req = submit(session, new=NewRequest(request_type="delete", first_name="Ana", last_name="Ruiz",
                                         email="ana@example.org")).request
    doc = store(session, files.pdf(), request_id=req.id)
    documents.record_access(session, document=doc, actor="staff:7", action="document_viewed")
    documents.record_access(session, document=doc, actor="staff:7", action="document_downloaded")
    events = session.execute(select(AuditEvent).where(AuditEvent.action.like("document_%"))
                             .order_by(AuditEvent.id)).scalars().all()
    assert [(e.action, e.actor, e.request_id) for e in events] == [
        ("document_viewed", "staff:7", req.id), ("document_downloaded", "staff:7", req.id)]
    assert f"document {doc.id}" in events[0].detail
    assert audit.first_broken_link(session) is None
    with pytest.raises(ValueError):
        documents.record_access(session, document=doc, actor="staff:7", action="document_printed")


# ---------------------------------------------------------------- serving

def test_send_document_hands_over_without_letting_the_file_run(app, session):
    doc = store(session, files.pdf(), filename="Carta de José.pdf")
    png = store(session, files.png(), filename="scan.png", declared="image/png")
    csv = store(session, b"a,b\n1,2\n", filename="export.csv", declared="text/csv", purpose="response_file")
    data = {d.id: documents.read(session, document=d) for d in (doc, png, csv)}
    by_id = {d.id: d for d in (doc, png, csv)}
    app.add_url_rule("/_doc/<int:doc_id>", "doc", lambda doc_id: web.send_document(
        by_id[doc_id], data[doc_id], inline=bool(int(__import__("flask").request.args.get("inline", 0)))))
    client = app.test_client()

    resp = client.get(f"/_doc/{doc.id}")
    assert resp.data == files.kept(files.pdf()) and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"Carta de Jose.pdf\"; filename*=UTF-8''Carta%20de%20Jos%C3%A9.pdf")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"

    assert client.get(f"/_doc/{png.id}?inline=1").headers["Content-Disposition"].startswith("inline;")
    # Only images and PDFs may ever be shown inline.
    resp = client.get(f"/_doc/{csv.id}?inline=1")
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_a_100_mb_body_gets_the_friendly_413_before_it_is_read(client, app):
    body = CountingStream(100 * 1024 * 1024)
    resp = client.post("/requests/new", content_type="multipart/form-data; boundary=x",
                       environ_overrides={"wsgi.input": body, "CONTENT_LENGTH": str(100 * 1024 * 1024)})
    assert resp.status_code == 413
    assert "That upload is too large" in resp.get_data(as_text=True)
    assert body.read_bytes < 1024 * 1024
    assert app.config["MAX_CONTENT_LENGTH"] == app.config["DOCUMENT_MAX_BYTES"] + 2 * 1024 * 1024


# ---------------------------------------------------------------- key rotation

def _key_file(app) -> Path:
    return Path(app.instance_path) / "encryption_keys"


def test_rotate_adds_a_key_and_reencrypts_every_document(session, app, runner):
    old_keys = list(app.config["ENCRYPTION_KEYS"])
    docs = [store(session, files.pdf(text=f"letter {i}")) for i in range(3)]
    raw_before = {d.storage_name: get_storage().get(d.storage_name) for d in docs}
    session.close()

    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 3 documents" in result.output and "0 could not be read" in result.output

    in_file = _key_file(app).read_text().split()
    assert in_file[1:] == old_keys and len(in_file) == 2
    assert stat.S_IMODE(_key_file(app).stat().st_mode) == 0o600
    assert not list(_key_file(app).parent.glob(".encryption_keys*"))  # no temp file left
    new_id = keys.key_id(in_file[0])
    assert new_id in result.output
    for i, loaded in enumerate(docs):
        doc = session.get(Document, loaded.id)
        assert doc.key_id == new_id
        assert get_storage().get(doc.storage_name) != raw_before[doc.storage_name]
        assert documents.read(session, document=doc) == files.kept(files.pdf(text=f"letter {i}"))
        only_new = {bytes.fromhex(new_id): chunked_crypto.raw_key(in_file[0])}  # the new key alone reads it
        assert b"".join(chunked_crypto.decrypt(io.BytesIO(get_storage().get(doc.storage_name)), keys=only_new)) \
            == files.kept(files.pdf(text=f"letter {i}"))
    session.close()

    again = runner.invoke(args=["keys", "rotate", "--reencrypt-only"])
    assert "re-encrypted 0 documents" in again.output and "3 already under it" in again.output


def test_documents_stay_readable_throughout_a_rotation(session, app, app_config):
    """Mid-rotation, old and new ciphertexts coexist; a process started before the rotation
    (holding only the old key in memory) keeps reading what was re-encrypted since."""
    early = create_app(app_config)  # another web process, already running
    with early.app_context():
        assert keys.keyring().primary_id == keys.key_id(app.config["ENCRYPTION_KEYS"][0])
    old_doc = store(session, files.pdf(text="before"))

    keys.rotate_key_file(_key_file(app))  # step 1: the new key is first, nothing re-encrypted yet
    new_doc = store(session, files.pdf(text="during"))
    assert new_doc.key_id != old_doc.key_id
    for doc, text in ((old_doc, "before"), (new_doc, "during")):
        assert documents.read(session, document=doc) == files.kept(files.pdf(text=text))

    result = documents.reencrypt_all(session)  # step 2
    assert (result.reencrypted, result.current, result.failed) == (1, 1, 0)
    with early.app_context():
        s = portal_db.session()
        for doc_id, text in ((old_doc.id, "before"), (new_doc.id, "during")):
            assert documents.read(s, document=s.get(Document, doc_id)) == files.kept(files.pdf(text=text))
        assert keys.keyring().primary_id == new_doc.key_id
    early.extensions["db_engine"].dispose()


def test_rotation_reports_a_tampered_document_and_keeps_going(session, app, runner):
    good, bad = store(session, files.pdf(text="good")), store(session, files.pdf(text="bad"))
    get_storage().put(bad.storage_name, b"garbage")
    session.close()
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 1
    assert "re-encrypted 1 documents" in result.output and "1 could not be read" in result.output
    assert documents.read(session, document=session.get(Document, good.id)) == files.kept(files.pdf(text="good"))


def test_rotate_with_keys_from_the_environment_tells_the_operator_what_to_do(app_config):
    old = Fernet.generate_key().decode()
    app_config["ENCRYPTION_KEYS"] = old
    app = create_app(app_config)
    with app.app_context():
        doc = store(portal_db.session(), files.pdf())
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0 and "Nothing was re-encrypted" in result.output
    new = result.output.split("PORTAL_ENCRYPTION_KEYS=")[1].split(",")[0]
    Fernet(new.encode())  # a valid key
    assert old not in result.output  # the current key is never printed
    assert not _key_file(app).exists()
    app.extensions["db_engine"].dispose()

    app_config["ENCRYPTION_KEYS"] = f"{new},{old}"  # the operator restarts with the new key first
    app = create_app(app_config)
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--reencrypt-only"])
    assert result.exit_code == 0 and "re-encrypted 1 documents" in result.output
    with app.app_context():
        s = portal_db.session()
        doc = s.get(Document, doc.id)
        assert doc.key_id == keys.key_id(new)
        assert documents.read(s, document=doc) == files.kept(files.pdf())
    status = app.test_cli_runner().invoke(args=["keys", "status"])
    assert f"{keys.key_id(new)}  newest     1 documents" in status.output
    assert f"{keys.key_id(old)}  older #1   0 documents" in status.output
    app.extensions["db_engine"].dispose()


def test_key_file_is_owner_only_from_the_start(app):
    assert stat.S_IMODE(os.stat(_key_file(app)).st_mode) == 0o600
