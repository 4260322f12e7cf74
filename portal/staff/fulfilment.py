"""The plan on the case page (recording an item's outcome, approving an erasure, retrying a failed run,
reviewing the access package) and the read-only page of the data map."""
from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import db
from ..forms import EmptyForm
from ..lifecycle import IllegalTransition
from ..services.fulfilment import access_package, answers, approvals, console, corrections
from ..services.fulfilment.connectors import package, printed
from ..services.fulfilment.plan import configured_map
from . import bp
from .access import ADMIN, CASE_WORKERS, SUPPORT, role_required
from .plan_forms import item_form
from .views import _case_or_404, _render_case


@bp.post("/requests/<reference>/plan/<int:item_id>")
@role_required(*CASE_WORKERS)
def record_item(reference, item_id):
    """Record a staff task's or an automatic item's outcome and evidence."""
    req = _case_or_404(reference)
    form = item_form(item_id, submitted=True)
    if not form.validate_on_submit():
        return _render_case(req, plan_forms={item_id: form}, status=422)
    try:
        answers.record(db.session(), req=req, item_id=item_id, staff=current_user, state=form.state.data,
                       note=form.note.data, evidence=form.evidence.data)
    except LookupError:
        abort(404)
    except (answers.AnswerRefused, IllegalTransition) as exc:
        target = form[exc.field] if getattr(exc, "field", None) in form else form.state
        target.errors = [*target.errors, str(getattr(exc, "message", exc))]
        return _render_case(req, plan_forms={item_id: form}, status=422)
    flash("The item's outcome is recorded.")
    return redirect(url_for(".case", reference=req.reference, _anchor=f"item-{item_id}"), 303)


@bp.get("/datamap")
@db.reads_only
@role_required(ADMIN, SUPPORT)
def datamap_page():
    """The data map, read-only: systems, collections and fields, rules and bases, the check's findings."""
    return render_template("staff/datamap.html", page=console.map_page(), connection_kind=console.connection_kind)


@bp.post("/requests/<reference>/plan/<int:item_id>/approve")
@role_required(ADMIN)
def approve_item(reference, item_id):
    """An admin approves an item's previewed erasure or correction (two different people for health data)."""
    req = _case_or_404(reference)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        approvals.approve(db.session(), req=req, staff=current_user, item_id=item_id)
    except LookupError:
        abort(404)
    except approvals.ApprovalRefused as exc:
        flash(str(exc))
        return redirect(url_for(".case", reference=req.reference, _anchor=f"item-{item_id}"), 303)
    flash("Your approval is recorded.")
    return redirect(url_for(".case", reference=req.reference, _anchor=f"item-{item_id}"), 303)


@bp.post("/requests/<reference>/plan/<int:item_id>/retry")
@role_required(*CASE_WORKERS)
def retry_item(reference, item_id):
    """Run a failed automatic item again (an erasure is previewed and approved again)."""
    req = _case_or_404(reference)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        approvals.retry(db.session(), req=req, staff=current_user, item_id=item_id)
    except LookupError:
        abort(404)
    except approvals.ApprovalRefused as exc:
        flash(str(exc))
    return redirect(url_for(".case", reference=req.reference, _anchor=f"item-{item_id}"), 303)


@bp.post("/requests/<reference>/plan/<int:item_id>/correct")
@role_required(*CASE_WORKERS)
def choose_correction(reference, item_id):
    """Staff choose a correction's fields and corrected values; the connector previews it for approval."""
    req = _case_or_404(reference)
    if not EmptyForm().validate_on_submit():
        abort(400)
    values = {k[6:]: v for k, v in request.form.items() if k.startswith("value-")}
    refer = [k[6:] for k in request.form if k.startswith("refer-")]
    try:
        corrections.choose(db.session(), req=req, staff=current_user, item_id=item_id, values=values, refer=refer)
    except LookupError:
        abort(404)
    except approvals.ApprovalRefused as exc:
        flash(str(exc))
    else:
        flash(_("The correction is chosen: it is previewed next, then approved by an admin."))
    return redirect(url_for(".case", reference=req.reference, _anchor=f"item-{item_id}"), 303)


PACKAGE_FORMATS = {"json": "application/json", "html": "text/html; charset=utf-8", "zip": "application/zip",
                   "pdf": "application/pdf"}


@bp.get("/requests/<reference>/access-package.<fmt>")
@db.reads_only
@role_required(*CASE_WORKERS)
def access_package_file(reference, fmt):
    """The access package for staff to review before releasing it: JSON, the HTML report, the CSV zip;
    and the PDF printed for a requester without an email address (after the disclosure scan again)."""
    if fmt not in PACKAGE_FORMATS:
        abort(404)
    req = _case_or_404(reference)
    data = access_package.read(db.session(), req)
    if data is None:
        abort(404)
    if fmt == "pdf":
        data = printed.access_response_pdf(req, data)
    elif fmt != "json":
        csv_zip, html = package.files_from_json(data, datamap=configured_map(), language=req.language)
        data = csv_zip if fmt == "zip" else html
    resp = make_response(data)
    resp.headers["Content-Type"] = PACKAGE_FORMATS[fmt]
    resp.headers["Content-Disposition"] = f'attachment; filename="{req.reference}-access-package.{fmt}"'
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return resp
