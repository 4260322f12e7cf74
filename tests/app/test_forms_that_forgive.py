"""Forms that forgive: a signature that names the person as loosely as matching does, an upload kept
across a validation error (and purged when no retry claims it), and names given again from the
status page."""
import io
from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from portal import clock, db
from portal.models import Document, PrivacyRequest
from portal.services.documents import pending
from portal.services.records import retention

from ..files import png
from ..support import post_form
from ..support import request_form as form_for


def _cases(app) -> list[PrivacyRequest]:
    with app.app_context():
        return list(db.session().execute(select(PrivacyRequest)).scalars())


def _documents(app) -> list[Document]:
    with app.app_context():
        return list(db.session().execute(select(Document).order_by(Document.id)).scalars())


def test_a_signature_without_the_apostrophe_signs_for_the_name_with_it(app, client):
    sent = post_form(client, "/requests/new", form_for("delete", first_name="Siobhan", last_name="OBrien",
                                                       declaration_signature="Siobhan O'Brien"))
    assert sent.status_code == 303
    refused = post_form(client, "/requests/new", form_for("delete", email="other@example.org", first_name="Siobhan",
                                                          last_name="OBrien", declaration_signature="Jane O'Brien"))
    assert refused.status_code == 422
    assert "The signature must match the first and last name above." in refused.get_data(as_text=True)


def test_an_upload_survives_a_refused_signature_and_the_retry_attaches_it(app, client):
    first = post_form(client, "/requests/new", {
        **form_for("correct", first_name="Siobhan", last_name="OBrien", declaration_signature="Someone Else"),
        "correction_document": (io.BytesIO(png()), "lease.png")}, content_type="multipart/form-data")
    page = first.get_data(as_text=True)
    assert first.status_code == 422 and 'id="kept-upload"' in page and "lease.png" in page
    [doc] = _documents(app)
    assert (doc.request_id, doc.uploaded_by) == (None, pending.PENDING)
    retry = post_form(client, "/requests/new", form_for("correct", first_name="Siobhan", last_name="OBrien",
                                                        declaration_signature="Siobhan O'Brien"))
    assert retry.status_code == 303
    [case] = _cases(app)
    [doc] = _documents(app)
    assert (doc.request_id, doc.uploaded_by, doc.purpose) == (case.id, "requester", "correction")
    again = client.get("/requests/new?type=correct").get_data(as_text=True)
    assert 'id="kept-upload"' not in again  # claimed: offered no more


def test_a_kept_upload_belongs_to_the_browser_that_sent_it(app, client):
    post_form(client, "/requests/new", {**form_for("correct", declaration_signature="Nobody"),
                                        "correction_document": (io.BytesIO(png()), "lease.png")},
              content_type="multipart/form-data")
    other = app.test_client()
    sent = post_form(other, "/requests/new", form_for("correct"))
    assert sent.status_code == 303
    [doc] = _documents(app)
    assert doc.request_id is None  # the other browser's case did not get it


def test_an_unclaimed_upload_is_purged_after_its_hours(app, client):
    post_form(client, "/requests/new", {**form_for("correct", declaration_signature="Nobody"),
                                        "correction_document": (io.BytesIO(png()), "lease.png")},
              content_type="multipart/form-data")
    hours = app.config["PENDING_UPLOAD_HOURS"]
    with app.app_context():
        early = retention.purge(db.session(), dry_run=True, now=clock.now() + timedelta(hours=hours - 1))
        assert early.counts["documents"] == 0
    with time_machine.travel(clock.now() + timedelta(hours=hours + 1), tick=False), app.app_context():
        done = retention.purge(db.session())
        assert done.counts["documents"] == 1
        assert db.session().execute(select(func.count()).select_from(Document)).scalar_one() == 0


def test_an_agents_authorization_survives_a_validation_error(app, client):
    from .test_agent_journey import AGENT, submit
    first = submit(client, upload=(png(), "permission.png", "image/png"), agent_business_name="")
    assert first.status_code == 422 and 'id="kept-upload"' in first.get_data(as_text=True)
    retry = submit(client, upload=(None, None, None), data=AGENT)
    assert retry.status_code == 303
    [case] = _cases(app)
    docs = _documents(app)
    assert [(d.request_id, d.purpose, d.original_name) for d in docs] == [(case.id, "authorization", "permission.png")]
