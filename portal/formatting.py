"""Jinja filters: dates and times shown to people, in California time and in their language."""
from datetime import date, datetime, time
from functools import lru_cache

from babel import dates as babel_dates
from flask_babel import gettext as _

from . import clock, lifecycle
from .i18n import current_locale, default_language
from .services.cases import agents
from .services.staff import accounts


# A date or a clock time in a language and width is always the same text: the texts are kept
# (a few thousand at most: a queue page shows fifty cases' dates, a day has 1,440 minutes).
@lru_cache(maxsize=4096)
def _date_text(day: date, width: str, locale: str) -> str:
    return babel_dates.format_date(day, width, locale=locale)


@lru_cache(maxsize=4096)
def _time_text(moment: time, width: str, locale: str) -> str:
    return babel_dates.format_time(moment, width, locale=locale)


def _language() -> str:
    return str(current_locale() or default_language())


def local_date(value: datetime | date | None) -> str:
    """"November 29, 2026": a moment's California date, or a calendar date as it is."""
    if not value:
        return ""
    if isinstance(value, datetime):
        value = clock.local_date(value)
    return _date_text(value, "long", _language())


def local_datetime(value: datetime | None) -> str:
    """"Nov 29, 2026, 9:01 PM PST": a moment in California time, with its zone."""
    if not value:
        return ""
    local = clock.local_datetime(value)
    locale = _language()
    minute = time(local.hour, local.minute)  # the short time shows no seconds and no zone
    return f"{_date_text(local.date(), 'medium', locale)}, {_time_text(minute, 'short', locale)} {local.tzname()}"


def _label(table: dict, value):
    """The label of a code, or the code itself when the table does not know it."""
    return table.get(value, value) if value else ""


LABEL_FILTERS = {
    "status_label": lambda code: _label(lifecycle.STATUS_LABELS, code),
    "hold_reason_label": lambda code: _label(lifecycle.HOLD_REASONS, code),
    "public_hold_label": lambda code: _label(lifecycle.PUBLIC_HOLD_REASONS, code),
    "data_point_label": lambda code: _label(lifecycle.DATA_POINT_LABELS, code),
    "request_type_label": lambda code: lifecycle.REQUEST_TYPES[code].label if code in lifecycle.REQUEST_TYPES else code,
    "manner_label": lambda code: _label(lifecycle.MANNERS, code),
    "inquiry_kind_label": lambda code: _label(lifecycle.INQUIRY_KINDS, code),
    "inquiry_status_label": lambda code: _label(lifecycle.INQUIRY_STATUS_LABELS, code),
    "agent_kind_label": lambda code: _label(agents.AGENT_KINDS, code),
    "authorization_kind_label": lambda code: _label(agents.AUTHORIZATION_KINDS, code),
    "consumer_state_label": lambda code: _label(agents.CONSUMER_STATES, code),
    "role_label": lambda code: _label(accounts.ROLE_LABELS, code),
}


FILE_FORMAT_ORDER = ("json", "csv", "pdf")


def file_formats(kinds) -> str:
    """The response files' formats in words, only those there are ("a JSON file", "JSON and CSV files")."""
    names = [k.upper() for k in sorted(kinds, key=lambda k: (FILE_FORMAT_ORDER + (k,)).index(k))]
    if len(names) == 1:
        return _("a %(kind)s file", kind=names[0])
    return _("%(kinds)s and %(last)s files", kinds=", ".join(names[:-1]), last=names[-1])


def machine_datetime(value: datetime) -> str:
    """A moment for HTML's datetime attribute, which allows at most milliseconds."""
    return value.isoformat(timespec="seconds")


def register(app):
    app.add_template_filter(local_date)
    app.add_template_filter(local_datetime)
    for name, label in LABEL_FILTERS.items():
        app.add_template_filter(label, name)
    app.add_template_filter(machine_datetime)
    app.add_template_filter(file_formats)
    app.jinja_env.globals["get_locale"] = current_locale
