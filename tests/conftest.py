"""Fixtures: a fresh, migrated database per test (SQLite, or PostgreSQL when
PORTAL_TEST_DATABASE_URL names a server), the app, its client, a mailbox and a real SMTP server."""
import itertools
import os
import shutil
import uuid
from datetime import datetime

import pytest
import time_machine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal import db as portal_db

from .support import Mailbox, SMTPSink, make_staff, sign_in

PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
_counter = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def suite_clock():
    """PORTAL_TEST_NOW (ISO 8601 with offset) runs the whole suite as if it started at that moment,
    the clock ticking from there; unset, the suite runs at the real time."""
    moment = os.environ.get("PORTAL_TEST_NOW")
    if not moment:
        yield None
        return
    start = datetime.fromisoformat(moment)
    if start.tzinfo is None:
        raise pytest.UsageError("PORTAL_TEST_NOW needs an offset, e.g. 2026-12-31T23:30:00-08:00")
    with time_machine.travel(start, tick=True) as traveller:
        yield traveller


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def _pg_admin():
    return create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def template_database(tmp_path_factory):
    """Migrate once per test process; each test then gets a copy."""
    if PG_URL:
        name = f"portal_tpl_{_worker()}_{uuid.uuid4().hex[:6]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        portal_db.upgrade(url)
        yield name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "portal.db"
        portal_db.upgrade(f"sqlite:///{path}")
        engine = create_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        yield path


@pytest.fixture
def database_url(template_database, tmp_path):
    """A fresh, migrated database for one test."""
    if PG_URL:
        name = f"portal_t_{_worker()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        path = tmp_path / "portal.db"
        shutil.copyfile(template_database, path)
        yield f"sqlite:///{path}"


@pytest.fixture
def app_config(database_url, tmp_path):
    """The test configuration; a test may change it before asking for `app`."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "BASE_URL": "http://portal.test",
        "MAIL_BACKGROUND_DELIVERY": False,
        "STATUS_RESPONSE_SECONDS": 0,  # the padding of status answers: on only where a test measures it
        "REQUEST_RESPONSE_SECONDS": 0,  # and of the request form's
        # Real argon2id, with light parameters so that sign-ins do not dominate the suite's time.
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8192, "ARGON2_PARALLELISM": 1,
    }


@pytest.fixture
def app(app_config, request):
    if "smtp_server" in request.fixturenames:
        request.getfixturevalue("smtp_server")  # the app sends through it: configure that first
    app = create_app(app_config)
    yield app
    app.extensions["mail_delivery"].stop()
    app.extensions["db_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A database session inside an app context, for service tests."""
    with app.app_context():
        yield portal_db.session()


@pytest.fixture
def mailbox(app):
    return Mailbox(app)


@pytest.fixture
def smtp_server(app_config):
    """A real SMTP server on loopback (aiosmtpd), running, and the app configured to send through it."""
    server = SMTPSink()
    app_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def staff_login(app):
    """staff_login(client, role="support", email=None) -> StaffUser: a new staff member, signed in
    through the real sign-in form (support.make_staff, then support.sign_in)."""
    def login(client, role="support", email=None):
        user = make_staff(app, role, email or f"{role}-{next(_counter)}@staff.example")
        sign_in(client, user)
        return user
    return login
