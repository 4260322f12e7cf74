"""Mail bodies (with their live links) only while pending; a message
that cannot be built or is refused for good is failed with its error, shown to admins, and the
others still go out."""
import email
from email import policy

import pytest
from sqlalchemy import select, text

from portal import db
from portal.models import AgentAuthorization, OutboxMessage, PrivacyRequest
from portal.services.delivery import mail as mail_service

from ..support import SMTPSink, body, csrf_from, free_port, link_in, post_form, request_form


def outbox_rows(app):
    with app.app_context():
        return db.session().execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()


def _queue(app, to, subject="Your request", **context):
    with app.app_context():
        s = db.session()
        mail_service.queue(s, to=to, subject=subject, template="status_link",
                           context={"link": "http://portal.test/status/SECRET-TOKEN", "reference": "PR-0000-0000",
                                    "minutes": 30, **context})
        s.commit()


def test_a_delivered_message_keeps_its_metadata_but_not_its_links(client, app, mailbox):
    assert post_form(client, "/requests/new", request_form("access")).status_code == 303
    [row] = outbox_rows(app)
    assert "/verify/" in row.text_body  # pending: the link must still be sent
    [message] = mailbox.messages
    assert link_in(message, "/verify/")  # the recipient got the link
    [row] = outbox_rows(app)
    assert row.status == "sent" and row.sent_at is not None
    assert (row.text_body, row.html_body) == ("", "")
    assert row.to_addr == "ana.ruiz@example.org" and row.subject and row.template and row.request_id
    with app.app_context():  # nowhere in the table, in any column
        dump = " ".join(str(v) for r in db.session().execute(text("SELECT * FROM outbox_message")) for v in r)
    assert "/verify/" not in dump


def test_a_message_that_cannot_be_built_is_failed_and_the_others_go_out(app, mailbox):
    _queue(app, "first@example.org")
    _queue(app, "poison@example.org", subject="Lien Partners\r\nBcc: everyone@example.org")
    _queue(app, "third@example.org")
    assert mailbox.deliver() == 2
    first, poison, third = outbox_rows(app)
    assert (first.status, poison.status, third.status) == ("sent", "failed", "sent")
    assert "ValueError" in poison.last_error and poison.attempts == 1
    assert (poison.text_body, poison.html_body) == ("", "")  # no live link kept for a mail never sent
    assert mailbox.deliver() == 0 and outbox_rows(app)[1].attempts == 1  # never retried
    assert [m["To"] for m in mailbox.read()] == ["first@example.org", "third@example.org"]


@pytest.fixture
def refusing_smtp(app_config):
    """A real SMTP server on loopback that refuses one mailbox for good (550) and takes the rest."""
    from aiosmtpd.controller import Controller
    sink = SMTPSink()

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.startswith("gone@"):
                return "550 5.1.1 mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            with sink.cond:
                sink.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
                sink.cond.notify_all()
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port)
    controller.start()
    app_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=sink.port, SMTP_TIMEOUT=2)
    yield sink
    controller.stop()


def test_a_permanent_smtp_refusal_fails_one_message_only(refusing_smtp, app):
    _queue(app, "gone@example.org")
    _queue(app, "ana@example.org")
    assert mail_service.deliver_for_app(app) == 1
    gone, ana = outbox_rows(app)
    assert gone.status == "failed" and "550" in gone.last_error and gone.text_body == ""
    assert ana.status == "sent" and ana.text_body == ""
    [received] = refusing_smtp.wait_for(1)
    assert received["To"] == "ana@example.org" and "SECRET-TOKEN" in body(received)


def test_an_unreachable_server_keeps_the_bodies_while_pending(app_config, app):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_TIMEOUT=1)
    _queue(app, "ana@example.org")
    assert mail_service.deliver_for_app(app) == 0
    [row] = outbox_rows(app)
    assert row.status == "pending" and "SECRET-TOKEN" in row.text_body and row.last_error


def test_single_line_fields_refuse_line_breaks_at_the_form(client, app):
    import io

    from .. import files
    page = client.get("/agent/requests/new").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "agent_kind": "business", "agent_name": "Maria Lopez",
            "agent_email": "maria@lienpartners.example", "agent_business_name": "Lien Partners\r\nBcc: x@example.org",
            "agent_sos_number": "2019-1234-5678", "consumer_first_name": "Ana", "consumer_last_name": "Ruiz",
            "consumer_email": "ana.ruiz@example.org", "consumer_phone": "", "request_type": "delete",
            "authorization_kind": "signed_permission", "declaration": "y",
            "authorization": (io.BytesIO(files.pdf()), "letter.pdf", "application/pdf")}
    resp = client.post("/agent/requests/new", data=form, content_type="multipart/form-data")
    assert resp.status_code == 422 and "Keep this on one line" in resp.get_data(as_text=True)
    assert not outbox_rows(app)
    with app.app_context():
        assert not db.session().execute(select(PrivacyRequest)).first()
        assert not db.session().execute(select(AgentAuthorization)).first()
    resp = post_form(client, "/requests/new", request_form("opt_out", first_name="Ana\nBcc"))
    assert resp.status_code == 422 and not outbox_rows(app)


def test_admins_see_failed_messages_with_their_errors(client, app, mailbox, staff_login):
    _queue(app, "poison@example.org", subject="Broken\r\nsubject")
    mailbox.deliver()
    support = app.test_client()
    staff_login(support, role="support")
    assert support.get("/staff/admin/outbox").status_code == 403
    staff_login(client, role="admin")
    page = client.get("/staff/admin/outbox")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "poison@example.org" in html and "ValueError" in html
    assert "Could not be delivered: 1" in html and "SECRET-TOKEN" not in html
