"""deploy/nginx/privacy-portal.conf made runnable on loopback, unprivileged, in a folder of its own:
the same site file with only its ports, certificate, static folder and upstream replaced (each
replacement must match, so the site file cannot drift from what the tests and the check run).

usage: python -m tests.production.nginx PREFIX CERT KEY HTTP_PORT HTTPS_PORT UPSTREAM [UPSTREAM ...]
       writes PREFIX/nginx.conf (run it with `nginx -p PREFIX -c PREFIX/nginx.conf -e PREFIX/error.log`).
"""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SITE = REPO / "deploy" / "nginx" / "privacy-portal.conf"


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:
        raise ValueError(f"deploy/nginx/privacy-portal.conf no longer contains {old!r}")
    return text.replace(old, new)


def render(prefix: Path, *, cert: Path, key: Path, http_port: int, https_port: int, upstreams: list[str],
           static: Path = REPO / "static") -> Path:
    """Write PREFIX/nginx.conf, PREFIX/site.conf and PREFIX/upstream.conf; return the main file."""
    prefix = Path(prefix).resolve()
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "logs"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    site = SITE.read_text()
    site = _replace(site, "include /etc/nginx/snippets/privacy-portal-upstream.conf;",
                    f"include {prefix}/upstream.conf;")
    site = _replace(site, "    listen [::]:80;\n", "")
    site = _replace(site, "    listen [::]:443 ssl http2;\n", "")
    site = _replace(site, "listen 80;", f"listen 127.0.0.1:{http_port};")
    site = _replace(site, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    site = _replace(site, "return 301 https://$host$request_uri;", f"return 301 https://$host:{https_port}$request_uri;")
    site = _replace(site, "/etc/ssl/privacy-portal/fullchain.pem", str(cert))
    site = _replace(site, "/etc/ssl/privacy-portal/privkey.pem", str(key))
    site = _replace(site, "alias /opt/privacy-portal/static/;", f"alias {static}/;")
    site = _replace(site, "root /opt/privacy-portal/static/errors;", f"root {static}/errors;")
    (prefix / "site.conf").write_text(site)
    servers = "".join(f"    server {u} max_fails=3 fail_timeout=10s;\n" for u in upstreams)
    (prefix / "upstream.conf").write_text(f"upstream privacy_portal {{\n{servers}    keepalive 16;\n}}\n")
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers keep root's access to the worktree
    main = f"""{user}worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/site.conf;
}}
"""
    path = prefix / "nginx.conf"
    path.write_text(main)
    return path


if __name__ == "__main__":
    out, cert, key, http_port, https_port, *ups = sys.argv[1:]
    print(render(Path(out), cert=Path(cert), key=Path(key), http_port=int(http_port), https_port=int(https_port),
                 upstreams=ups))
