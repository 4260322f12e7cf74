"""Recipients of notices downstream (admins), and the notices on a case (case workers)."""
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import db
from ..errors import render_error
from ..forms import EmptyForm
from ..services import audit
from ..services.cases import notices
from ..services.cases.notices import NoticeError
from . import bp
from .access import ADMIN, CASE_WORKERS, role_required
from .recipient_forms import NoticeExplainForm, NoticeRecordForm, RecipientForm
from .views import _case_or_404, _render_case


@bp.context_processor
def _notice_panel():
    """The case page's notices section, with a form per unsettled notice (or the one just sent back)."""
    def panel(req):
        data = notices.panel(db.session(), req)
        submitted = g.get("notice_forms", {})
        forms = {}
        for notice, recipient in data.notices:
            if notice.state in ("awaiting_staff", "failed"):
                # §7022(b)(3): the explanation is offered only for a third party told of a deletion.
                explains = notices.may_explain(req, notice, recipient)
                forms[notice.id] = (
                    submitted.get((notice.id, "record")) or NoticeRecordForm(prefix=f"n{notice.id}-record", formdata=None),
                    (submitted.get((notice.id, "explain")) or NoticeExplainForm(prefix=f"n{notice.id}-explain", formdata=None))
                    if explains else None)
        return {"data": data, "forms": forms, "send_form": EmptyForm(formdata=None), "states": notices.STATES,
                "methods": notices.METHODS, "kinds": notices.KINDS, "purposes": notices.PURPOSES}
    return {"notice_panel": panel}


@bp.get("/recipients")
@db.reads_only
@role_required(ADMIN)
def recipients():
    """Every service provider, contractor and third party told of deletions, corrections and opt-outs."""
    return render_template("staff/recipients.html", recipients=notices.list_recipients(db.session()),
                           kinds=notices.KINDS, methods=notices.METHODS, types=notices.type_labels())


def _recipient_page(form, recipient=None, status=200):
    return render_template("staff/recipient.html", form=form, recipient=recipient), status


def _save(form, recipient=None):
    try:
        saved = notices.save_recipient(db.session(), data=form.data_for_service(), recipient=recipient,
                                       actor=audit.staff_actor(current_user))
    except NoticeError as exc:
        getattr(form, exc.field or "name").errors.append(str(exc.message))
        return _recipient_page(form, recipient, 422)
    flash(_("Recipient %(name)s saved.", name=saved.name))
    return redirect(url_for(".recipients"), 303)


@bp.route("/recipients/new", methods=["GET", "POST"])
@db.reads_only
@role_required(ADMIN)
def recipient_new():
    """Add a recipient."""
    form = RecipientForm()
    if form.validate_on_submit():
        return _save(form)
    return _recipient_page(form, status=422 if request.method == "POST" else 200)


@bp.route("/recipients/<int:recipient_id>", methods=["GET", "POST"])
@db.reads_only
@role_required(ADMIN)
def recipient_edit(recipient_id):
    """Change a recipient (the stored signing secret is kept unless a new one is given)."""
    recipient = notices.get_recipient(db.session(), recipient_id)
    if recipient is None:
        abort(404)
    form = RecipientForm(obj=None if request.method == "POST" else recipient)
    if request.method == "GET":
        form.request_types.data = recipient.request_types.split(",")
        form.identifiers.data = recipient.identifiers.split(",")
        form.webhook_secret.data = None
    if form.validate_on_submit():
        return _save(form, recipient)
    return _recipient_page(form, recipient, 422 if request.method == "POST" else 200)


@bp.post("/requests/<reference>/notices")
@role_required(*CASE_WORKERS)
def notices_send(reference):
    """Tell every concerned recipient: webhooks and mail are queued, manual ones listed for staff."""
    req = _case_or_404(reference)
    if not EmptyForm().validate_on_submit():
        return render_error(400)
    try:
        count = notices.send(db.session(), req=req, actor=audit.staff_actor(current_user))
    except NoticeError as exc:
        flash(str(exc.message), "error")
        return _render_case(req, status=409)
    flash(_("%(n)s notices created.", n=count))
    return redirect(url_for(".case", reference=req.reference, _anchor="notices-heading"), 303)


SETTLE = {
    "record": (NoticeRecordForm, lambda s, req, nid, f: notices.record_manual(
        s, req=req, notice_id=nid, told_on=f.told_on.data, method=f.method.data, actor=audit.staff_actor(current_user)),
        "method"),
    "explain": (NoticeExplainForm, lambda s, req, nid, f: notices.explain(
        s, req=req, notice_id=nid, explanation=f.explanation.data, actor=audit.staff_actor(current_user)), "explanation"),
}


@bp.post("/requests/<reference>/notices/<int:notice_id>/<any(record, explain):how>")
@role_required(*CASE_WORKERS)
def notice_settle(reference, notice_id, how):
    """Record a notice given by hand (day, method), or explain why it is impossible or disproportionate."""
    req = _case_or_404(reference)
    form_class, run, default_field = SETTLE[how]
    form = form_class(prefix=f"n{notice_id}-{how}")
    if form.validate_on_submit():
        try:
            run(db.session(), req, notice_id, form)
        except LookupError:
            abort(404)
        except NoticeError as exc:
            if exc.field is None:  # about the notice, not a field: it may have no form on the page any more
                flash(str(exc.message), "error")
            else:
                form[exc.field].errors.append(str(exc.message))
        else:
            flash(_("Notice settled."))
            return redirect(url_for(".case", reference=req.reference, _anchor="notices-heading"), 303)
    g.notice_forms = {(notice_id, how): form}
    return _render_case(req, status=422)
