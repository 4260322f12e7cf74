"""What operators watch: request metrics (Prometheus), request ids, and JSON logs by configuration.

Metrics: every request is counted by endpoint name (never the raw path, which carries tokens and
references) and status, and timed. Under gunicorn with several workers, set the environment
variable PROMETHEUS_MULTIPROC_DIR (an empty folder, writable, cleared at each start): each worker
then writes its counts there and any worker's /metrics answers with the sum.
"""
import json
import logging
import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone

from flask import Flask, has_request_context, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from . import db
from .consent.fastpath import PATH as CONSENT_FAST_PATH
from .security import RedactTokens
from .services import health

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ENVIRON_KEY = "portal.request_id"
_ENDPOINT_KEY = "portal.endpoint"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class RequestMetrics:
    """The per-request counter and latency histogram, in the app's own registry."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("portal_http_requests", "HTTP requests answered, by endpoint, method and status",
                                ["endpoint", "method", "status"], registry=self.registry)
        self.latency = Histogram("portal_http_request_duration_seconds", "Time to answer a request, by endpoint",
                                 ["endpoint", "method"], registry=self.registry,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self._children: dict[tuple[str, str, str], tuple] = {}  # the labelled series, found once

    def record(self, endpoint: str, method: str, status: str, seconds: float) -> None:
        key = (endpoint, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(endpoint, method, status),
                                              self.latency.labels(endpoint, method))
        children[0].inc()
        children[1].observe(seconds)


class Middleware:
    """Outermost WSGI layer: a request id for every request, then its count and duration."""

    def __init__(self, app: Flask, wsgi_app, metrics: RequestMetrics | None):
        self.app, self.wsgi_app, self.metrics = app, wsgi_app, metrics

    def __call__(self, environ, start_response):
        given = environ.get("HTTP_X_REQUEST_ID", "")
        # A caller's id is kept only from a trusted proxy (it ends up in the logs); otherwise a new one.
        trusted = self.app.config["PROXY_FIX_X_FOR"] and _REQUEST_ID.match(given)
        request_id = given if trusted else os.urandom(16).hex()
        environ[_ENVIRON_KEY] = request_id
        status_seen = []

        def start(status, headers, exc_info=None):
            status_seen.append(status.split(" ", 1)[0])
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        started = time.monotonic()
        try:
            return self.wsgi_app(environ, start)
        finally:
            if self.metrics is not None:
                self.metrics.record(_endpoint(environ), _method(environ), status_seen[0] if status_seen else "500",
                                    time.monotonic() - started)


_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


def _method(environ) -> str:
    """The method, or "other": label values stay a small set whatever clients send."""
    method = environ.get("REQUEST_METHOD", "")
    return method if method in _METHODS else "other"


def _endpoint(environ) -> str:
    """The route's endpoint name: a bounded set of labels, whatever paths are asked for."""
    endpoint = environ.get(_ENDPOINT_KEY)
    if endpoint:
        return endpoint
    if environ.get("PATH_INFO") == CONSENT_FAST_PATH:
        return "consent.api_fast_path"  # answered before Flask routes it
    return "unmatched"


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    return request.environ.get(_ENVIRON_KEY) if has_request_context() else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id when in a request."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (a test's capture, a redirected stream)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


# Loggers that may have their own handlers (gunicorn's) and do not pass records up to the root.
_OWN_HANDLER_LOGGERS = ("gunicorn.error", "gunicorn.access")


def configure_logging(app: Flask) -> None:
    """LOG_FORMAT=json: the root logger (and gunicorn's) write JSON lines to standard error."""
    if str(app.config["LOG_FORMAT"]).lower() != "json":
        return
    formatter = JsonFormatter()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "portal_json", False)]:
        root.removeHandler(old)  # one handler, however many apps are built in this process
    handler = _StderrHandler()
    handler.portal_json = True
    handler.setFormatter(formatter)
    handler.addFilter(RedactTokens())  # also for loggers without the filter of their own
    root.addHandler(handler)
    root.setLevel(str(app.config["LOG_LEVEL"]).upper())
    for name in _OWN_HANDLER_LOGGERS:
        for h in logging.getLogger(name).handlers:
            h.setFormatter(formatter)
    # Werkzeug gives its logger a plain handler of its own when the root had none; the root's
    # JSON handler now writes its records, so that one would only add a second, plain line.
    werkzeug = logging.getLogger("werkzeug")
    for h in [h for h in werkzeug.handlers if type(h).__name__ == "_ColorStreamHandler"]:
        werkzeug.removeHandler(h)


class DatabaseCollector:
    """Outbox, delivery and case figures, read from the database when Prometheus scrapes."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        up = GaugeMetricFamily("portal_database_up", "1 when the figures below could be read from the database")
        try:
            with self.app.app_context(), db.read_session() as reader:  # on SQLite: no write lock
                s = health.snapshot(reader, alive_within=timedelta(
                    seconds=float(self.app.config["READY_MAX_WORKER_AGE_SECONDS"])))
        except Exception:  # noqa: BLE001  the scrape still answers, saying the database is down
            logging.getLogger(__name__).warning("metrics: database figures unavailable")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        outbox = GaugeMetricFamily("portal_outbox_messages", "Mail in the outbox by status", labels=["status"])
        outbox.add_metric(["pending"], s.pending_mail)
        outbox.add_metric(["failed"], s.failed_mail)
        yield outbox
        yield GaugeMetricFamily("portal_outbox_oldest_pending_age_seconds",
                                "Age of the oldest mail still waiting to go out (0: none)",
                                value=s.oldest_pending_mail_age or 0)
        yield GaugeMetricFamily("portal_outbox_sent_last_hour", "Mail delivered in the last hour",
                                value=s.sent_last_hour)
        yield GaugeMetricFamily("portal_webhook_backlog", "Webhooks and DRP callbacks waiting to go out",
                                value=s.webhook_backlog)
        yield GaugeMetricFamily("portal_worker_heartbeat_age_seconds",
                                "Seconds since the newest heartbeat of a delivering process (-1: none in a day)",
                                value=-1 if s.heartbeat_age is None else s.heartbeat_age)
        yield GaugeMetricFamily("portal_delivering_processes", "Processes delivering mail, by recent heartbeat",
                                value=s.delivering_processes)
        cases = GaugeMetricFamily("portal_cases_open", "Open privacy requests by status", labels=["status"])
        for status, count in s.open_cases.items():
            cases.add_metric([status], count)
        yield cases
        yield GaugeMetricFamily("portal_cases_overdue", "Open privacy requests past their response due date",
                                value=s.overdue_cases)


def scrape_registry(app: Flask) -> CollectorRegistry:
    """What /metrics reports: this process's (or, in multiprocess mode, every worker's) request
    metrics, and the database figures read now."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        from prometheus_client import multiprocess
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(app.extensions["request_metrics"].registry))
    registry.register(DatabaseCollector(app))
    return registry


class _Forward:
    """Collects another registry's metrics into this one."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self):
        return self.source.collect()


def register(app: Flask) -> None:
    configure_logging(app)
    metrics = RequestMetrics() if app.config["METRICS_ENABLED"] else None
    app.extensions["request_metrics"] = metrics
    app.wsgi_app = Middleware(app, app.wsgi_app, metrics)

    @app.teardown_request
    def _remember_endpoint(_exc=None):
        # Flask lets go of the request object when it ends: the middleware reads the endpoint here.
        request.environ[_ENDPOINT_KEY] = request.endpoint
