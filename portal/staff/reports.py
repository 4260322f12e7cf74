"""Reports for admins: the §7102 metrics, the §7101 records export, and consent statistics."""
import json

from flask import Response, abort, render_template, request, stream_with_context
from flask_login import current_user

from .. import clock, db, lifecycle
from ..services import audit
from ..services.cases import outcomes
from ..services.consent import choices, statistics
from ..services.records import annual_metrics
from . import bp
from .access import ADMIN, role_required
from .forms import RecordsForm


@bp.get("/metrics")
@db.reads_only
@role_required(ADMIN)
def metrics_page():
    """§7102 metrics for a calendar year, as a page, CSV or JSON; and the §7101 records export form."""
    year = request.args.get("year", type=int) or clock.today().year
    if not 2020 <= year <= clock.today().year:
        abort(404)
    result = annual_metrics.for_year(db.session(), year=year)
    fmt = request.args.get("format")
    if fmt == "csv":
        return _download(annual_metrics.metrics_csv(result), f"privacy-metrics-{year}.csv", "text/csv; charset=utf-8")
    if fmt == "json":
        return _download(json.dumps(result.as_dict(), indent=2), f"privacy-metrics-{year}.json", "application/json")
    return render_template("staff/metrics.html", result=result, year=year, this_year=clock.today().year,
                           records_form=RecordsForm(), bases=outcomes.outcome_bases(),
                           holidays=lifecycle.holiday_calendar(year))


@bp.get("/records.csv")
@db.reads_only
@role_required(ADMIN)
def records_export():
    """§7101 records for a date range, as CSV streamed in batches (flat memory whatever the range)."""
    form = RecordsForm(request.args)
    span = form.dates() if form.validate() else None
    if span is None:
        # A refusal stores nothing: months not stored yet are computed for this page only.
        result = annual_metrics.annual(db.session(), year=clock.today().year, store=False)
        return render_template("staff/metrics.html", result=result, year=result.year, this_year=result.year,
                               records_form=form, bases=outcomes.outcome_bases(),
                               holidays=lifecycle.holiday_calendar(result.year)), 422
    body = stream_with_context(annual_metrics.records_stream(start=span[0], end=span[1]))
    return _download(body, f"privacy-records-{span[0]}-{span[1]}.csv", "text/csv; charset=utf-8")


def _download(body, filename: str, mimetype: str) -> Response:
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@bp.get("/consent")
@db.reads_only
@role_required(ADMIN)
def consent_stats():
    """Consent by policy version and category: each visitor's latest choice counts once."""
    with db.read_session() as reader:  # a transaction of its own: the statistics read in batches (yield_per)
        stats = statistics.statistics(reader)
    return render_template("consent/staff_stats.html", stats=stats,
                           categories=[c for c in choices.categories() if not c.required])


@bp.get("/consent/export.csv")
@role_required(ADMIN)
def consent_export():
    """Every consent record as CSV, streamed; the export is written to the audit log first."""
    lines = statistics.export_csv(db.session(), actor=audit.staff_actor(current_user))
    return Response(stream_with_context(lines), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="consent-records.csv"', "Cache-Control": "no-store"})
