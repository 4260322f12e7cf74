"""Making a request: the one form for all five types, the fields that depend on the type, inline
validation, the page after sending, and the emailed link that confirms the email address."""
from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from .. import db
from ..errors import MESSAGES, render_error
from ..extensions import configured_limit, limiter
from ..form_limits import email_key, limit_submissions
from ..forms import EmptyForm, RequestForm
from ..lifecycle import REQUEST_TYPES
from ..security import minimum_duration
from ..services.cases import submission as request_service
from ..services.cases import verification
from ..services.consent import choices as consent_choices
from ..services.documents import kinds, pending
from ..services.identity.tokens import TokenError
from ..storage_full import StorageFull
from ..web import link_problem
from . import bp
from .access import grant_status_access


def _limited(wait: str):
    """The form as typed, when a submission limit is reached: how long to wait, and the other ways."""
    form = RequestForm()
    keep_upload_for_retry(form)
    return _render_form(form, 429, limited_wait=wait)[0]


@bp.route("/requests/new", methods=["GET", "POST"])
@limit_submissions(email=email_key("email"), limited=_limited)
def new_request():
    """One form for all five request types."""
    form = RequestForm()
    if request.method == "GET" and request.args.get("type") in REQUEST_TYPES:
        form.request_type.data = request.args["type"]
    if form.validate_on_submit():
        # The same answer in the same time whether or not an open request of this type exists for
        # the email (a duplicate is told by mail only): no timing oracle (as /status).
        with minimum_duration(current_app.config["REQUEST_RESPONSE_SECONDS"]):
            kept = kept_upload()
            new = form.to_new_request(language=str(get_locale()), kept_documents=(kept.id,) if kept else ())
            try:
                outcome = request_service.submit(db.session(), new=new)
            except kinds.DocumentRejected as exc:  # nothing was saved: the whole submission rolled back
                form.correction_document.errors = [exc.message]
                return _render_form(form, 413 if exc.code == "too_large" else 422)
            except StorageFull:
                return _render_form(form, 507, storage_full=True)
            session.pop(KEPT_UPLOAD, None)
            if outcome.request.request_type == "opt_out" and current_app.config["SELLS_OR_SHARES"]:
                _stop_sale_in_this_browser()
            kind = "confirm_email" if REQUEST_TYPES[form.request_type.data].needs_verification else "in_effect"
            return redirect(url_for(".submitted", next=kind, type=outcome.request.request_type), 303)
    if request.method == "POST":
        keep_upload_for_retry(form)
        return _render_form(form, 422)
    return _render_form(form, 200)


KEPT_UPLOAD = "kept_correction_upload"


def kept_upload():
    """The correction document this browser attached to a try of the form that did not go through."""
    return pending.find(db.session(), document_id=session.get(KEPT_UPLOAD), purpose="correction")


def keep_upload_for_retry(form: RequestForm) -> None:
    """A form sent back for a correction keeps its attached document (checked and stored encrypted,
    bound to this browser's session), so the retry need not attach it again."""
    upload = form.new_upload()
    if upload is None or form.correction_document.errors:
        return
    stream, filename, declared = upload
    try:
        kept = pending.keep(db.session(), stream=stream, filename=filename, declared_type=declared, purpose="correction")
    except kinds.DocumentRejected as exc:
        form.correction_document.errors = [exc.message]
        return
    session[KEPT_UPLOAD] = kept.id


def _render_form(form: RequestForm, status: int, limited_wait: str | None = None, storage_full: bool = False):
    kept = kept_upload() if form.request_type.data == "correct" and not form.correction_document.errors else None
    return render_template("public/request_form.html", form=form, kept_upload=kept, limited_wait=limited_wait,
                           storage_full=MESSAGES[507] if storage_full else None), status


def _stop_sale_in_this_browser() -> None:
    """§7026(f)(1): the request stops sale and sharing in this browser too (its consent record). The
    consent blueprint's after-request hook sets the cookies from g (a new consent id, the state)."""
    consent_id = request.cookies.get(current_app.config["CONSENT_COOKIE_NAME"])
    if not consent_choices.is_consent_id(consent_id):
        consent_id = g.consent_new_id = consent_choices.new_consent_id()
    g.consent_state = consent_choices.record_request_opt_out(
        db.session(), consent_id=consent_id, gpc_signal=request.headers.get("Sec-GPC", "").strip() == "1",
        user_agent=request.user_agent.string)
    g.consent_cache_dirty = True


@bp.get("/requests/new/fields")
def type_fields():
    """The part of the request form that depends on the type (and access scope) chosen: htmx swaps
    it in when the choice changes."""
    return render_template("public/_type_fields.html", form=RequestForm(formdata=request.args))


@bp.post("/requests/validate/<field>")
def validate_field(field):
    """htmx inline validation: the whole form is checked, one field's wrapper comes back."""
    form = RequestForm()
    if field not in form._fields or field == "csrf_token":
        abort(404)
    form.validate()
    return render_template("public/_field.html", form=form, field=form[field])


@bp.get("/requests/sent")
def submitted():
    """After a submission: the same words whether or not it was a duplicate (no enumeration)."""
    kind = request.args.get("next")
    request_type = REQUEST_TYPES.get(request.args.get("type", ""))
    if kind not in ("confirm_email", "in_effect") or request_type is None:
        abort(404)
    return render_template("public/submitted.html", kind=kind, request_type=request_type,
                           hours=current_app.config["VERIFY_TOKEN_HOURS"])


@bp.get("/verify/<token>")
def verify(token):
    """Show the confirm button. A GET never spends the token: mail scanners pre-fetch links."""
    try:
        req = verification.request_for_token(db.session(), token=token, purpose="verify")
    except TokenError as exc:
        return link_problem("verify", exc.reason, token=token)
    return render_template("public/verify.html", req=req, form=EmptyForm(), token=token,
                           type_label=REQUEST_TYPES[req.request_type].label)


@bp.post("/verify/<token>")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def verify_confirm(token):
    """Spend the token: email confirmed, acknowledgement mailed, the request page opens."""
    if not EmptyForm().validate_on_submit():
        return render_error(400)
    try:
        req = verification.confirm_email(db.session(), token=token)
    except TokenError as exc:
        return link_problem("verify", exc.reason, token=token)
    grant_status_access(req.reference)
    flash(_("Thank you: your email is confirmed and your request %(reference)s is with our privacy team.",
            reference=req.reference))
    return redirect(url_for(".request_detail", reference=req.reference), 303)


@bp.post("/verify/<token>/resend")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def verify_resend(token):
    """Mail a fresh link for the request an expired link belonged to."""
    if not EmptyForm().validate_on_submit():
        return render_error(400)
    verification.resend_link(db.session(), token=token)
    return render_template("public/resent.html")
