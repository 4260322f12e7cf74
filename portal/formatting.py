"""Jinja filters: dates shown to people in California time, in their language."""
from datetime import date, datetime

from flask_babel import format_date, format_datetime, get_locale


def local_date(value: datetime | date | None) -> str:
    return format_date(value, "long") if value else ""


def local_datetime(value: datetime | None) -> str:
    return format_datetime(value, "medium") if value else ""


def machine_datetime(value: datetime) -> str:
    """A moment for HTML's datetime attribute, which allows at most milliseconds."""
    return value.isoformat(timespec="seconds")


def register(app):
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["TIMEZONE"])
    app.add_template_filter(local_date)
    app.add_template_filter(local_datetime)
    app.add_template_filter(machine_datetime)
    app.jinja_env.globals["get_locale"] = get_locale
