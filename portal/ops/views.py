"""Operators: /readyz (is every part of the service working?) and /metrics (Prometheus).

/healthz, the liveness check in the contract, stays with the public blueprint."""
import hmac
import ipaddress

from flask import Blueprint, Response, abort, current_app, request
from limits.storage import storage_from_string
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import clock, db, telemetry
from ..extensions import limiter
from ..services import health

bp = Blueprint("ops", __name__)


@bp.record_once
def _setup(setup_state):
    app = setup_state.app
    app.extensions["ops_started_at"] = clock.now()
    url = str(app.config["RATELIMIT_STORAGE_URL"])
    # Readiness pings the shared rate-limit store with a client of its own (the limiter's may be
    # on its in-memory fallback, and must not be disturbed).
    app.extensions["rate_limit_storage"] = (
        storage_from_string(url, **app.config.get("RATELIMIT_STORAGE_OPTIONS", {})) if url.startswith("redis") else None)


@bp.get("/readyz")
@db.reads_only
@limiter.exempt
def readyz():
    """200 when every check passes, 503 otherwise; each check with its value and threshold."""
    report = health.readiness(db.session(), current_app.config, started_at=current_app.extensions["ops_started_at"],
                              instance_path=current_app.instance_path,
                              rate_limit_storage=current_app.extensions["rate_limit_storage"])
    return report.as_json(), 200 if report.ok else 503


@bp.get("/metrics")
@limiter.exempt
def metrics():
    """Prometheus metrics, for the operator's network or token only; 404 to anyone else."""
    if current_app.extensions.get("request_metrics") is None or not _metrics_allowed():
        abort(404)  # not 403: the endpoint is not advertised
    return Response(generate_latest(telemetry.scrape_registry(current_app)), content_type=CONTENT_TYPE_LATEST)


def _metrics_allowed() -> bool:
    cfg = current_app.config
    token = cfg.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), str(token).encode()):
        return True
    # A forwarded request seen without a trusted proxy configured: its address is the proxy's, not the client's.
    if not cfg["PROXY_FIX_X_FOR"] and (request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")):
        return False
    try:
        client = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    for network in cfg["METRICS_ALLOWED_NETWORKS"]:
        try:
            if client in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False
