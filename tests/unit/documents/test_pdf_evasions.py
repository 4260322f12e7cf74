"""PDFs that show a viewer other objects than the check saw, PDFs that are also something else,
links that run or open files, and PDFs that need more than a check may spend. What is stored is
the file as qpdf wrote it again from the objects it checked."""
import io
import zipfile

import pikepdf
import pytest
from sqlalchemy import func, select

from portal.models import Document
from portal.services.documents import store as documents
from portal.services.documents import upload_checks
from portal.services.documents.kinds import DocumentRejected

from ... import files
from ...evasions import first_page_view, linearized, linearized_with_hidden_open_action, pdf_zip_polyglot


def store(session, data: bytes) -> Document:
    doc = documents.store(session, stream=io.BytesIO(data), filename="letter.pdf", declared_type="application/pdf",
                          purpose="authorization", uploaded_by="agent")
    session.commit()
    return doc


def rejected(session, data: bytes) -> DocumentRejected:
    before = session.execute(select(func.count()).select_from(Document)).scalar()
    with pytest.raises(DocumentRejected) as info:
        store(session, data)
    session.rollback()
    assert session.execute(select(func.count()).select_from(Document)).scalar() == before
    return info.value


def one_table(data: bytes) -> bool:
    """One cross-reference table (or stream), nothing after its %%EOF, not linearized."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        linear = pdf.is_linearized
    return data.count(b"startxref") == 1 and data.rstrip(b"\r\n").endswith(b"%%EOF") and not linear


def with_unlisted_object(body: bytes) -> bytes:
    """files.pdf() with one more object in its body that its cross-reference table does not list."""
    data = files.pdf(extra_objects=(body,))
    table_start = data.index(b"xref\n0 7\n")
    last_entry = data.index(b"trailer") - 20
    return (data[:table_start] + b"xref\n0 6\n" + data[table_start + 9:last_entry] + data[last_entry + 20:]) \
        .replace(b"/Size 7 ", b"/Size 6 ")


# ---------------------------------------------------------------- what is checked is what is served

def test_a_linearized_pdf_is_stored_as_one_plain_table_with_the_same_page(session):
    data = linearized(files.pdf())
    kept = bytes(documents.read(session, document=store(session, data)))
    assert kept != data and one_table(kept)
    with pikepdf.open(io.BytesIO(kept)) as pdf:
        assert b"authorize" in pdf.pages[0].Contents.read_bytes()


def test_a_script_only_the_first_page_table_shows_never_reaches_the_stored_file(session):
    data = linearized_with_hidden_open_action(files.pdf(), new_number=False)
    assert b"/JavaScript" in first_page_view(data)  # what pdf.js opened, and ran, before
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/OpenAction" not in pdf.Root  # what qpdf reads from the last startxref
    kept = bytes(documents.read(session, document=store(session, data)))
    assert b"JavaScript" not in kept and b"OpenAction" not in kept and one_table(kept)


def test_an_object_that_no_table_lists_is_refused(session):
    data = linearized_with_hidden_open_action(files.pdf(), new_number=True)
    assert b"/JavaScript" in first_page_view(data)  # found by a viewer that rebuilds its table
    assert rejected(session, data).code == "damaged"
    plain = with_unlisted_object(b"<< /Type /Catalog /OpenAction << /S /JavaScript /JS (1) >> >>")
    with pikepdf.open(io.BytesIO(plain)) as pdf:
        assert len(pdf.objects) == 5  # qpdf reads the table and never meets object 6
    assert rejected(session, plain).code == "damaged"


def test_the_check_itself_refuses_bytes_after_the_last_eof_but_not_padding():
    with pytest.raises(upload_checks.Refused) as info:
        upload_checks.check_pdf(files.pdf() + b"%\n<html><script>alert(1)</script>\n")
    assert info.value.code == "damaged"
    assert upload_checks.check_pdf(files.pdf() + b"\x00" * 16 + b"\r\n").endswith(b"%%EOF\n")


def test_a_pdf_that_is_also_a_zip_archive_is_refused(session):
    data = pdf_zip_polyglot(lambda stream: files.pdf(extra_objects=(stream,)))
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["invoice.html"]  # a ZIP reader opens it
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 1  # and so does a PDF reader
    assert rejected(session, data).code == "active_content"


def test_the_same_rewrite_for_the_same_upload_and_again_for_its_result():
    once = upload_checks.check_pdf(files.pdf())
    assert upload_checks.check_pdf(files.pdf()) == once
    assert upload_checks.check_pdf(once) == once


# ---------------------------------------------------------------- links

def _link(uri: bytes) -> bytes:
    return files.pdf().replace(b"/Type /Page /Parent 2 0 R", b"/Type /Page /Annots [<< /Type /Annot /Subtype /Link "
                               b"/Rect [72 700 200 720] /A << /S /URI /URI (" + uri + b") >> >>] /Parent 2 0 R")


@pytest.mark.parametrize("uri", [b"javascript:app.alert(1)", b"JavaScript:app.alert(1)", b" java\tscript:app.alert(1)",
                                 b"file:///C:/Windows/System32/calc.exe", b"FILE://attacker.example/share/a.exe",
                                 b"\\\\\\\\attacker.example\\\\share\\\\a.exe", b"vbscript:msgbox(1)",
                                 b"ms-msdt:/id PCWDiagnostic", b"data:text/html,<script>alert(1)</script>"])
def test_links_that_run_scripts_or_open_files_are_refused(session, uri):
    assert rejected(session, _link(uri)).code == "active_content"


def test_a_file_base_for_relative_links_is_refused(session):
    data = files.pdf(catalog_extra="/URI << /Base (file:///C:/) >> ")
    assert rejected(session, data).code == "active_content"


@pytest.mark.parametrize("uri", [b"https://example.org/privacy", b"HTTP://example.org/", b"mailto:privacy@example.org",
                                 b"tel:+19095550100"])
def test_web_mail_and_phone_links_are_kept(session, uri):
    kept = bytes(documents.read(session, document=store(session, _link(uri))))
    assert uri in kept


# ---------------------------------------------------------------- what a check may spend

def _many(n: int) -> bytes:
    notes = [b"<< /Type /Annot /Subtype /Text /Rect [0 0 1 1] /Contents (note %d) >>" % i for i in range(n)]
    return files.pdf(catalog_extra="/Extra [" + " ".join(f"{6 + i} 0 R" for i in range(n)) + "] ",
                     extra_objects=notes)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PDF_MAX_OBJECTS": 40}


def test_more_objects_than_the_limit_are_refused_before_they_are_walked(session):
    assert store(session, _many(30)).content_type == "application/pdf"
    error = rejected(session, _many(50))
    assert error.code == "too_complex" and "too complex" in str(error.message)


def test_objects_packed_into_object_streams_count_too(session):
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(_many(50))) as pdf:
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    packed = out.getvalue()
    assert packed.count(b" obj") < 40  # few headers in the bytes: the count comes from the table
    assert rejected(session, packed).code == "too_complex"


def test_a_check_that_takes_too_long_is_refused(session, app):
    app.config.update(PDF_MAX_OBJECTS=50_000, PDF_CHECK_SECONDS=0.001)  # the walk looks at the clock as it goes
    assert rejected(session, _many(5000)).code == "too_complex"


def test_a_child_that_does_not_answer_in_time_is_ended_and_the_file_refused(monkeypatch):
    monkeypatch.setattr(upload_checks, "_STARTUP_SECONDS", 0.01)  # gone before it has even started
    with pytest.raises(upload_checks.Refused) as info:
        upload_checks.check_pdf(files.pdf(), seconds=0)
    assert (info.value.code, info.value.detail) == ("too_complex", "time")


@pytest.mark.parametrize("memory_mb", [40, 48, 64])  # qpdf runs out while opening, listing or walking
def test_a_check_that_needs_more_memory_is_refused(memory_mb):
    with pytest.raises(upload_checks.Refused) as info:
        upload_checks.check_pdf(_many(20_000), memory_mb=memory_mb)
    assert (info.value.code, info.value.detail) == ("too_complex", "memory")
    assert upload_checks.check_pdf(_many(20_000)).startswith(b"%PDF-")  # the default limit takes it
