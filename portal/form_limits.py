"""Rate limits on the forms that make a request (the requester's and the agent's), with Flask-Limiter.

What counts is an accepted submission (the form answered 303), per network address and per email
address, so that someone fixing a typo is never counted, and a shared office (a clinic desk where
patients use one computer, an agent firm behind one address) is not locked out by ordinary use:
RATELIMIT_REQUEST_ADDRESS allows 60 accepted requests an hour from one address, RATELIMIT_REQUEST_EMAIL
5 an hour for one email (the requester's, or for an agent one consumer of that agent). Every POST,
accepted or not, counts only against RATELIMIT_FORM_POSTS, a flood guard far above a busy desk's use.
When a limit is reached, the form comes back (429) with what was typed, how long to wait, and the
other ways to make a request (phone, toll-free number, email)."""
import math
from collections.abc import Callable
from datetime import timedelta

from flask import make_response, request
from flask_babel import format_timedelta
from flask_limiter import RequestLimit

from . import clock, normalize
from .extensions import configured_limit, limiter


def _accepted(response) -> bool:
    return response.status_code == 303


def wait_words(seconds: float) -> str:
    """How long to wait, in the page's language ("12 minutes", "1 hour")."""
    minutes = max(1, math.ceil(seconds / 60))
    granularity = "minute" if minutes < 120 else "hour"
    return format_timedelta(timedelta(minutes=minutes), granularity=granularity, threshold=2.5, add_direction=False)


def email_key(*fields: str) -> Callable[[], str]:
    """A limit key from the posted form's fields (an email address first): the same person however
    they type the address's case."""
    def key() -> str:
        values = [normalize.email(request.form.get(f)) if i == 0 else normalize.fold(request.form.get(f))
                  for i, f in enumerate(fields)]
        return "form:" + "|".join(values) if values[0] else "form:-"
    return key


def limit_submissions(*, email: Callable[[], str], limited: Callable[[str], object]):
    """Decorate a form's view: accepted submissions limited per address and per email, every POST by
    the flood guard; `limited(wait_words)` renders the form again, as typed, when one is reached."""
    def on_breach(request_limit: RequestLimit):
        seconds = max(0.0, request_limit.reset_at - clock.timestamp())
        response = make_response(limited(wait_words(seconds)))
        response.status_code = 429
        response.headers["Retry-After"] = str(int(math.ceil(seconds)))
        return response

    def decorate(view):
        view = limiter.limit(configured_limit("RATELIMIT_REQUEST_EMAIL"), key_func=email, methods=["POST"],
                             deduct_when=_accepted, on_breach=on_breach, scope="accepted-per-email")(view)
        view = limiter.limit(configured_limit("RATELIMIT_REQUEST_ADDRESS"), methods=["POST"], deduct_when=_accepted,
                             on_breach=on_breach, scope="accepted-per-address")(view)
        return limiter.limit(configured_limit("RATELIMIT_FORM_POSTS"), methods=["POST"], on_breach=on_breach,
                             scope="form-posts")(view)
    return decorate

