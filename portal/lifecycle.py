"""The rules of a request's life as data: types, statuses, allowed transitions and deadlines."""
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays
from flask import current_app, has_app_context

from .clock import PACIFIC, local_date  # noqa: F401  (the deadline rules count on this calendar)
from .i18n import lazy_gettext as _l


@dataclass(frozen=True)
class RequestType:
    code: str
    label: str  # what the requester picks
    summary: str  # one plain-language line on the home page
    needs_verification: bool
    response_days: int
    business_days: bool

    @property
    def extendable(self) -> bool:
        """§7021(b): the 45-day extension exists for know, delete and correct only; §7026(f) and
        §7027(g) give opt-out and limit requests 15 business days and no extension."""
        return self.needs_verification


REQUEST_TYPES = {t.code: t for t in (
    RequestType("access", _l("Know what we hold (access)"),
                _l("Find out what personal information we have about you, or get a copy of it."),
                True, 45, False),
    RequestType("delete", _l("Delete my information"),
                _l("Ask us to delete the personal information we hold about you."), True, 45, False),
    RequestType("correct", _l("Correct my information"),
                _l("Tell us about information that is wrong and what it should say."), True, 45, False),
    # §7060(b), §7027(e): opt-out and limit requests are never gated on verification.
    RequestType("opt_out", _l("Do not sell or share my information"),
                _l("Opt out of the sale or sharing of your personal information."), False, 15, True),
    RequestType("limit", _l("Limit the Use of My Sensitive Personal Information"),
                _l("Limit how we use and disclose your sensitive personal information."), False, 15, True),
)}

AWAITING_EMAIL = "awaiting_email"
VERIFYING = "verifying"
ON_HOLD = "on_hold"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
PARTIALLY_COMPLETED = "partially_completed"
DENIED = "denied"
WITHDRAWN = "withdrawn"
EXPIRED = "expired"

STATUS_LABELS = {
    AWAITING_EMAIL: _l("Waiting for email confirmation"),
    VERIFYING: _l("Verifying identity"),
    ON_HOLD: _l("On hold"),
    IN_PROGRESS: _l("In progress"),
    COMPLETED: _l("Completed"),
    PARTIALLY_COMPLETED: _l("Partially completed"),
    DENIED: _l("Denied"),
    WITHDRAWN: _l("Withdrawn"),
    EXPIRED: _l("Expired"),
}

# A requester may take a request back at any open status, until the response is sent (a final status).
TRANSITIONS: dict[str, frozenset[str]] = {
    # awaiting_email -> denied: never confirmed by the response due date, so unverifiable (§7021(b)).
    AWAITING_EMAIL: frozenset({VERIFYING, EXPIRED, WITHDRAWN, DENIED}),
    # Withdrawal at any open status until the response is sent; a Data Rights Protocol agent revokes
    # the same way (DRP §2.04).
    VERIFYING: frozenset({IN_PROGRESS, ON_HOLD, DENIED, WITHDRAWN}),
    # on_hold -> on_hold changes only the reason: an agent's authorization review waits for the
    # documents staff asked the agent for, and goes back to the review when they arrive.
    ON_HOLD: frozenset({VERIFYING, IN_PROGRESS, ON_HOLD, DENIED, WITHDRAWN}),
    IN_PROGRESS: frozenset({COMPLETED, PARTIALLY_COMPLETED, DENIED, WITHDRAWN}),
    COMPLETED: frozenset(),
    PARTIALLY_COMPLETED: frozenset(),
    DENIED: frozenset(),
    WITHDRAWN: frozenset(),
    EXPIRED: frozenset(),
}
FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN = frozenset(TRANSITIONS) - FINAL

HOLD_REASONS = {
    "agent_authorization": _l("Checking the agent's authorization"),
    "data_mismatch": _l("The details given do not match our records"),
    "high_certainty_required": _l("More proof of identity is needed"),
    "information_requested": _l("We asked you for more information"),
    "fraud_suspected": _l("Held for a security review"),
    "identity_conflict": _l("The proven email belongs to a different person in our records"),
}

# What the requester reads about a hold: never whether the records matched (enumeration-safe) nor
# that a fraud review is under way (no tip-off).
PUBLIC_HOLD_REASONS = {
    "agent_authorization": _l("Checking the agent's authorization"),
    "data_mismatch": _l("We need more details to confirm your identity"),
    "high_certainty_required": _l("We need more details to confirm your identity"),
    "information_requested": _l("We asked you for more information"),
    "fraud_suspected": _l("Being reviewed by our privacy team"),
    "identity_conflict": _l("Being reviewed by our privacy team"),
}

# The data points a request can match against the business's records (the identity index).
DATA_POINT_LABELS = {
    "email": _l("Email address"),
    "phone": _l("Phone number"),
    "name_dob": _l("Name and date of birth"),
    "date_of_birth": _l("Date of birth"),
    "claim_number": _l("Claim or account number"),
    "date_of_injury": _l("Date of injury"),
    "employer": _l("Employer"),
    "postal_code": _l("ZIP code"),
    "declaration": _l("Signed declaration"),
}

# How a request reached the business (§7101 records the manner of every request).
MANNERS = {"web": _l("Web form"), "phone": _l("Phone"), "mail": _l("Mail"), "email": _l("Email"),
           "drp": _l("Data Rights Protocol"), "client": _l("A client business, for data we hold for it"),
           "gpc": _l("Global Privacy Control signal")}
INTAKE_MANNERS = ("phone", "mail", "email")
# Staff intake (§1798.130(a)(1), §7021): how identity and intent were confirmed, and how receipt was acknowledged.
INTAKE_CONFIRMATIONS = {
    "phone": _l("By phone: the requester answered our questions and confirmed the request"),
    "letter": _l("By letter: the signed letter states who they are and what they ask"),
    "email": _l("By email: the requester's message states who they are and what they ask"),
}
ACKNOWLEDGEMENT_MEANS = {
    "orally": _l("Orally, during the call"),
    "letter": _l("By letter"),
    "email": _l("By email (sent now)"),
}

ACKNOWLEDGEMENT_BUSINESS_DAYS = 10
MAX_EXTENSION_DAYS = 45


class IllegalTransition(ValueError):
    """A status change the lifecycle does not allow."""


def initial_status(request_type: str) -> str:
    return AWAITING_EMAIL if REQUEST_TYPES[request_type].needs_verification else IN_PROGRESS


def check_transition(from_status: str, to_status: str, hold_reason: str | None = None) -> None:
    """Raise IllegalTransition unless the table allows from_status -> to_status."""
    if to_status not in TRANSITIONS.get(from_status, ()):
        raise IllegalTransition(f"a request cannot go from {from_status!r} to {to_status!r}")
    if (to_status == ON_HOLD) != (hold_reason is not None):
        raise IllegalTransition("a hold needs a hold reason, and only a hold has one")
    if hold_reason is not None and hold_reason not in HOLD_REASONS:
        raise IllegalTransition(f"unknown hold reason {hold_reason!r}")


def _adjustments() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """HOLIDAYS_EXTRA and HOLIDAYS_EXCLUDE from the app's configuration (none outside an app)."""
    if not has_app_context():
        return (), ()
    cfg = current_app.config
    return tuple(cfg.get("HOLIDAYS_EXTRA") or ()), tuple(cfg.get("HOLIDAYS_EXCLUDE") or ())


def _as_day(item: str, year: int) -> date | None:
    """"YYYY-MM-DD" (that date, if in `year`) or "MM-DD" (every year); None when it is a name."""
    item = item.strip()
    try:
        if len(item) == 10:
            return date.fromisoformat(item)
        if len(item) == 5 and item[2] == "-":
            return date.fromisoformat(f"{year}-{item}")
    except ValueError:
        return None
    return None


def _named(calendar, name: str) -> list[date]:
    wanted = name.strip().lower()
    return [d for d, names in calendar.items() if wanted in (n.strip().lower() for n in names.split(";"))]


@lru_cache(maxsize=256)
def _calendar(year: int, extra: tuple[str, ...], exclude: tuple[str, ...]) -> tuple[tuple[date, str], ...]:
    base = holidays.country_holidays("US", subdiv="CA", years=year)
    days = dict(base.items())
    federal = holidays.country_holidays("US", years=year)
    for item in extra:
        day = _as_day(item, year)
        if day is not None:
            if day.year == year:
                days.setdefault(day, "Added by configuration (HOLIDAYS_EXTRA)")
        else:
            for d in _named(federal, item):
                days[d] = federal[d]
    for item in exclude:
        day = _as_day(item, year)
        for d in ([day] if day is not None else _named(base, item)):
            days.pop(d, None)
    return tuple(sorted(days.items()))


def holiday_calendar(year: int) -> list[tuple[date, str]]:
    """The holidays business days skip in `year`: California's state holidays as the `holidays`
    package defines them, plus HOLIDAYS_EXTRA, minus HOLIDAYS_EXCLUDE (dates, "MM-DD" every year,
    or holiday names; extra names come from the US federal calendar)."""
    return list(_calendar(year, *_adjustments()))


@lru_cache(maxsize=256)
def _holiday_days(year: int, extra: tuple[str, ...], exclude: tuple[str, ...]) -> frozenset[date]:
    return frozenset(d for d, _name in _calendar(year, extra, exclude))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holiday_days(day.year, *_adjustments())


def add_business_days(start: date, count: int) -> date:
    """The date `count` business days after `start` (weekends and California holidays skipped)."""
    day = start
    while count > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day


def acknowledgement_due(received_at: datetime) -> date:
    """§7021(a): confirm receipt within 10 business days."""
    return add_business_days(local_date(received_at), ACKNOWLEDGEMENT_BUSINESS_DAYS)


def response_due(request_type: str, received_at: datetime) -> date:
    """§7021(b) 45 calendar days; §7026(f), §7027(g) 15 business days. Counted from receipt."""
    rule = REQUEST_TYPES[request_type]
    received = local_date(received_at)
    if rule.business_days:
        return add_business_days(received, rule.response_days)
    return received + timedelta(days=rule.response_days)


def extension_allowed(*, request_type: str, status: str, response_due: date, extended_due: date | None,
                      today: date) -> bool:
    """§7021(b): one extension of a know, delete or correct request, while the case is open and
    before the original due date passes. Never for opt-out or limit (§7026(f), §7027(g))."""
    return (REQUEST_TYPES[request_type].extendable and status in OPEN and extended_due is None
            and today <= response_due)


def extended_due(response_due: date, days: int) -> date:
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise IllegalTransition(f"an extension is 1 to {MAX_EXTENSION_DAYS} days")
    return response_due + timedelta(days=days)


# Privacy inquiries (questions, BAA/HIPAA, security concerns, a child's information) have a short life
# of their own. The privacy policy promises an answer within 5 business days.
INQUIRY_KINDS = {
    "question": _l("A question about privacy or how we use information"),
    "baa": _l("A Business Associate Agreement (BAA) or a HIPAA question"),
    "security": _l("A security concern: a compromised account or a vulnerability"),
    "child": _l("A child's information that we may hold"),
    "other": _l("Something else"),
}
INQUIRY_OPEN, INQUIRY_ANSWERED, INQUIRY_CLOSED = "open", "answered", "closed"
INQUIRY_STATUS_LABELS = {
    INQUIRY_OPEN: _l("Open"), INQUIRY_ANSWERED: _l("Answered"), INQUIRY_CLOSED: _l("Closed"),
}
INQUIRY_TRANSITIONS: dict[str, frozenset[str]] = {
    INQUIRY_OPEN: frozenset({INQUIRY_ANSWERED, INQUIRY_CLOSED}),
    INQUIRY_ANSWERED: frozenset({INQUIRY_OPEN, INQUIRY_CLOSED}),  # a follow-up reopens it
    INQUIRY_CLOSED: frozenset(),
}
INQUIRY_RESPONSE_BUSINESS_DAYS = 5
URGENT_INQUIRY_KINDS = frozenset({"security"})


def check_inquiry_transition(from_status: str, to_status: str) -> None:
    if to_status not in INQUIRY_TRANSITIONS.get(from_status, ()):
        raise IllegalTransition(f"an inquiry cannot go from {from_status!r} to {to_status!r}")


def inquiry_due(received_at: datetime) -> date:
    """The answer the privacy policy promises: 5 business days, California holidays excluded."""
    return add_business_days(local_date(received_at), INQUIRY_RESPONSE_BUSINESS_DAYS)
