"""/metrics: Prometheus text for the operator's network or token only (404 to anyone else),
requests labelled by endpoint name (never the raw path), and the database figures read at scrape time."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..support import Mailbox, days_ago, new_case

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def samples(resp) -> dict:
    """{(name, frozenset(labels)): value} of a scrape."""
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(resp.get_data(as_text=True)) for s in family.samples}


def value(found: dict, name: str, **labels) -> float:
    return found[(name, frozenset(labels.items()))]


def test_loopback_may_read_the_metrics_by_default(client):
    assert client.get("/metrics").status_code == 200


def test_anyone_else_gets_404_not_403(client):
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 404


def test_a_forwarded_request_is_not_taken_for_loopback_without_a_trusted_proxy(client):
    """Behind a proxy on the same host every request comes from 127.0.0.1: the header gives it away."""
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 404


def test_allowed_networks_are_checked_on_the_clients_address_behind_a_trusted_proxy(app_config, request):
    app_config.update(PROXY_FIX_X_FOR=1, METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"])
    client = request.getfixturevalue("client")
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 404
    assert client.get("/metrics").status_code == 404  # loopback is no longer in the list


@pytest.mark.parametrize("header, status", [("Bearer s3cret-scrape-token", 200), ("Bearer wrong", 404),
                                            ("s3cret-scrape-token", 404), ("Bearer ", 404)])
def test_a_bearer_token_opens_it_from_anywhere(app_config, request, header, status):
    app_config.update(METRICS_TOKEN="s3cret-scrape-token", METRICS_ALLOWED_NETWORKS=[])
    client = request.getfixturevalue("client")
    assert client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": header}).status_code == status


def test_switched_off_it_is_404(app_config, request):
    app_config.update(METRICS_ENABLED=False)
    assert request.getfixturevalue("client").get("/metrics").status_code == 404


def test_requests_are_counted_by_endpoint_and_status_never_by_path(client):
    client.get("/verify/SECRETTOKEN123")
    client.get("/no/such/SECRETPATH")
    client.get("/privacy")
    resp = client.get("/metrics")
    text = resp.get_data(as_text=True)
    assert "SECRETTOKEN123" not in text and "SECRETPATH" not in text
    found = samples(resp)
    assert value(found, "portal_http_requests_total", endpoint="public.verify", method="GET", status="404") == 1
    assert value(found, "portal_http_requests_total", endpoint="unmatched", method="GET", status="404") == 1
    assert value(found, "portal_http_requests_total", endpoint="public.privacy_policy", method="GET", status="200") == 1
    assert value(found, "portal_http_request_duration_seconds_count", endpoint="public.privacy_policy", method="GET") == 1
    assert value(found, "portal_http_request_duration_seconds_bucket", endpoint="public.privacy_policy", method="GET",
                 le="+Inf") == 1


def test_outbox_and_case_figures_are_read_from_the_database(app, client):
    new_case(app, email="one@example.org")
    new_case(app, email="two@example.org", received_at=days_ago(60))  # 45 days to answer: overdue
    found = samples(client.get("/metrics"))
    assert value(found, "portal_database_up") == 1
    assert value(found, "portal_cases_open", status="verifying") == 2
    assert value(found, "portal_cases_open", status="in_progress") == 0
    assert value(found, "portal_cases_overdue") == 1
    assert value(found, "portal_outbox_messages", status="pending") >= 2
    assert value(found, "portal_outbox_messages", status="failed") == 0
    assert value(found, "portal_outbox_oldest_pending_age_seconds") > 0
    assert value(found, "portal_outbox_sent_last_hour") == 0
    assert value(found, "portal_webhook_backlog") == 0
    assert value(found, "portal_worker_heartbeat_age_seconds") == -1  # nobody has beaten yet
    delivered = Mailbox(app).deliver()
    found = samples(client.get("/metrics"))
    assert value(found, "portal_outbox_sent_last_hour") == delivered >= 2
    assert value(found, "portal_outbox_messages", status="pending") == 0
