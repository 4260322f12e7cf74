"""Queries that stay flat (issue 16), through the app: the §7101 export is streamed and complete,
`audit verify` walks the chain streamed, on SQLite reads never take the write lock, and on both
databases a read-only view reads without a transaction while its writes keep theirs."""
import csv
import io
import json
import threading
import time
from datetime import timedelta

import pytest
from flask import request, request_finished
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select, text

from portal import clock, create_app, db
from portal.models import AuditEvent, ConsentRecord, PrivacyRequest
from portal.services.cases import casework, notices
from portal.services.consent import choices
from portal.services.records import annual_metrics

from ..support import (
    answers_within,
    csrf_from,
    make_staff,
    new_case,
    request_form,
    sign_in,
    sqlite_write_lock_held,
    status_client,
)


def _records_url(days: int = 30) -> str:
    today = clock.today()
    return f"/staff/records.csv?start={today - timedelta(days=days)}&end={today}"


def _submit(app, email: str) -> int:
    """A requester's submission through the public form, on a client of its own."""
    client = app.test_client()
    page = client.get("/requests/new").get_data(as_text=True)
    return client.post("/requests/new", data={"csrf_token": csrf_from(page),
                                              **request_form("opt_out", email=email)}).status_code


@pytest.fixture
def admin(app, client):
    sign_in(client, make_staff(app, "admin"))
    return client


@pytest.fixture
def sent(app):
    """The responses the app sent (the test client wraps every body in an iterator of its own)."""
    responses = []

    def keep(_sender, response, **_extra):
        responses.append(response)
    request_finished.connect(keep, app)
    yield responses
    request_finished.disconnect(keep, app)


def test_the_records_export_is_streamed_and_complete(app, admin, sent, monkeypatch):
    monkeypatch.setattr(annual_metrics, "RECORDS_BATCH", 3)  # several chunks from a handful of cases
    made = [new_case(app, "opt_out", "in_progress", email=f"r{i}@example.org").reference for i in range(8)]
    resp = admin.get(_records_url(), buffered=False)
    chunks = list(resp.response)
    assert resp.status_code == 200 and sent[-1].is_streamed and len(chunks) == 3  # header and 3 rows, 3, 2
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="privacy-records-')
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert sorted(r["reference"] for r in rows) == sorted(made) and len(rows) == 8
    assert {r["status"] for r in rows} == {"in_progress"} and list(rows[0]) == annual_metrics.RECORD_COLUMNS


def test_a_bad_range_is_refused_not_streamed(admin, sent):
    resp = admin.get("/staff/records.csv?start=2026-02-30&end=2026-01-01")
    assert resp.status_code == 422 and not sent[-1].is_streamed


def test_audit_verify_walks_the_chain(app, runner):
    for i in range(3):
        new_case(app, "opt_out", "in_progress", email=f"v{i}@example.org")
    with app.app_context():
        events = db.session().execute(select(func.count()).select_from(AuditEvent)).scalar()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and result.output.strip() == f"audit chain OK: {events} events"
    with app.app_context():
        s = db.session()
        middle = s.execute(select(AuditEvent.id).order_by(AuditEvent.id).offset(events // 2).limit(1)).scalar()
        s.execute(text("UPDATE audit_event SET detail = 'edited' WHERE id = :id"), {"id": middle})
        s.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"audit chain broken at event {middle} " in result.output


# ---- SQLite: reads do not take the write lock --------------------------------------------------

def _sqlite_only(app_config):
    if not app_config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite's locking: PostgreSQL readers never block writers")


@pytest.fixture
def sqlite_app(app_config):
    _sqlite_only(app_config)
    app = create_app({**app_config, "RATELIMIT_ENABLED": False})
    yield app
    app.extensions["db_engine"].dispose()


def test_a_streaming_export_does_not_block_a_submission(sqlite_app, monkeypatch):
    monkeypatch.setattr(annual_metrics, "RECORDS_BATCH", 2)
    app = sqlite_app
    for i in range(6):
        new_case(app, "opt_out", "in_progress", email=f"s{i}@example.org")
    staff, admin = app.test_client(), make_staff(app, "admin")
    sign_in(staff, admin)
    resp = staff.get(_records_url())
    chunks = iter(resp.response)
    first = next(chunks)  # the export is under way: its read transaction is open
    assert first.startswith(b"reference,")
    with app.app_context():
        assert db.engine().pool.checkedout() >= 1
    outcome = []
    writer = threading.Thread(target=lambda: outcome.append(_submit(app, "new@example.org")))
    writer.start()
    writer.join(timeout=10)  # a write lock held by the export would make it wait 30 s, then fail
    assert not writer.is_alive() and outcome == [303]
    rest = b"".join(chunks)
    resp.close()
    # The export reads its own snapshot: the six cases, not the one submitted meanwhile.
    assert (first + rest).decode().count("\n") == 1 + 6
    with app.app_context():
        assert db.session().execute(select(func.count()).select_from(PrivacyRequest)).scalar() == 7


def test_a_held_read_does_not_block_a_submission(sqlite_app):
    app = sqlite_app
    new_case(app, "opt_out", "in_progress", email="held@example.org")
    with app.app_context(), db.read_session() as reader:
        assert reader.execute(select(func.count()).select_from(PrivacyRequest)).scalar() == 1  # transaction open
        outcome = []
        writer = threading.Thread(target=lambda: outcome.append(_submit(app, "other@example.org")))
        writer.start()
        writer.join(timeout=10)
        assert not writer.is_alive() and outcome == [303]
        assert reader.execute(select(func.count()).select_from(PrivacyRequest)).scalar() == 1  # its snapshot


@pytest.fixture
def selling_sqlite_app(app_config):
    """A business that sells or shares: the consent categories include sale/sharing, and GPC applies."""
    _sqlite_only(app_config)
    app = create_app({**app_config, "RATELIMIT_ENABLED": False, "SELLS_OR_SHARES": True})
    yield app
    app.extensions["db_engine"].dispose()


def test_a_visitor_without_a_consent_state_cookie_reads_past_a_writer(selling_sqlite_app):
    """The banner's state is read on every page of a visitor whose signed state cookie is missing or
    expired, and by the consent API: one query, which must not wait for the write lock. That includes
    the status page of a person whose opt-out is already on their request's record (§7025(c)(1))."""
    app = selling_sqlite_app
    case = new_case(app, "access", "in_progress", email="reader@example.org")
    with app.app_context():
        cid = choices.new_consent_id()
        rejected = choices.record_choice(db.session(), consent_id=cid, action="reject_all", source="banner",
                                         gpc_signal=False, user_agent=None)
        assert choices.record_for_known_person(db.session(), state=rejected, reference=case.reference)
        recorded = db.session().execute(select(func.count()).select_from(AuditEvent)).scalar()
    newcomer, known = app.test_client(), status_client(app, case.reference)
    newcomer.set_cookie("portal_consent_id", choices.new_consent_id())  # no choice recorded yet
    known.set_cookie("portal_consent_id", cid)
    pages = [(newcomer, "/"), (newcomer, "/preferences"), (known, f"/requests/{case.reference}"),
             (known, "/api/consent")]
    with sqlite_write_lock_held(app):  # a page waiting for the lock would wait 30 s, then lose its banner
        [answers] = answers_within(10, lambda: [client.get(url) for client, url in pages])
    answers = {url: (resp.status_code, resp.get_data(as_text=True)) for (_client, url), resp in zip(pages, answers)}
    assert [status for status, _ in answers.values()] == [200] * 4
    assert 'id="consent-banner"' in answers["/"][1]  # the state was read: nothing chosen yet
    assert json.loads(answers["/api/consent"][1])["receipt_id"] == rejected.snapshot.receipt_id
    with app.app_context():
        assert db.session().execute(select(func.count()).select_from(AuditEvent)).scalar() == recorded


def test_a_gpc_signal_sent_twice_at_once_is_recorded_once(selling_sqlite_app):
    """Two requests of one visitor with the GPC signal both read "not honored yet" without the lock;
    each then records it under the lock, reading again first: one record, one entry on the request."""
    app = selling_sqlite_app
    case = new_case(app, "access", "in_progress", email="twice@example.org")
    cid, statuses = choices.new_consent_id(), []

    def page():
        visitor = status_client(app, case.reference)
        visitor.set_cookie("portal_consent_id", cid)
        return visitor.get(f"/requests/{case.reference}", headers={"Sec-GPC": "1"}).status_code

    with sqlite_write_lock_held(app):
        both = threading.Thread(target=lambda: statuses.extend(answers_within(20, page, page)))
        both.start()
        time.sleep(1)  # both have read by now, and wait for the lock
        assert both.is_alive()
    both.join(timeout=20)
    assert statuses == [200, 200]
    with app.app_context():
        s = db.session()
        assert s.execute(select(ConsentRecord.source).where(ConsentRecord.consent_id == cid)).scalars().all() == ["gpc"]
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.request_id == case.id)).scalars().all()
    assert actions.count("gpc_opt_out_recorded") == 1


def test_pages_that_only_read_answer_while_another_connection_writes(sqlite_app):
    """Every page that only reads, the health checks included: none waits for the write lock (a
    load balancer's check that waited out a long write would take the host out of service)."""
    app = sqlite_app
    case = new_case(app, "access", "in_progress", email="pages@example.org")
    staff, admin = app.test_client(), make_staff(app, "admin")
    sign_in(staff, admin)
    with app.app_context():
        recipient = notices.save_recipient(db.session(), actor="test", data=notices.RecipientData(
            name="Ledger Cloud", kind="service_provider", request_types=["delete"], method="manual")).id
    visitor = status_client(app, case.reference)
    visitor.set_cookie("portal_consent_id", choices.new_consent_id())
    pages = [(visitor, url) for url in (
        "/", "/status", f"/requests/{case.reference}", "/requests/new", "/agent/requests/new", "/inquiries/new",
        "/privacy", "/preferences", "/preferences/history", "/api/consent", "/healthz", "/readyz", "/metrics")]
    pages += [(staff, url) for url in (
        "/staff/", f"/staff/requests/{case.reference}", "/staff/inquiries", "/staff/account", "/staff/admin/outbox",
        "/staff/recipients", "/staff/consent", f"/staff/admin/staff/{admin.id}", "/staff/metrics",
        "/staff/admin/staff", "/staff/requests/new", "/staff/recipients/new", f"/staff/recipients/{recipient}")]
    assert staff.get("/staff/metrics").status_code == 200  # its ended months are stored once, here
    answers = {}

    def read_pages():
        for client, url in pages:
            answers[url] = client.get(url).status_code

    with sqlite_write_lock_held(app):
        answers_within(20, read_pages)  # each page waiting for the lock would wait 30 s
    assert answers == dict.fromkeys(answers, 200) and len(answers) == len(pages)


def test_read_then_write_in_a_read_only_view_is_never_locked(sqlite_app):
    """The reason writes begin IMMEDIATE: a deferred transaction that read, then writes after another
    connection committed, fails at once with "database is locked". `atomic` ends the read first."""
    app = sqlite_app
    case = new_case(app, "opt_out", "in_progress", email="rw@example.org")
    staff = make_staff(app, "support")

    @db.reads_only
    def view():
        s = db.session()
        req = s.execute(select(PrivacyRequest).where(PrivacyRequest.reference == case.reference)).scalar_one()
        assert _submit(app, "meanwhile@example.org") == 303  # another connection writes and commits
        casework.add_note(s, req=req, staff=s.get(type(staff), staff.id), body="Called back.")
        # Reading goes on, deferred again, and sees both writes.
        return s.execute(select(func.count()).select_from(PrivacyRequest)).scalar()

    with app.test_request_context("/staff/"):
        assert view() == 2
    with app.app_context():
        notes = db.session().execute(text("SELECT count(*) FROM case_note")).scalar()
    assert notes == 1


def test_a_write_outside_atomic_in_a_read_only_view_is_refused(app):
    case = new_case(app, "opt_out", "in_progress", email="guard@example.org")

    @db.reads_only
    def view():
        s = db.session()
        req = s.execute(select(PrivacyRequest).where(PrivacyRequest.reference == case.reference)).scalar_one()
        req.response_message = "written without atomic"
        s.flush()

    with app.test_request_context("/staff/"), pytest.raises(RuntimeError, match="read-only transaction"):
        view()


# ---- Both databases: a read-only view reads in autocommit ---------------------------------------

def _in_transaction_on(conn) -> bool:
    """Whether the database holds a transaction open on this connection (the driver's view)."""
    dbapi = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        return dbapi.in_transaction
    from psycopg.pq import TransactionStatus
    return dbapi.info.transaction_status != TransactionStatus.IDLE


def _in_transaction(session) -> bool:
    return _in_transaction_on(session.connection())


def test_a_read_only_view_reads_outside_a_transaction_and_writes_in_one(app):
    case = new_case(app, "opt_out", "in_progress", email="auto@example.org")

    @db.atomic
    def write_then_fail(session, req):
        req.response_message = "half written"
        session.flush()
        assert _in_transaction(session)  # the write is in a transaction of its own...
        raise RuntimeError("after the write")

    seen = {}

    @db.reads_only
    def view():
        s = db.session()
        req = s.execute(select(PrivacyRequest).where(PrivacyRequest.reference == case.reference)).scalar_one()
        seen["reading"] = _in_transaction(s)
        with pytest.raises(RuntimeError, match="after the write"):
            write_then_fail(s, req)
        s.execute(select(func.count()).select_from(PrivacyRequest)).scalar()
        seen["reading again"] = _in_transaction(s)

    with app.test_request_context("/staff/"):
        view()
        db.session().close()
    assert seen == {"reading": False, "reading again": False}
    with app.app_context():
        s = db.session()
        assert s.get(PrivacyRequest, case.id).response_message is None  # ...so it was rolled back whole
        # The connection went back to the pool as it came: a plain transaction is a transaction.
        s.execute(select(func.count()).select_from(PrivacyRequest)).scalar()
        assert _in_transaction(s)


def test_a_read_only_forms_post_reads_in_the_transaction_of_its_write(app):
    """On a form's page (GET and POST), @reads_only applies to the GET: what a POST reads before it
    writes stays in one transaction with the write (on SQLite, under the write lock)."""
    seen = {}

    @db.reads_only
    def view():
        s = db.session()
        s.execute(select(func.count()).select_from(PrivacyRequest)).scalar()
        seen[request.method] = _in_transaction(s)
        s.rollback()

    for method in ("GET", "POST"):
        with app.test_request_context("/staff/requests/new", method=method):
            view()
    assert seen == {"GET": False, "POST": True}


def test_a_read_before_the_view_is_outside_a_transaction_and_ends_before_the_view(app):
    """`db.reading`, as the consent banner's hook uses it: it reads in autocommit, leaves no
    transaction behind for a view that writes, and inside a transaction already open reads there."""
    case = new_case(app, "opt_out", "in_progress", email="before@example.org")
    staff = make_staff(app, "support")
    with app.test_request_context("/"):
        s = db.session()
        with db.reading(s):
            assert s.get(PrivacyRequest, case.id).reference == case.reference
            reading = _in_transaction(s)
        assert (reading, s.in_transaction()) == (False, False)
        casework.add_note(s, req=s.get(PrivacyRequest, case.id), staff=s.get(type(staff), staff.id), body="After.")
        s.execute(select(func.count()).select_from(PrivacyRequest)).scalar()  # a plain transaction begins
        with db.reading(s):
            s.execute(select(func.count()).select_from(PrivacyRequest)).scalar()
        assert _in_transaction(s)  # left as it was
        s.rollback()
    with app.app_context():
        assert db.session().execute(text("SELECT count(*) FROM case_note")).scalar() == 1


def test_a_read_only_views_core_connection_reads_outside_a_transaction_and_goes_back_as_it_came(app):
    case = new_case(app, "delete", "in_progress", email="core@example.org")
    seen = {}

    @db.reads_only
    def view():
        conn = db.read_connection()
        seen["reference"] = conn.execute(select(PrivacyRequest.reference).where(PrivacyRequest.id == case.id)).scalar()
        seen["reading"] = _in_transaction_on(conn)
        seen["one per request"] = db.read_connection() is conn
        seen["driver"] = conn.connection.dbapi_connection

    with app.test_request_context("/"):
        view()
    assert seen["reference"] == case.reference
    assert seen["reading"] is False and seen["one per request"] is True
    driver = seen["driver"]  # back in the pool at teardown, as it came: not in a transaction, nor autocommit
    assert not (driver.in_transaction if app.config["DATABASE_URL"].startswith("sqlite") else driver.autocommit)

    @db.reads_only
    def view_with_a_session():
        s = db.session()
        s.execute(select(func.count()).select_from(PrivacyRequest)).scalar()
        return db.read_connection() is s.connection()  # no second checkout

    with app.test_request_context("/"):
        assert view_with_a_session()
    with app.test_request_context("/"), pytest.raises(RuntimeError, match="reads_only"):
        db.read_connection()  # outside a read-only view: writes go through atomic


def test_the_status_page_sends_no_begin(app):
    """Through the app: the requester's status page reads in autocommit."""
    case = new_case(app, "delete", "in_progress", email="page@example.org")
    sent, open_after = [], []

    def after(conn, _cursor, statement, *_args):
        sent.append(statement.split(None, 1)[0].upper())
        open_after.append(_in_transaction_on(conn))
    sqlalchemy_event.listen(app.extensions["db_engine"], "after_cursor_execute", after)
    resp = status_client(app, case.reference).get(f"/requests/{case.reference}")
    sqlalchemy_event.remove(app.extensions["db_engine"], "after_cursor_execute", after)
    assert resp.status_code == 200 and case.reference in resp.get_data(as_text=True)
    assert sent == ["SELECT"] and open_after == [False]

