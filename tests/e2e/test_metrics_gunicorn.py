"""/metrics under a real gunicorn with two workers in Prometheus multiprocess mode: whichever worker
answers the scrape, the counts are the sum over both. And LOG_FORMAT=json reaches gunicorn's access log."""
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from prometheus_client.parser import text_string_to_metric_families

from portal import db as portal_db

from ..processes import Gunicorn, http


def healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if (s.name == "portal_http_requests_total" and s.labels.get("endpoint") == "public.healthz"
                    and s.labels.get("status") == "200"):
                return s.value
    return 0


def test_counts_add_up_across_two_workers_and_access_logs_are_json(tmp_path):
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    portal_db.upgrade(url)
    prom = tmp_path / "prometheus"
    prom.mkdir()
    log = tmp_path / "gunicorn.log"
    env = {"PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "PORTAL_DATABASE_URL": url,
           "PORTAL_MAIL_BACKGROUND_DELIVERY": "false", "PROMETHEUS_MULTIPROC_DIR": str(prom),
           "PORTAL_LOG_FORMAT": "json"}
    server = Gunicorn(env, workers=2, log=log, args=("--access-logfile", "-"))
    try:
        # One worker is kept busy reading a request that has not finished arriving, so the other
        # answers the next 30; then the first finishes: both workers have counted (1 and 30).
        held = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        held.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.5)
        with ThreadPoolExecutor(3) as pool:
            statuses = list(pool.map(lambda _: http(server.url("/healthz"))[0], range(30)))
        assert statuses == [200] * 30
        held.sendall(b"Connection: close\r\n\r\n")
        assert held.recv(4096).startswith(b"HTTP/1.1 200")
        held.close()
        pids = {f.name.split("_")[1].split(".")[0] for f in prom.glob("counter_*.db")}
        assert len(pids) == 2, f"both workers counted requests: {pids}"
        http(server.url("/verify/VERIFYSECRET123"))
        # Without aggregation a scrape would say 1 or 30, by the worker that answers it.
        scrapes = [http(server.url("/metrics")) for _ in range(6)]
        assert {status for status, _, _ in scrapes} == {200}
        assert [healthz_count(body) for _, body, _ in scrapes] == [31.0] * 6
    finally:
        server.stop()
    access = [line for line in log.read_text().splitlines() if "/verify/" in line]
    assert access, "the access log has the request"
    record = json.loads(access[0])
    assert record["logger"] == "gunicorn.access" and "/verify/[token]" in record["message"]
    assert "VERIFYSECRET123" not in log.read_text()
