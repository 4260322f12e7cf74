"""§7021(a): sending, from the queue's list, the acknowledgement a case is owed and never had."""
from flask import abort, flash, redirect, url_for
from flask_login import current_user

from .. import db
from ..forms import EmptyForm
from ..lifecycle import IllegalTransition
from ..services.cases import casework, submission
from . import bp
from .access import CASE_WORKERS, role_required


@bp.post("/requests/<reference>/acknowledge")
@role_required(*CASE_WORKERS)
def send_acknowledgement(reference):
    """Send the case's acknowledgement now (a fresh confirmation link while its email is unconfirmed)."""
    req = submission.get_by_reference(db.session(), reference)
    if req is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        casework.send_acknowledgement(db.session(), req=req, staff=current_user)
    except IllegalTransition as exc:
        flash(str(exc), "error")
    else:
        flash(f"Acknowledgement sent for {reference}.")
    return redirect(url_for(".queue"), 303)
