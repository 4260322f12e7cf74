"""The staff console: one blueprint. Routes in auth.py (sign-in, accounts), views.py (queue, cases),
inquiries.py (privacy inquiries), consent_admin.py (consent statistics) and outbox_admin.py
(undelivered mail)."""
from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")

from . import access, auth, consent_admin, inquiries, outbox_admin, views  # noqa: E402,F401  (user loader; routes on bp)
