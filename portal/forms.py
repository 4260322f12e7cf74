"""Form pieces shared by every blueprint."""
import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import ValidationError

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!?]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n\x85\u2028\u2029]")


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for button-only POSTs; the base of every POST form."""

    def validate(self, extra_validators=None):
        """Every single-line field (all but text areas) refuses line breaks: its value may end up
        in a mail header or a file name, where a line break starts something new."""
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field, StringField) and not isinstance(field, TextAreaField) \
                    and isinstance(field.data, str) and _LINE_BREAK.search(field.data):
                field.errors = [*field.errors, _l("Keep this on one line: remove the line breaks.")]
                valid = False
        return valid


def plain_text(form, field):
    """Refuse markup and control characters: every field is plain text."""
    if field.data and _TAG.search(field.data):
        raise ValidationError(_l("Please use plain text only: remove anything that looks like an HTML tag (< >)."))
    if field.data and _CONTROL.search(field.data):
        raise ValidationError(_l("This field contains characters we cannot accept."))


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value


def upload_of(field):
    """(stream, filename, declared type) of an optional file field, or None when nothing was sent."""
    f = field.data
    if not f or not getattr(f, "filename", ""):
        return None
    return f.stream, f.filename, f.mimetype
