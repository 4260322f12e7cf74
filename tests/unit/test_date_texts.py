"""The kept date and time texts (formatting._date_text, _time_text) read exactly as Flask-Babel
formats them, in each language, at the moments that break dates: a kept text is never another
language's, another zone's or another minute's."""
from datetime import datetime, timedelta

import pytest
from flask_babel import force_locale, format_date, format_time

from portal import clock, formatting

from ..moments import EDGE_MOMENTS


def _babel_date(value) -> str:
    return format_date(clock.local_date(value) if isinstance(value, datetime) else value, "long")


def _babel_datetime(value: datetime) -> str:
    local = clock.local_datetime(value)
    return f"{format_date(local.date(), 'medium')}, {format_time(local, 'short', rebase=False)} {local.tzname()}"


@pytest.mark.parametrize("language", ["en", "es"])
def test_kept_texts_read_as_babel_formats_them(app, language):
    moments = [datetime.fromisoformat(iso) + timedelta(seconds=step)
               for iso, *_dates in EDGE_MOMENTS.values() for step in (-61, -1, 0, 59, 3600)]
    with app.test_request_context("/"), force_locale(language):
        for _ in range(2):  # the second pass reads the kept texts
            for moment in moments:
                assert formatting.local_datetime(moment) == _babel_datetime(moment), moment
                assert formatting.local_date(moment) == _babel_date(moment), moment
                assert formatting.local_date(moment.date()) == _babel_date(moment.date()), moment


def test_the_same_minute_keeps_its_zone_and_language(app):
    first, second = (datetime.fromisoformat("2026-11-01T01:30:00-07:00"),
                     datetime.fromisoformat("2026-11-01T01:30:00-08:00"))
    with app.test_request_context("/"):
        with force_locale("en"):
            assert formatting.local_datetime(first) == "Nov 1, 2026, 1:30\u202fAM PDT"
            assert formatting.local_datetime(second) == "Nov 1, 2026, 1:30\u202fAM PST"
            assert formatting.local_date(first) == "November 1, 2026"
        with force_locale("es"):
            assert formatting.local_date(first) == "1 de noviembre de 2026"
            assert formatting.local_datetime(second).endswith(" PST") and "nov" in formatting.local_datetime(second)
