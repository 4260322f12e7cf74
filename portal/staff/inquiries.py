"""Privacy inquiries in the console: the list beside the queue, one inquiry, answer and close."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock, db
from ..lifecycle import IllegalTransition
from ..services import audit
from ..services.cases import inquiries, references
from ..services.cases.transitions import StaleCase
from ..web import send_document
from . import bp
from .access import CASE_WORKERS, ROLES, role_required
from .forms import InquiryAnswerForm, InquiryCloseForm, InquiryFilterForm


@bp.get("/inquiries")
@db.reads_only
@role_required(*ROLES)
def inquiry_list():
    """Inquiries, urgent first, then by the date an answer is due."""
    form = InquiryFilterForm(request.args)
    rows = inquiries.listing(db.session(), status=form.status.data or "open_or_answered", kind=form.kind.data or "")
    today = clock.today()
    rows = [(item, inquiries.is_late(item, today)) for item in rows]
    return render_template("staff/inquiries.html", form=form, rows=rows)


def _inquiry_or_404(reference: str):
    ref = references.normalize(reference)
    inquiry = inquiries.get_by_reference(db.session(), ref) if ref else None
    if inquiry is None:
        abort(404)
    return inquiry


def _render(inquiry, *, answer_form=None, status=200):
    s = db.session()
    can_act = current_user.role in CASE_WORKERS and inquiry.status != "closed"
    return render_template(
        "staff/inquiry.html", inquiry=inquiry, messages=inquiries.messages(s, inquiry),
        events=inquiries.events(s, inquiry), linked=inquiries.linked_request(s, inquiry), can_act=can_act,
        answer_form=answer_form or InquiryAnswerForm(prefix="answer", formdata=None, version=inquiry.version),
        close_form=InquiryCloseForm(prefix="close", formdata=None, version=inquiry.version)), status


@bp.get("/inquiries/<reference>")
@db.reads_only
@role_required(*ROLES)
def inquiry(reference):
    """One inquiry: the message, the conversation, the linked deletion case and the audit trail."""
    return _render(_inquiry_or_404(reference))


@bp.get("/inquiries/<reference>/attachment")
@role_required(*ROLES)
def inquiry_attachment(reference):
    """The sender's attachment, as a download that cannot run; every look is on record."""
    try:
        document, data = inquiries.open_attachment(db.session(), inquiry=_inquiry_or_404(reference),
                                                   actor=audit.staff_actor(current_user))
    except LookupError:
        abort(404)
    return send_document(document, data)


@bp.post("/inquiries/<reference>/answer")
@role_required(*CASE_WORKERS)
def inquiry_answer(reference):
    """Mail an answer to the sender; it also shows on their status page."""
    item = _inquiry_or_404(reference)
    form = InquiryAnswerForm(prefix="answer")
    if not form.validate_on_submit():
        return _render(item, answer_form=form, status=422)
    try:
        inquiries.answer(db.session(), inquiry=item, body=form.body.data, actor=audit.staff_actor(current_user),
                         expected_version=form.version_number())
    except (StaleCase, IllegalTransition):
        return _refused(item)
    flash(_("Your answer was sent to %(email)s.", email=item.email))
    return redirect(url_for(".inquiry", reference=item.reference), 303)


@bp.post("/inquiries/<reference>/close")
@role_required(*CASE_WORKERS)
def inquiry_close(reference):
    """Close the inquiry: nothing more is expected on either side."""
    item = _inquiry_or_404(reference)
    form = InquiryCloseForm(prefix="close")
    if not form.validate_on_submit():
        abort(400)
    try:
        inquiries.close(db.session(), inquiry=item, actor=audit.staff_actor(current_user),
                        expected_version=form.version_number())
    except (StaleCase, IllegalTransition):
        return _refused(item)
    flash(_("The inquiry is closed."))
    return redirect(url_for(".inquiry", reference=item.reference), 303)


def _refused(item):
    """Someone changed the inquiry since this page was loaded: show the fresh state, change nothing."""
    fresh = _inquiry_or_404(item.reference)
    flash(_("This inquiry changed since you opened it, so nothing was done. Here is how it stands now: "
              "check it, then do it again if it is still needed."), "error")
    return _render(fresh, status=409)
