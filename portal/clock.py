"""The one clock: every reading of the time in the portal goes through here, so tests can move it."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


def now() -> datetime:
    """The current moment, aware, in UTC (what is stored)."""
    return datetime.now(timezone.utc)


def today() -> date:
    """Today's date in California, the calendar that every deadline counts on."""
    return local_date(now())


def local_date(moment: datetime) -> date:
    """The California calendar date of a moment (naive moments are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(PACIFIC).date()


def local_datetime(moment: datetime) -> datetime:
    """A moment in California time (naive moments are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(PACIFIC)


def timestamp() -> float:
    """The current moment in seconds since the epoch, for timestamps kept in cookies and sessions."""
    return now().timestamp()
