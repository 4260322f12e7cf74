"""The first-run checklist: a fresh install (the embedded defaults, the example's policy) lists each
placeholder on the admin page and in the start-up warnings; a configured one lists none."""
import logging
import re
from datetime import timedelta

import pytest

from portal import clock, db
from portal import create_app as _create_app
from portal.models import DrpAgent, WorkerHeartbeat
from portal.services.checklist import placeholders

from ..support import make_staff, sign_in
from ..unit.fulfilment.maps import load_generator

FRESH_KEYS = {"org_name", "mail_from", "privacy_email", "security_contact_email", "privacy_phone",
              "privacy_toll_free", "base_url", "worker", "drp_agent", "datamap"}
CONFIGURED = {
    "ORG_NAME": "Redlands Claims Billing", "MAIL_FROM": "privacy@redlands-billing.com",
    "PRIVACY_EMAIL": "privacy@redlands-billing.com", "SECURITY_CONTACT_EMAIL": "security@redlands-billing.com",
    "PRIVACY_PHONE": "(951) 555-0170", "PRIVACY_TOLL_FREE": "(888) 555-0171", "BASE_URL": "http://localhost",
    "DRP_ENABLED": True,
}


def _page_keys(app) -> list[str]:
    client = app.test_client()
    sign_in(client, make_staff(app, "admin"))
    page = client.get("/staff/admin/setup")
    assert page.status_code == 200
    return re.findall(r'<li data-key="([a-z_]+)"', page.get_data(as_text=True))


@pytest.fixture(autouse=True)
def _apps_disposed():
    """Every app a test builds here gives its connections back (PostgreSQL counts them)."""
    yield
    for app in _BUILT:
        app.extensions["mail_delivery"].stop()
        app.extensions["db_engine"].dispose()
    _BUILT.clear()


_BUILT = []


def create_app(config):
    app = _create_app(config)
    _BUILT.append(app)
    return app


@pytest.fixture
def broken_map(app_config, tmp_path):
    folder = tmp_path / "datamap"
    folder.mkdir()
    (folder / "map.yml").write_text("dataset:\n  - fides_key: billing\n    collections:\n      - name: claims\n"
                                    "        fields:\n          - name: email\n            data_categories: [user.contact.email]\n"
                                    "            fides_meta: {references: [{dataset: nowhere, field: a.b, direction: to}]}\n")
    return folder


def test_a_fresh_install_lists_every_placeholder(app_config, broken_map):
    app = create_app({**app_config, "BASE_URL": "http://127.0.0.1:5000", "DRP_ENABLED": True,
                      "DATAMAP_PATH": str(broken_map)})
    keys = _page_keys(app)
    assert set(keys) == FRESH_KEYS, keys
    with app.app_context():
        served = {i.key: i.problem for i in placeholders.items(db.session(), served_at="http://localhost/")}
    assert "http://127.0.0.1:5000" in served["base_url"] and "http://localhost" in served["base_url"]


def test_start_up_warns_of_each_placeholder(app_config, broken_map, caplog):
    app = create_app({**app_config, "BASE_URL": "http://127.0.0.1:5000", "DRP_ENABLED": True,
                      "DATAMAP_PATH": str(broken_map)})
    caplog.set_level(logging.WARNING, logger="portal.services.checklist.placeholders")
    with app.app_context():
        count = placeholders.log_warnings(db.session())
        keys = {i.key for i in placeholders.items(db.session())}
    lines = [r.getMessage() for r in caplog.records if r.name.endswith("placeholders")]
    assert keys == FRESH_KEYS and len(lines) == count >= len(FRESH_KEYS)
    assert all(line.startswith("first-run checklist: ") for line in lines)
    assert any("No worker is running" in line for line in lines)


def test_a_configured_install_lists_none(app_config, tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    shipped = (placeholders.__file__.rsplit("/portal/", 1)[0] + "/portal/content/privacy_policy.md")
    with open(shipped, encoding="utf-8") as f:
        (instance / "privacy_policy.md").write_text(f.read().replace("Billgenix", "Redlands Claims Billing"))
    generator = load_generator()
    generator.build(tmp_path / "example", claimants=4, seed=7)
    generator.write_map(tmp_path / "datamap", databases=tmp_path / "example")
    app = create_app({**app_config, **CONFIGURED, "DATAMAP_PATH": str(tmp_path / "datamap")})
    with app.app_context():
        s = db.session()
        s.add(WorkerHeartbeat(process="host:1", name="worker", beat_at=clock.now() - timedelta(seconds=30)))
        s.add(DrpAgent(agent_id="agent-1", name="Agent", verify_key="A" * 44))
        s.commit()
    assert _page_keys(app) == []
    client = app.test_client()
    sign_in(client, make_staff(app, "admin", email="second.admin@example.org"))
    assert 'id="placeholders-none"' in client.get("/staff/admin/setup").get_data(as_text=True)


def test_only_admins_see_the_checklist(app):
    client = app.test_client()
    sign_in(client, make_staff(app, "support"))
    assert client.get("/staff/admin/setup").status_code == 403


def test_base_url_is_compared_by_host_and_port_not_scheme(app_config):
    app = create_app({**app_config, "BASE_URL": "https://privacy.example-business.com"})
    with app.app_context():
        same = placeholders.configuration_items(served_at="http://privacy.example-business.com/")
        other_port = placeholders.configuration_items(served_at="http://privacy.example-business.com:8080/")
    assert "base_url" not in {i.key for i in same}  # TLS ended by the proxy in front
    assert "base_url" in {i.key for i in other_port}
