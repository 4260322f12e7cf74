"""The staff console: one blueprint. Routes in auth.py (sign-in, accounts), views.py (queue, cases),
inquiries.py (privacy inquiries) and consent_admin.py (consent statistics)."""
from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from . import access, auth, consent_admin, inquiries, recipients, views  # noqa: E402,F401  (user loader; routes on bp)
