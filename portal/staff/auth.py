"""Sign-in, sign-out, TOTP enrolment and staff account administration."""
from . import bp  # noqa: F401
