"""A PDF sent through the inquiry form is stored and served as qpdf wrote it again from the objects
it checked: what staff open is what was checked, whichever table their viewer reads."""
import hashlib
import io

import pikepdf
from sqlalchemy import select

from portal import db
from portal.models import Document, Inquiry

from .. import files
from ..evasions import first_page_view, linearized_with_hidden_open_action, pdf_zip_polyglot
from ..support import post_form


def _send(client, data: bytes):
    return post_form(client, "/inquiries/new", {
        "kind": "security", "name": "Rae Kim", "email": "rae@example.org", "message": "See the attached alert.",
        "attachment": (io.BytesIO(data), "alert.pdf", "application/pdf")},
        form_url="/inquiries/new", content_type="multipart/form-data")


def test_the_stored_and_served_bytes_are_the_rewritten_file(client, app, staff_login):
    upload = linearized_with_hidden_open_action(files.pdf("Screenshot of the login alert."), new_number=False)
    assert b"/JavaScript" in first_page_view(upload)  # a linearization-aware viewer would run it
    assert _send(client, upload).status_code == 303
    with app.app_context():
        item = db.session().execute(select(Inquiry)).scalar_one()
        doc = db.session().get(Document, item.attachment_id)
    staff_login(client, role="viewer")
    served = client.get(f"/staff/inquiries/{item.reference}/attachment")
    assert served.status_code == 200 and served.mimetype == "application/pdf"
    assert served.data != upload and served.data == files.kept(upload)
    assert (doc.size, doc.sha256) == (len(served.data), hashlib.sha256(served.data).hexdigest())
    assert b"JavaScript" not in served.data and served.data.count(b"startxref") == 1
    assert served.data.endswith(b"%%EOF\n")
    with pikepdf.open(io.BytesIO(served.data)) as pdf:
        assert not pdf.is_linearized and b"login alert" in pdf.pages[0].Contents.read_bytes()


def test_a_pdf_zip_polyglot_is_refused_by_the_form_and_nothing_is_kept(client, app):
    upload = pdf_zip_polyglot(lambda stream: files.pdf(extra_objects=(stream,)))
    resp = _send(client, upload)
    assert resp.status_code == 422 and "scripts, embedded files or actions" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session().execute(select(Inquiry)).first() is None
        assert db.session().execute(select(Document)).first() is None
