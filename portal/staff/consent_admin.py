"""Consent statistics and the CSV export of consent records, for admins."""
from flask import Response, render_template, stream_with_context
from flask_login import current_user

from .. import db
from ..services import consent as consent_service
from . import bp
from .access import ADMIN, role_required


@bp.get("/consent")
@role_required(ADMIN)
def consent_stats():
    """Consent by policy version and category: each visitor's latest choice counts once."""
    return render_template("consent/staff_stats.html", stats=consent_service.statistics(db.session()),
                           categories=[c for c in consent_service.categories() if not c.required])


@bp.get("/consent/export.csv")
@role_required(ADMIN)
def consent_export():
    """Every consent record as CSV, streamed; the export is written to the audit log first."""
    lines = consent_service.export_csv(db.session(), actor=f"staff:{current_user.id}")
    return Response(stream_with_context(lines), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="consent-records.csv"', "Cache-Control": "no-store"})
