"""Guards on what arrives from outside, before any view sees it: malformed input is a 4xx, never a 500.

Registered before the extensions, so they run before Flask-WTF's CSRF check reads the form.
"""
from flask import abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

# Ids in URLs are database keys: PostgreSQL's INTEGER ends here, and SQLite refuses integers past
# 64 bits with an OverflowError. A larger number in a URL is simply not found (404).
MAX_ID = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """Flask's `int` converter, limited to the ids the database can hold."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class SafeJSONProvider(DefaultJSONProvider):
    """Deeply nested JSON is invalid JSON (a ValueError, which get_json turns into a 400), not a
    RecursionError that escapes as a server error."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def refuse_nameless_form_parts():
    """A multipart part without a name is refused with a 400 (no browser sends one; Werkzeug keeps
    it under the key None, on which Flask-WTF's CSRF check fails)."""
    # Only multipart bodies can have one; a urlencoded body is left unread for the views that read
    # it raw (the Data Rights Protocol's signed bodies).
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.mimetype == "multipart/form-data":
        if None in request.form or None in request.files:
            abort(400)


def register(app):
    app.url_map.converters["int"] = BoundedIntConverter
    app.json = SafeJSONProvider(app)
    app.before_request(refuse_nameless_form_parts)
