"""Guards on what arrives from outside, before any view sees it: malformed input is a 4xx, never a 500.

Registered before the extensions, so they run before Flask-WTF's CSRF check reads the form. The
rules for text (`text_problem`, the patterns below) are shared by the forms (portal/forms.py) and by
what arrives without a form (the Data Rights Protocol's signed claims), so both refuse the same.
"""
import re

from flask import abort, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

# Markup, control characters (line breaks and tabs aside: a text area's) and line breaks, as the forms refuse them.
TAG = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
LINE_BREAK = re.compile(r"[\r\n\x85\u2028\u2029]")
# A person's name: letters, then letters, spaces, apostrophes, periods and hyphens.
NAME = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '’.\-])*$")
PHONE = re.compile(r"^[0-9+()\-. ]{7,40}$")


def text_problem(value: str, *, single_line: bool = True, limit: int | None = None, markup: bool = True) -> str | None:
    """Why `value` is not acceptable text, or None: a single line (no line break, no tab) unless
    it may span lines, no control character, at most `limit` characters, and (unless `markup`) no
    HTML tag. The words are for a message that names the field before them."""
    if CONTROL.search(value) or (single_line and (LINE_BREAK.search(value) or "\t" in value)):
        return "must be one line without control characters" if single_line else "must have no control characters"
    if limit is not None and len(value) > limit:
        return f"must have at most {limit} characters"
    if not markup and TAG.search(value):
        return "must be plain text (nothing that looks like an HTML tag)"
    return None


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
