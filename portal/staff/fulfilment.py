"""The plan on the case page (recording an item's outcome) and the read-only page of the data map."""
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from .. import db
from ..lifecycle import IllegalTransition
from ..services.fulfilment import answers, console
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
