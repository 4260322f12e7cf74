"""The lifecycle rules and deadlines, without HTTP."""
from datetime import date, datetime, timezone

import pytest

from portal import lifecycle
from portal.lifecycle import IllegalTransition


def at_pacific_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 20, 0, tzinfo=timezone.utc)  # 12:00 PST / 13:00 PDT


@pytest.mark.parametrize(("start", "count", "expected"), [
    (date(2026, 11, 20), 10, date(2026, 12, 8)),   # Thanksgiving Thursday and Friday skipped
    (date(2026, 12, 22), 3, date(2026, 12, 28)),   # Christmas Friday skipped
    (date(2026, 3, 27), 2, date(2026, 4, 1)),      # Cesar Chavez Day (Tue 31 March) skipped
    (date(2026, 1, 30), 1, date(2026, 2, 2)),      # month end over a weekend
    (date(2027, 12, 30), 2, date(2028, 1, 4)),     # New Year's Eve observed (Fri) and the weekend
])
def test_business_days_skip_weekends_and_california_holidays(start, count, expected):
    assert lifecycle.add_business_days(start, count) == expected


def test_acknowledgement_is_ten_business_days_from_receipt():
    received = at_pacific_noon(date(2026, 11, 20))
    assert lifecycle.acknowledgement_due(received) == date(2026, 12, 8)


@pytest.mark.parametrize("kind", ["access", "delete", "correct"])
def test_know_delete_correct_are_due_in_45_calendar_days(kind):
    assert lifecycle.response_due(kind, at_pacific_noon(date(2026, 1, 20))) == date(2026, 3, 6)
    # Across a month end and a leap-year February.
    assert lifecycle.response_due(kind, at_pacific_noon(date(2028, 1, 31))) == date(2028, 3, 16)


@pytest.mark.parametrize("kind", ["opt_out", "limit"])
def test_opt_out_and_limit_are_due_in_15_business_days(kind):
    # From Friday 13 November 2026: Veterans Day is behind; Thanksgiving Thu+Fri are skipped.
    assert lifecycle.response_due(kind, at_pacific_noon(date(2026, 11, 13))) == date(2026, 12, 8)


def test_the_clock_uses_the_california_date():
    # 02:00 UTC on 1 March is still 28 February in California.
    late_evening = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
    assert lifecycle.local_date(late_evening) == date(2026, 2, 28)
    assert lifecycle.response_due("access", late_evening) == date(2026, 4, 14)


@pytest.mark.parametrize(("src", "dst"), [
    ("awaiting_email", "verifying"), ("awaiting_email", "expired"), ("awaiting_email", "withdrawn"),
    ("verifying", "in_progress"), ("verifying", "denied"), ("on_hold", "verifying"),
    ("on_hold", "withdrawn"), ("in_progress", "completed"), ("in_progress", "partially_completed"),
    ("verifying", "withdrawn"), ("in_progress", "withdrawn"),  # withdrawn at any open status
])
def test_allowed_transitions(src, dst):
    lifecycle.check_transition(src, dst)


@pytest.mark.parametrize(("src", "dst"), [
    ("awaiting_email", "in_progress"), ("awaiting_email", "completed"), ("completed", "withdrawn"),
    ("in_progress", "verifying"), ("completed", "in_progress"), ("denied", "completed"),
    ("withdrawn", "verifying"), ("expired", "verifying"), ("verifying", "nonsense"),
])
def test_illegal_transitions_are_refused_with_a_clear_error(src, dst):
    with pytest.raises(IllegalTransition, match=f"cannot go from '{src}' to '{dst}'"):
        lifecycle.check_transition(src, dst)


def test_a_hold_needs_a_known_reason():
    lifecycle.check_transition("verifying", "on_hold", "data_mismatch")
    with pytest.raises(IllegalTransition):
        lifecycle.check_transition("verifying", "on_hold")
    with pytest.raises(IllegalTransition):
        lifecycle.check_transition("verifying", "on_hold", "because")
    with pytest.raises(IllegalTransition):
        lifecycle.check_transition("verifying", "in_progress", "data_mismatch")


def test_a_requester_can_withdraw_at_every_open_status_until_the_response_is_sent():
    assert all("withdrawn" in lifecycle.TRANSITIONS[s] for s in lifecycle.OPEN)
    assert not any("withdrawn" in lifecycle.TRANSITIONS[s] for s in lifecycle.FINAL)


def test_final_statuses_have_no_way_out():
    assert lifecycle.FINAL == {"completed", "partially_completed", "denied", "withdrawn", "expired"}
    assert all(status in lifecycle.STATUS_LABELS for status in lifecycle.TRANSITIONS)


def test_opt_out_and_limit_start_in_progress():
    assert lifecycle.initial_status("opt_out") == lifecycle.initial_status("limit") == "in_progress"
    assert {lifecycle.initial_status(k) for k in ("access", "delete", "correct")} == {"awaiting_email"}


@pytest.mark.parametrize(("today", "extended", "status", "allowed"), [
    (date(2026, 3, 5), None, "verifying", True),
    (date(2026, 3, 6), None, "in_progress", True),       # on the due date itself
    (date(2026, 3, 7), None, "in_progress", False),      # the day after: too late
    (date(2026, 3, 1), date(2026, 4, 1), "in_progress", False),  # only once
    (date(2026, 3, 1), None, "completed", False),        # closed
])
def test_extension_rules(today, extended, status, allowed):
    assert lifecycle.extension_allowed(request_type="access", status=status, response_due=date(2026, 3, 6), extended_due=extended,
                                       today=today) is allowed


@pytest.mark.parametrize("kind", ["opt_out", "limit"])
def test_no_extension_for_opt_out_or_limit(kind):
    """§7026(f), §7027(g): 15 business days, no extension, whatever the status or date."""
    for status in ("in_progress", "on_hold"):
        assert lifecycle.extension_allowed(request_type=kind, status=status, response_due=date(2026, 3, 6),
                                           extended_due=None, today=date(2026, 3, 1)) is False


@pytest.mark.parametrize("days", [0, 46, -1])
def test_extension_is_one_to_45_days(days):
    with pytest.raises(IllegalTransition):
        lifecycle.extended_due(date(2026, 3, 6), days)
    assert lifecycle.extended_due(date(2026, 3, 6), 45) == date(2026, 4, 20)


def test_the_holiday_calendar_is_adjusted_by_configuration(app, session):
    """HOLIDAYS_EXTRA / HOLIDAYS_EXCLUDE: dates, yearly dates or names; business days follow."""
    default = dict(lifecycle.holiday_calendar(2026))
    assert default[date(2026, 3, 31)] == "Cesar Chavez Day" and date(2026, 11, 8) in default  # Diwali
    assert not lifecycle.is_business_day(date(2026, 3, 31))
    app.config["HOLIDAYS_EXTRA"] = ["2026-12-24", "Columbus Day"]
    app.config["HOLIDAYS_EXCLUDE"] = ["Cesar Chavez Day", "11-27"]
    adjusted = dict(lifecycle.holiday_calendar(2026))
    assert date(2026, 12, 24) in adjusted and adjusted[date(2026, 10, 12)] == "Columbus Day"
    assert date(2026, 3, 31) not in adjusted and date(2026, 11, 27) not in adjusted
    assert lifecycle.is_business_day(date(2026, 3, 31)) and not lifecycle.is_business_day(date(2026, 12, 24))
    # 15 business days from Monday 21 December: the 24th and 25th and 1 January are skipped.
    assert lifecycle.add_business_days(date(2026, 12, 21), 15) == date(2027, 1, 14)
