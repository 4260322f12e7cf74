"""The staff console: one blueprint, routes in auth.py (sign-in, accounts) and views.py (queue, cases)."""
from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from . import auth, views  # noqa: E402,F401  (register the routes on bp)
