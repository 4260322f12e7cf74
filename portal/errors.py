"""Friendly error pages in the site's layout."""
import logging
from urllib.parse import urlsplit

from flask import current_app, g, jsonify, make_response, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import login_manager
from .i18n import lazy_gettext as _l
from .storage_full import StorageFull, is_storage_full

log = logging.getLogger(__name__)

MESSAGES = {
    400: (_l("Something in that request was not right"),
          _l("We could not read what was sent. Go back, check the form and try again.")),
    403: (_l("You cannot open this page"),
          _l("This page is not available to you. If you followed a link from an email, ask for a new one.")),
    404: (_l("Page not found"), _l("There is nothing at this address. Check the link, or start from the home page.")),
    405: (_l("That action is not available here"), _l("This page does not accept that kind of request.")),
    413: (_l("That upload is too large"), _l("The file or form was larger than we accept. Try a smaller file.")),
    429: (_l("Too many attempts"), _l("You have tried this too many times. Please wait a while and try again.")),
    507: (_l("We could not save what you sent"),
          _l("Our storage is full just now, so nothing you sent was saved. Please try again in a few minutes, "
             "or write to us or call us instead.")),
    503: (_l("We are briefly unavailable"),
          _l("We could not reach our records just now. Nothing you sent was half-saved; please try again in a minute.")),
    500: (_l("Something went wrong on our side"),
          _l("We could not finish your request. Nothing you sent was half-saved; please try again in a few minutes.")),
}
CSRF_MESSAGE = (_l("This form has expired"),
                _l("For your security, forms expire. Go back, reload the page and send it again."))


def _ensure_url_adapter() -> None:
    """A Host header Werkzeug cannot bind (a label over 63 characters) leaves the request without a
    URL adapter, and the error page's links could not be built: bind one to BASE_URL instead."""
    if request_ctx and request_ctx.url_adapter is None:
        base = urlsplit(current_app.config["BASE_URL"])
        request_ctx.url_adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/",
                                                           url_scheme=base.scheme or "http")


def render_error(code: int, title=None, message=None):
    _ensure_url_adapter()
    default_title, default_message = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
    title, message = title or default_title, message or default_message
    if request.path.startswith("/drp/"):  # Data Rights Protocol §3.06 error shape
        return jsonify(code=str(code), message=str(message)), code
    if request.path.startswith("/api/"):
        return jsonify(error=str(title), message=str(message)), code
    return render_template("errors/error.html", code=code, title=title, message=message), code


def register(app):
    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_error(400, *CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def _http(exc):
        if exc.code is None or exc.code < 400:
            return exc
        if exc.code == 429 and getattr(exc, "response", None) is not None:
            return exc.response  # a limited form drawn again as typed (portal.form_limits)
        return render_error(exc.code)

    @app.errorhandler(StorageFull)
    def _storage_full(exc):
        log.error("storage full on %s %s: nothing was saved", request.method, request.url_rule)
        return render_error(507)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc):
        if is_storage_full(exc):
            return _storage_full(exc)
        # The database is restarting or unreachable: a clean 503 the client may retry (and no stack
        # trace in the log for every request of an outage; the health check reports it).
        log.warning("database unavailable on %s %s: %s", request.method, request.url_rule, type(exc.orig).__name__)
        # The page is drawn for an anonymous visitor: loading the signed-in member of staff would
        # ask the database again, and fail again, inside this handler.
        g._login_user = login_manager.anonymous_user()
        response = make_response(render_error(503))
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc):
        if isinstance(exc, HTTPException):
            return _http(exc)
        if is_storage_full(exc):
            return _storage_full(exc)
        log.exception("unhandled error on %s %s", request.method, request.url_rule)
        return render_error(InternalServerError.code)
