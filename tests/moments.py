"""Fixed moments at which dates break: each with the California dates the lifecycle must give.

(moment, California date received, acknowledgement due, opt-out/limit due, know/delete/correct due)
"""
from datetime import date, datetime

EDGE_MOMENTS = {
    # A Sunday evening in California, Monday in UTC, after Thanksgiving and its Friday.
    "ca_evening_after_utc_midnight": ("2026-11-29T21:01:13-08:00", date(2026, 11, 29), date(2026, 12, 11),
                                      date(2026, 12, 18), date(2027, 1, 13)),
    # The same in daylight saving time, before the Independence Day weekend (3 July is observed).
    "ca_summer_evening": ("2026-07-02T19:30:00-07:00", date(2026, 7, 2), date(2026, 7, 17),
                          date(2026, 7, 24), date(2026, 8, 16)),
    # The night the clocks go forward (2:00 PST becomes 3:00 PDT), one minute either side.
    "before_spring_forward": ("2026-03-08T01:59:00-08:00", date(2026, 3, 8), date(2026, 3, 20),
                              date(2026, 3, 27), date(2026, 4, 22)),
    "after_spring_forward": ("2026-03-08T03:00:00-07:00", date(2026, 3, 8), date(2026, 3, 20),
                             date(2026, 3, 27), date(2026, 4, 22)),
    # The night the clocks go back: 1:30 happens twice.
    "fall_back_first_1_30": ("2026-11-01T01:30:00-07:00", date(2026, 11, 1), date(2026, 11, 16),
                             date(2026, 11, 23), date(2026, 12, 16)),
    "fall_back_second_1_30": ("2026-11-01T01:30:00-08:00", date(2026, 11, 1), date(2026, 11, 16),
                              date(2026, 11, 23), date(2026, 12, 16)),
    # The evening before Thanksgiving (and its Friday) and before Christmas, after UTC midnight.
    "thanksgiving_eve": ("2026-11-25T21:30:00-08:00", date(2026, 11, 25), date(2026, 12, 11),
                         date(2026, 12, 18), date(2027, 1, 9)),
    "christmas_eve": ("2026-12-24T20:00:00-08:00", date(2026, 12, 24), date(2027, 1, 11),
                      date(2027, 1, 19), date(2027, 2, 7)),
    # The last half hour of the year in California: already 1 January in UTC.
    "new_years_eve": ("2026-12-31T23:30:00-08:00", date(2026, 12, 31), date(2027, 1, 15),
                      date(2027, 1, 25), date(2027, 2, 14)),
    # A leap day evening: 1 March in UTC.
    "leap_day_evening": ("2028-02-29T18:00:00-08:00", date(2028, 2, 29), date(2028, 3, 14),
                         date(2028, 3, 21), date(2028, 4, 14)),
}


def moment(name: str) -> datetime:
    return datetime.fromisoformat(EDGE_MOMENTS[name][0])
