"""Requester pages: choose a right, submit, confirm by email, track status. One blueprint, its
routes in one module per family of pages:

- `pages`: home, the health check, the privacy policy, the published metrics, security.txt
- `request_form`: the request form, its fields and inline validation, the page after sending, and
  the emailed link that confirms the email address
- `status`: the status link, and the requester's case page with its actions and response files
- `inquiries`: a new inquiry, the page after sending, the sender's follow-up
- `access`: the status session a confirmed email or status link opens, and the checks on it
"""
from flask import Blueprint, Flask

bp = Blueprint("public", __name__)


def register(app: Flask) -> None:
    """Attach every route module of the requester pages to the blueprint, then the blueprint to the app."""
    from . import inquiries, pages, request_form, status  # noqa: F401  (routes on bp)
    app.register_blueprint(bp)
