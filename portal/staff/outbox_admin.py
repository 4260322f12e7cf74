"""The outbox as admins see it: how much mail waits, and each message that could not be delivered."""
from flask import render_template

from .. import db
from ..services.delivery import mail
from . import bp
from .access import ADMIN, role_required


@bp.get("/admin/outbox")
@db.reads_only
@role_required(ADMIN)
def admin_outbox():
    """Pending, sent and failed counts; the failed messages with their errors (the bodies are gone)."""
    return render_template("staff/admin_outbox.html", outbox=mail.overview(db.session()))
