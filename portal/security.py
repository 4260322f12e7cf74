"""Response headers, cookie rules and log redaction from the security baseline."""
import logging
import re
import time
from contextlib import contextmanager

from flask import current_app, g, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf
from itsdangerous import BadSignature
from werkzeug.middleware.proxy_fix import ProxyFix

from . import clock

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; object-src 'none'")

# Emailed tokens travel in URL paths; keep them out of access logs.
_TOKEN_PATH = re.compile(r"(/(?:verify|status|agent/confirm|staff/invite)/)[^/\s?\"]+")


def redact(value):
    """`value` with the token of any emailed-link path replaced by [token]; other types unchanged."""
    return _TOKEN_PATH.sub(r"\1[token]", value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Takes tokens out of a record's message and arguments, whichever form they take: a tuple
    (werkzeug, gunicorn's error log) or a mapping (gunicorn's access log passes its atoms as one
    dict, formatted with %(r)s, %(U)s ...)."""

    def filter(self, record):
        record.msg = redact(record.msg)
        if isinstance(record.args, dict):
            record.args = {key: redact(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(a) for a in record.args)
        return True


# Loggers whose records may carry request paths: the development server, and gunicorn's two.
REDACTED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")


@contextmanager
def minimum_duration(seconds: float):
    """Make the enclosed work take at least `seconds`, so its duration reveals nothing."""
    deadline = time.monotonic() + seconds
    yield
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its serializer built once per set of keys rather than each
    time a session is opened or saved, and a cookie verified before read from memory.

    A browser sends the same session cookie with every page until the session changes, and
    verifying it (an HMAC, base64 and JSON) was 4% of a worker's time on status pages under load.
    A cookie is kept, by its exact text, with its data and the moment it was signed, for as long
    as the keys stay the same: its age is checked on every request as itsdangerous checks it,
    and every request gets its own copy of the data. What is kept is what the cookie itself holds
    (a status page's reference, a staff member's id and times, the CSRF token), never a flash
    message."""

    def _serializer_and_verified(self, app) -> tuple:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        built = app.extensions.get("session_serializer")
        if built is None or built[0] != keys:
            built = app.extensions["session_serializer"] = (keys, super().get_signing_serializer(app), {})
        return built

    def get_signing_serializer(self, app):
        return self._serializer_and_verified(app)[1]

    def open_session(self, app, request):
        _keys, serializer, verified = self._serializer_and_verified(app)
        value = request.cookies.get(self.get_cookie_name(app))
        if serializer is None or not value:
            return super().open_session(app, request)
        max_age = int(app.permanent_session_lifetime.total_seconds())
        kept = verified.get(value)
        if kept is None:
            try:
                data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            if "_flashes" in data:  # a message shown once, which may name a person (an email): not kept
                return self.session_class(data)
            if len(verified) >= _VERIFIED_SESSIONS_MAX:
                verified.clear()
            kept = verified[value] = (data, int(signed_at.timestamp()))
        elif not 0 <= int(clock.timestamp()) - kept[1] <= max_age:  # as itsdangerous: SignatureExpired
            return self.session_class()
        return self.session_class(_own_copy(kept[0]))


# Session cookies kept once verified: bounded, as sessions come and go.
_VERIFIED_SESSIONS_MAX = 4096


def _own_copy(value):
    """A copy whose dicts and lists (at any depth) are new: what one request changes in its
    session never reaches another's. The rest a session holds (text, numbers, dates) is immutable."""
    if isinstance(value, dict):
        return {key: _own_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_own_copy(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_own_copy(item) for item in value)
    return value


# Signed CSRF tokens kept by (raw token, secret): bounded, as sessions come and go.
_SIGNED_TOKENS_MAX = 4096


def csrf_token() -> str:
    """Flask-WTF's CSRF token for the session (templates' `csrf_token()`): the one signed for the
    session before, kept per process, rather than a signing on every page (an itsdangerous
    serializer and an HMAC, a twentieth of a status page). With WTF_CSRF_TIME_LIMIT None a signed
    token is good for the session's life whenever it was signed, so a kept one is accepted exactly
    as a fresh one; a token's first part is the session's raw token either way, so pages carry
    nothing they did not. A view that builds a form has Flask-WTF sign its own first, as before."""
    config = current_app.config
    if config["WTF_CSRF_TIME_LIMIT"] is not None:
        return generate_csrf()
    field = config["WTF_CSRF_FIELD_NAME"]
    kept = current_app.extensions.setdefault("csrf_signed_tokens", {})
    secret = config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key
    signed = g.get(field)  # signed in this request already (a form the view built)
    if signed is None:
        signed = kept.get((session.get(field), secret))
        if signed is not None:
            setattr(g, field, signed)  # where Flask-WTF keeps the request's token: its own calls return it
            return signed
        signed = generate_csrf()  # makes the session's raw token if it has none
    raw = session.get(field)  # none when the view emptied the session after signing (sign-in, sign-out)
    if raw is not None:
        if len(kept) >= _SIGNED_TOKENS_MAX:
            kept.clear()
        kept.setdefault((raw, secret), signed)
    return signed


def register(app):
    app.session_interface = SessionInterface()
    # Instead of Flask-WTF's generate_csrf, which it installs both ways (a later processor wins).
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(app.config["PROXY_FIX_X_FOR"]), x_proto=1)
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):  # one per logger, however many apps
            logger.addFilter(RedactTokens())

    @app.after_request
    def _headers(response):
        return apply_headers(response, app.config)


PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
HSTS = "max-age=31536000; includeSubDomains"


def apply_headers(response, config):
    """The baseline headers; also used by the consent API's fast path, which bypasses Flask."""
    h = response.headers
    present = {key.lower() for key in h.keys()}
    if "content-security-policy" not in present:
        h.add("Content-Security-Policy", CSP)
    for key, value in (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                       ("X-Frame-Options", "DENY")):
        if key.lower() in present:
            h.set(key, value)
        else:
            h.add(key, value)
    if "permissions-policy" not in present:
        h.add("Permissions-Policy", PERMISSIONS_POLICY)
    if config["SESSION_COOKIE_SECURE"]:
        h.set("Strict-Transport-Security", HSTS)
    if "cache-control" not in present and response.mimetype in ("text/html", "application/json"):
        h.add("Cache-Control", "no-store")
    return response


def add_vary(response, *names: str) -> None:
    """Add `names` to the Vary header, each once (werkzeug's `response.vary` parses and rewrites
    the header at each change, and a page changes it twice)."""
    current = response.headers.get("Vary")
    if not current:
        response.headers["Vary"] = ", ".join(names)
        return
    have = {part.strip().lower() for part in current.split(",")}
    missing = [name for name in names if name.lower() not in have]
    if missing:
        response.headers["Vary"] = ", ".join((current, *missing))
