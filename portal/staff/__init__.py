"""The staff console: one blueprint, routes in auth.py (sign-in, accounts) and views.py (queue, cases)."""
from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from . import access, auth, consent_admin, views  # noqa: E402,F401  (user loader; routes on bp)
