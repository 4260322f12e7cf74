"""Response headers, cookie rules and log redaction from the security baseline."""
import logging
import re
import time
from contextlib import contextmanager

from werkzeug.middleware.proxy_fix import ProxyFix

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")

# Emailed tokens travel in URL paths; keep them out of access logs.
_TOKEN_PATH = re.compile(r"(/(?:verify|status|agent/confirm|staff/invite)/)[^/\s?\"]+")


class RedactTokens(logging.Filter):
    def filter(self, record):
        if isinstance(record.msg, str) and record.args:
            record.args = tuple(_TOKEN_PATH.sub(r"\1[token]", a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _TOKEN_PATH.sub(r"\1[token]", record.msg)
        return True


@contextmanager
def minimum_duration(seconds: float):
    """Make the enclosed work take at least `seconds`, so its duration reveals nothing."""
    deadline = time.monotonic() + seconds
    yield
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def register(app):
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["PROXY_FIX_X_FOR"]), x_proto=1)
    logging.getLogger("werkzeug").addFilter(RedactTokens())
    logging.getLogger("gunicorn.access").addFilter(RedactTokens())

    @app.after_request
    def _headers(response):
        return apply_headers(response, app.config)


def apply_headers(response, config):
    """The baseline headers; also used by the consent API's fast path, which bypasses Flask."""
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    h["X-Frame-Options"] = "DENY"
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
    if config["SESSION_COOKIE_SECURE"]:
        h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if response.mimetype in ("text/html", "application/json"):
        h.setdefault("Cache-Control", "no-store")
    return response
