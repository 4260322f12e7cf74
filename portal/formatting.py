"""Jinja filters: dates and times shown to people, in California time and in their language."""
from datetime import date, datetime

from flask_babel import format_date, format_time, get_locale

from . import clock


def local_date(value: datetime | date | None) -> str:
    """"November 29, 2026": a moment's California date, or a calendar date as it is."""
    if not value:
        return ""
    if isinstance(value, datetime):
        value = clock.local_date(value)
    return format_date(value, "long")


def local_datetime(value: datetime | None) -> str:
    """"Nov 29, 2026, 9:01 PM PST": a moment in California time, with its zone."""
    if not value:
        return ""
    local = clock.local_datetime(value)
    return f"{format_date(local.date(), 'medium')}, {format_time(local, 'short', rebase=False)} {local.tzname()}"


def register(app):
    app.add_template_filter(local_date)
    app.add_template_filter(local_datetime)
    app.jinja_env.globals["get_locale"] = get_locale
