"""Uploads are judged by real parsers (pikepdf/qpdf for PDFs, Pillow for images)."""
import io
import struct
import zlib

import pikepdf
import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import func, select

from portal import create_app
from portal import db as portal_db
from portal.models import Document
from portal.services.documents import store as documents
from portal.services.documents.kinds import DocumentRejected

from ... import files
from ...evasions import EVASIONS, pdf_with_object_stream


def store(session, data: bytes, filename="letter.pdf", declared="application/pdf", purpose="authorization"):
    doc = documents.store(session, stream=io.BytesIO(data), filename=filename, declared_type=declared,
                          purpose=purpose, uploaded_by="agent")
    session.commit()
    return doc


def rejected(session, data: bytes, **kw) -> DocumentRejected:
    before = session.execute(select(func.count()).select_from(Document)).scalar()
    with pytest.raises(DocumentRejected) as info:
        store(session, data, **kw)
    session.rollback()
    assert session.execute(select(func.count()).select_from(Document)).scalar() == before
    return info.value


# ---------------------------------------------------------------- PDF: what hides active content

@pytest.mark.parametrize("name", sorted(EVASIONS))
def test_javascript_open_action_in_an_object_stream_is_refused_whatever_the_encoding(session, name):
    dict_head, encode = EVASIONS[name]
    assert rejected(session, pdf_with_object_stream(dict_head=dict_head, encode=encode)).code == "active_content"


@pytest.mark.parametrize("name", sorted(EVASIONS))
def test_the_same_pdfs_get_no_further_as_clean_object_streams(session, name):
    # The control: the same structure with a navigation action is a PDF we accept.
    dict_head, encode = EVASIONS[name]
    data = pdf_with_object_stream(inner=b"<< /S /GoTo /D [3 0 R /Fit] >>", dict_head=dict_head, encode=encode)
    assert store(session, data).content_type == "application/pdf"


@pytest.mark.parametrize("catalog_extra,extra", [
    ("/OpenAction 6 0 R ", (b"<< /S /URI /URI (https://tracker.example/open) >>",)),  # automatic URI
    ("/OpenAction 6 0 R ", (b"<< /S /GoTo /D [3 0 R /Fit] /Next << /S /JavaScript /JS (1) >> >>",)),
    ("/AA << /WC 6 0 R >> ", (b"<< /S /Named /N /Print >>",)),
    ("/AcroForm << /Fields [] /XFA 6 0 R >> ", (b"<< /Length 0 >>\nstream\n\nendstream",)),
    ("/Names << /JavaScript 6 0 R >> ", (b"<< /Names [(a) << /S /JavaScript /JS (1) >>] >>",)),
    ("", (b"<< /Type /Annot /Subtype /RichMedia /Rect [0 0 1 1] >>",)),
    ("", (b"<< /Type /Filespec /F (a.exe) /EF << /F 7 0 R >> >>", b"<< /Length 0 >>\nstream\n\nendstream")),
    ("", (b"<< /Type /Annot /Subtype /Link /Rect [0 0 1 1] /A << /S /Launch /F (cmd.exe) >> >>",)),
    ("", (b"<< /Type /Annot /Subtype /Widget /Rect [0 0 1 1] /A << /S /SubmitForm /F (https://x.example) >> >>",)),
])
def test_scripts_files_media_forms_and_automatic_actions_are_refused(session, catalog_extra, extra):
    assert rejected(session, files.pdf(catalog_extra=catalog_extra, extra_objects=extra)).code == "active_content"


def test_a_page_additional_action_is_refused_but_a_clicked_web_link_is_not(session):
    page_aa = files.pdf().replace(b"/Type /Page /Parent 2 0 R", b"/Type /Page /AA << /O << /S /JavaScript /JS (1) >> >> /Parent 2 0 R")
    assert rejected(session, page_aa).code == "active_content"
    link = files.pdf().replace(b"/Type /Page /Parent 2 0 R", b"/Type /Page /Annots [<< /Type /Annot /Subtype /Link "
                               b"/Rect [72 700 200 720] /A << /S /URI /URI (https://example.org/) >> >>] /Parent 2 0 R")
    assert store(session, link).content_type == "application/pdf"
    goto = files.pdf(catalog_extra="/OpenAction [3 0 R /Fit] ")
    assert store(session, goto).content_type == "application/pdf"


@pytest.mark.parametrize("shift", [-3, 2, 17])
def test_a_clean_pdf_with_a_slightly_wrong_xref_offset_is_accepted(session, shift):
    data = files.pdf()
    at = data.rindex(b"startxref\n") + len(b"startxref\n")
    end = data.index(b"\n", at)
    moved = data[:at] + str(int(data[at:end]) + shift).encode() + data[end:]
    doc = store(session, moved)
    # Stored as qpdf wrote it again from the objects it read: the same page, a table at the right offset.
    with pikepdf.open(io.BytesIO(bytes(documents.read(session, document=doc)))) as pdf:
        assert b"authorize" in pdf.pages[0].Contents.read_bytes()


def test_a_wrong_xref_offset_does_not_hide_javascript(session):
    data = files.pdf(catalog_extra="/OpenAction 6 0 R ", extra_objects=(b"<< /S /J#61vaScript /JS (1) >>",))
    assert rejected(session, data.replace(b"startxref\n", b"startxref\n9")).code == "active_content"


def test_a_password_protected_pdf_is_refused_with_a_reason(session):
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(files.pdf())) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="owner-secret", user="user-secret"))
    error = rejected(session, out.getvalue())
    assert error.code == "damaged" and "password" in str(error.message)


def test_a_pdf_built_by_a_real_writer_with_object_streams_is_accepted(session):
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(files.pdf())) as pdf:
        pdf.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    assert b"/ObjStm" in out.getvalue()
    assert store(session, out.getvalue()).content_type == "application/pdf"


def test_a_flate_bomb_is_refused_without_expanding_it(session):
    bomb = zlib.compress(b"\0" * (200 * 1024 * 1024), 9)  # 200 MB from 200 KB
    data = files.pdf(extra_objects=(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(bomb) + bomb
                                    + b"\nendstream",))
    assert rejected(session, data).code == "damaged"


def test_the_agent_form_refuses_the_hidden_javascript_too(client, app):
    from portal.models import PrivacyRequest

    from ...app.test_agent_journey import count, submit
    dict_head, encode = EVASIONS["escaped_filter"]
    resp = submit(client, upload=(pdf_with_object_stream(dict_head=dict_head, encode=encode), "letter.pdf",
                                  "application/pdf"))
    assert resp.status_code == 422
    assert "scripts, embedded files or actions" in resp.get_data(as_text=True)
    assert (count(app, PrivacyRequest), count(app, Document)) == (0, 0)


# ---------------------------------------------------------------- images

def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_a_png_declaring_60000_by_60000_pixels_is_refused_before_it_is_decoded(session):
    row = b"\x00" + b"\x00" * (60000 // 8)
    idat = zlib.compressobj(9)
    packed = idat.compress(row * 2000) + idat.flush()  # a slice of the rows is enough: never decoded
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 1, 0, 0, 0, 0))
            + _chunk(b"IDAT", packed) + _chunk(b"IEND", b""))
    error = rejected(session, data, filename="scan.png", declared="image/png")
    assert error.code == "too_large" and "40 million pixels" in str(error.message)


def test_the_pixel_bound_is_configurable(app_config):
    app_config["IMAGE_MAX_PIXELS"] = 100
    app = create_app(app_config)
    try:
        with app.app_context():
            session = portal_db.session()
            assert store(session, files.png(10, 10), filename="a.png", declared="image/png").size
            assert rejected(session, files.png(11, 10), filename="b.png", declared="image/png").code == "too_large"
    finally:
        app.extensions["db_engine"].dispose()


def _real_jpeg_with_metadata() -> bytes:
    img = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotated, as phones write
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (34.0, 3.0, 30.0), 3: "W", 4: (117.0, 39.0, 0.0)}  # GPS: where it was taken
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), comment=b"Ana Ruiz home scan")
    return out.getvalue()


def test_jpeg_metadata_is_dropped_on_store_but_its_orientation_kept(session):
    data = _real_jpeg_with_metadata()
    assert b"PhoneMaker" in data and b"Ana Ruiz" in data
    doc = store(session, data, filename="photo.jpg", declared="image/jpeg")
    kept = documents.read(session, document=doc)
    assert b"PhoneMaker" not in kept and b"Ana Ruiz" not in kept and doc.size == len(kept)
    # One EXIF segment, as viewers expect it: APP1, then "Exif\0\0" and the TIFF header at once.
    assert kept.count(b"Exif\x00\x00") == 1 and kept.index(b"Exif\x00\x00") + 6 == kept.index(b"MM\x00*")
    with Image.open(io.BytesIO(kept)) as img:
        exif = img.getexif()
        assert dict(exif) == {0x0112: 6} and not exif.get_ifd(0x8825)
        assert "comment" not in img.info
        img.load()
        assert img.size == (40, 20)
        assert img.getpixel((5, 5))[0] > 150  # the same picture


def test_png_text_chunks_are_dropped_on_store(session):
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Ana Ruiz")
    info.add_itxt("Comment", "claim WC-2026-0042")
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 0, 255)).save(out, "PNG", pnginfo=info)
    doc = store(session, out.getvalue(), filename="scan.png", declared="image/png")
    kept = documents.read(session, document=doc)
    assert b"Ana Ruiz" not in kept and b"WC-2026" not in kept
    with Image.open(io.BytesIO(kept)) as img:
        img.load()
        assert img.text == {} and img.getpixel((1, 1)) == (0, 0, 255)


def test_an_image_without_metadata_is_kept_byte_for_byte(session):
    for data, name, declared in ((files.png(), "a.png", "image/png"), (files.jpeg(), "a.jpg", "image/jpeg")):
        doc = store(session, data, filename=name, declared=declared)
        assert documents.read(session, document=doc) == data
