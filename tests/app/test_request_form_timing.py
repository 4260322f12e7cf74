"""The request form answers a duplicate (an open request of the same type for the email) as it
answers a new request: the same page, after the same checks, padded to the same time. The time
itself is measured by benchmarks/request_timing.py, not here."""
import io
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from portal import db
from portal.models import Document, PrivacyRequest
from portal.public import request_form
from portal.services.documents import store as documents

from .. import files
from ..evasions import pdf_with_object_stream
from ..files import pdf, png
from ..support import post_form
from ..support import request_form as form_for


@pytest.fixture
def padding(monkeypatch):
    """The padding the view asks for, recorded instead of slept."""
    asked = []

    @contextmanager
    def recorded(seconds):
        asked.append(seconds)
        yield

    monkeypatch.setattr(request_form, "minimum_duration", recorded)
    return asked


@pytest.fixture
def checks(monkeypatch):
    """Which document services each submission called."""
    calls = []
    check, keep = documents.check, documents.keep
    monkeypatch.setattr(documents, "check", lambda **kw: calls.append("check") or check(**kw))
    monkeypatch.setattr(documents, "keep", lambda session, **kw: calls.append("keep") or keep(session, **kw))
    return calls


def _cases(app) -> int:
    with app.app_context():
        return db.session().execute(select(func.count()).select_from(PrivacyRequest)).scalar()


@pytest.mark.parametrize("kind", ["access", "delete", "opt_out", "correct"])
def test_a_duplicate_gets_the_same_answer_inside_the_same_padding(app, client, padding, kind):
    app.config["REQUEST_RESPONSE_SECONDS"] = 0.5
    new = post_form(client, "/requests/new", form_for(kind, email="dana@example.org"))
    duplicate = post_form(client, "/requests/new", form_for(kind, email="dana@example.org"))
    assert new.status_code == duplicate.status_code == 303
    assert new.headers["Location"] == duplicate.headers["Location"]
    assert padding == [0.5, 0.5] and _cases(app) == 1


def test_the_padding_is_configured_on_by_default():
    from portal.config import DEFAULTS
    assert DEFAULTS["REQUEST_RESPONSE_SECONDS"] >= DEFAULTS["STATUS_RESPONSE_SECONDS"] > 0


def test_both_answers_check_the_documents_and_only_a_new_request_keeps_them(app, client, padding, checks):
    upload = {"correction_document": (io.BytesIO(png()), "lease.png")}
    post_form(client, "/requests/new", {**form_for("correct", email="dana@example.org"), **upload},
              content_type="multipart/form-data")
    assert checks == ["check", "keep"]
    checks.clear()
    upload = {"correction_document": (io.BytesIO(png()), "lease.png")}
    again = post_form(client, "/requests/new", {**form_for("correct", email="dana@example.org"), **upload},
                      content_type="multipart/form-data")
    assert again.status_code == 303 and checks == ["check"]  # the same check; nothing kept for a duplicate
    with app.app_context():
        assert db.session().execute(select(func.count()).select_from(Document)).scalar() == 1


@pytest.mark.parametrize("upload", [pdf_with_object_stream(), b"MZ\x90\x00 not a document"])
def test_a_refused_document_is_refused_whether_or_not_an_open_request_exists(app, client, padding, upload):
    refused = {"correction_document": (io.BytesIO(upload), "letter.pdf")}
    first = post_form(client, "/requests/new", {**form_for("correct", email="dana@example.org"), **refused},
                      content_type="multipart/form-data")
    assert first.status_code == 422 and _cases(app) == 0
    post_form(client, "/requests/new", form_for("correct", email="dana@example.org"))  # now one is open
    refused = {"correction_document": (io.BytesIO(upload), "letter.pdf")}
    second = post_form(client, "/requests/new", {**form_for("correct", email="dana@example.org"), **refused},
                       content_type="multipart/form-data")
    assert second.status_code == 422 and _error(second) == _error(first)  # the same words either way
    assert _cases(app) == 1 and len(padding) == 3  # every answer inside the padding, the refusals too


def _error(resp) -> str:
    import re
    return re.search(r'id="correction_document-error"[^>]*>(.*?)</', resp.get_data(as_text=True), re.S).group(1)


def test_a_pdf_kept_with_a_correction_is_the_checked_rewrite(app, client):
    letter = pdf("My correct address is 1 Main St.")
    post_form(client, "/requests/new", {**form_for("correct", email="dana@example.org"),
                                        "correction_document": (io.BytesIO(letter), "letter.pdf")},
              content_type="multipart/form-data")
    with app.app_context():
        doc = db.session().execute(select(Document)).scalar_one()
        kept = bytes(documents.read(db.session(), document=doc))
    assert kept == files.kept(letter)  # checked once, kept as checked
