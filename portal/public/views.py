"""Requester pages: choose a right, submit, confirm by email, track status."""
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from .. import clock, db, policy
from ..errors import render_error
from ..extensions import configured_limit, limiter
from ..forms import EmptyForm, RequestForm
from ..lifecycle import (
    INQUIRY_KINDS,
    OPEN,
    REQUEST_TYPES,
    IllegalTransition,
)
from ..models import Inquiry, PrivacyRequest
from ..security import minimum_duration
from ..services.cases import casework, outcomes, verification
from ..services.cases import inquiries as inquiry_service
from ..services.cases import status_access as status_service
from ..services.cases import submission as request_service
from ..services.documents import kinds, response_files
from ..services.identity.tokens import TokenError
from ..services.records import annual_metrics
from ..urls import external_url
from ..web import link_problem, send_document
from .forms import AddDetailsForm, AnswerForm, ContestForm, FollowUpForm, InquiryForm, StatusForm, WithdrawForm

bp = Blueprint("public", __name__)



@bp.get("/")
@db.reads_only
def home():
    """Choose a right."""
    return render_template("public/home.html", types=REQUEST_TYPES)


@bp.get("/healthz")
@db.reads_only
def healthz():
    """200 with the database reachable, 503 otherwise (the contract's check, for load balancers);
    /readyz, in the ops blueprint, checks the rest: workers, mail, Redis."""
    ok = db.ping()
    return {"status": "ok" if ok else "unavailable", "database": ok}, 200 if ok else 503


@bp.route("/requests/new", methods=["GET", "POST"])
@limiter.limit(configured_limit("RATELIMIT_SUBMIT"), methods=["POST"])
def new_request():
    """One form for all five request types."""
    form = RequestForm()
    if request.method == "GET" and request.args.get("type") in REQUEST_TYPES:
        form.request_type.data = request.args["type"]
    if form.validate_on_submit():
        try:
            outcome = request_service.submit(db.session(), new=form.to_new_request(language=str(get_locale())))
        except kinds.DocumentRejected as exc:  # nothing was saved: the whole submission rolled back
            form.correction_document.errors = [exc.message]
            return render_template("public/request_form.html", form=form), 413 if exc.code == "too_large" else 422
        kind = "confirm_email" if REQUEST_TYPES[form.request_type.data].needs_verification else "in_effect"
        return redirect(url_for(".submitted", next=kind, type=outcome.request.request_type), 303)
    return render_template("public/request_form.html", form=form), 422 if request.method == "POST" else 200


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
    _grant_status_access(req.reference)
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


@bp.route("/status", methods=["GET", "POST"])
@limiter.limit(configured_limit("RATELIMIT_STATUS"), methods=["POST"])
def status():
    """Ask for a status link by reference and email."""
    form = StatusForm()
    if form.validate_on_submit():
        # The answer takes the same time whether or not the pair matched: no timing oracle.
        with minimum_duration(current_app.config["STATUS_RESPONSE_SECONDS"]):
            status_service.send_link(db.session(), reference=form.reference.data, email=form.email.data)
        return redirect(url_for(".status_sent"), 303)
    return render_template("public/status.html", form=form), 422 if request.method == "POST" else 200


@bp.get("/status/sent")
def status_sent():
    """The same answer whether or not the reference and email matched."""
    return render_template("public/status_sent.html", minutes=current_app.config["STATUS_TOKEN_MINUTES"])


@bp.get("/status/<token>")
def status_token(token):
    """The emailed magic link: a button opens the request (a GET spends nothing)."""
    try:
        status_service.check(db.session(), token=token)
    except TokenError as exc:
        return link_problem("status", exc.reason)
    return render_template("public/status_open.html", form=EmptyForm(), token=token)


@bp.post("/status/<token>")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def status_open(token):
    """Spend the status token and open a short session bound to that one request."""
    if not EmptyForm().validate_on_submit():
        return render_error(400)
    try:
        reference = status_service.open_session(db.session(), token=token)
    except TokenError as exc:
        return link_problem("status", exc.reason)
    _grant_status_access(reference)
    return redirect(url_for(".request_detail", reference=reference), 303)


def _grant_status_access(reference: str) -> None:
    minutes = current_app.config["STATUS_SESSION_MINUTES"]
    session["status_access"] = {"ref": reference, "until": int(clock.timestamp()) + minutes * 60}


def _status_session_or_403(reference: str) -> None:
    """Only the browser whose status session opened this reference; the same 403 page for everyone else."""
    access = session.get("status_access") or {}
    if access.get("ref") != reference or access.get("until", 0) < clock.timestamp():
        abort(403)


def _case_or_403(reference: str):
    """The request or inquiry this browser's status session opened; the same 403 page for everyone else."""
    _status_session_or_403(reference)
    case = status_service.find(db.session(), reference)
    if case is None:
        abort(403)
    return case


def _request_or_403(reference: str) -> PrivacyRequest:
    case = _case_or_403(reference)
    if not isinstance(case, PrivacyRequest):
        abort(403)
    return case


def _inquiry_or_403(reference: str) -> Inquiry:
    case = _case_or_403(reference)
    if not isinstance(case, Inquiry):
        abort(403)
    return case


@bp.get("/requests/<reference>")
@db.reads_only
def request_detail(reference):
    """Timeline, due date, messages and actions, for the session that proved the email."""
    _status_session_or_403(reference)
    found = status_service.find_request(db.read_connection(), reference)
    if found is None:
        inquiry = inquiry_service.get_by_reference(db.session(), reference)
        if inquiry is None:
            abort(403)
        return _render_inquiry(inquiry, FollowUpForm())
    return _render_detail(found.request, page=status_service.page_of(found, db.session))


# The status page's forms as first shown: built only the first time a language renders them.
_BLANK_FORMS = {"withdraw": lambda: WithdrawForm(formdata=None), "answer": lambda: AnswerForm(formdata=None),
                "contest": lambda: ContestForm(formdata=None)}


def _render_detail(req, status=200, *, page=None, withdraw_form=None, answer_form=None, contest_form=None,
                   details_form=None):
    """The status page. A POST that failed passes its own form; the others are shown blank
    (_BLANK_FORMS). The details form depends on what is missing: built when shown."""
    page = page or status_service.request_page(db.session(), req)
    can_add_details, can_withdraw, can_answer = (verification.can_add_points(req), request_service.can_withdraw(req),
                                                 casework.can_answer(req))
    return render_template("public/request_detail.html", req=req, type_label=REQUEST_TYPES[req.request_type].label,
                           can_add_details=can_add_details,
                           details_form=details_form or (AddDetailsForm(formdata=None) if can_add_details else None),
                           missing_points=verification.missing_points(req),
                           needs_declaration=verification.declaration_needed(req) and not req.declaration_signature,
                           timeline=page.timeline,
                           open_statuses=OPEN,
                           can_withdraw=can_withdraw,
                           withdraw_form=withdraw_form,
                           can_answer=can_answer,
                           answer_form=answer_form, blank_forms=_BLANK_FORMS,
                           files=page.files, now=clock.now(),
                           outcome=page.outcome,
                           categories_parts=outcomes.CATEGORIES_RESPONSE_PARTS,
                           can_contest=page.can_contest,
                           contested=page.contested,
                           contest_form=contest_form), status


@bp.post("/requests/<reference>/withdraw")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def withdraw(reference):
    """The requester withdraws their request."""
    req = _request_or_403(reference)
    form = WithdrawForm()
    if not request_service.can_withdraw(req):
        flash(_("This request can no longer be withdrawn."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    if not form.validate_on_submit():
        return _render_detail(req, 422, withdraw_form=form)
    request_service.withdraw(db.session(), req=req)
    flash(_("Your request %(reference)s has been withdrawn.", reference=reference))
    return redirect(url_for(".request_detail", reference=reference), 303)


@bp.route("/inquiries/new", methods=["GET", "POST"])
@limiter.limit(configured_limit("RATELIMIT_SUBMIT"), methods=["POST"])
def new_inquiry():
    """Privacy questions, BAA/HIPAA, security concerns, a child's information: no verification gate."""
    form = InquiryForm()
    if request.method == "GET" and request.args.get("kind") in INQUIRY_KINDS:
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        try:
            inquiry = inquiry_service.submit(db.session(), new=form.to_new_inquiry(language=str(get_locale())),
                                             attachment=form.upload())
        except kinds.DocumentRejected as exc:
            form.attachment.errors = [exc.message]
            return render_template("public/inquiry_form.html", form=form), 413 if exc.code == "too_large" else 422
        return redirect(url_for(".inquiry_sent", kind=inquiry.kind), 303)
    return render_template("public/inquiry_form.html", form=form), 422 if request.method == "POST" else 200


@bp.get("/inquiries/sent")
def inquiry_sent():
    """What happens next; the reference and the answer date are in the acknowledgement mail."""
    kind = request.args.get("kind")
    if kind not in INQUIRY_KINDS:
        abort(404)
    return render_template("public/inquiry_sent.html", kind=kind)


def _render_inquiry(inquiry, form, status=200):
    return render_template("public/inquiry_detail.html", inquiry=inquiry, form=form,
                           messages=inquiry_service.messages(db.session(), inquiry),
                           linked=inquiry_service.linked_request(db.session(), inquiry)), status


@bp.post("/requests/<reference>/follow-up")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def inquiry_follow_up(reference):
    """The sender of an inquiry writes back from their status page."""
    inquiry = _inquiry_or_403(reference)
    form = FollowUpForm()
    if not form.validate_on_submit():
        return _render_inquiry(inquiry, form, 422)
    try:
        inquiry_service.follow_up(db.session(), inquiry=inquiry, body=form.body.data)
    except IllegalTransition:
        flash(_("This inquiry is closed. Please send a new one if you need more help."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    flash(_("Thank you: your message was added and our privacy team will reply."))
    return redirect(url_for(".request_detail", reference=reference), 303)


@bp.get("/privacy")
def privacy_policy():
    """The privacy policy in force, with its effective date and version."""
    return render_template("public/privacy.html", policy=policy.current(str(get_locale())))


@bp.get("/privacy/metrics")
@db.reads_only
def published_metrics():
    """§7102: the previous calendar year's request metrics, as a page or CSV, when PUBLISH_METRICS."""
    if not current_app.config["PUBLISH_METRICS"]:
        abort(404)
    year = clock.today().year - 1
    result = annual_metrics.for_year(db.session(), year=year)
    if request.args.get("format") == "csv":
        return annual_metrics.metrics_csv(result), 200, {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="privacy-metrics-{year}.csv"'}
    return render_template("public/metrics.html", result=result, year=year)


@bp.get("/.well-known/security.txt")
def security_txt():
    """RFC 9116 security contact, built from configuration."""
    cfg = current_app.config
    expires = clock.now().replace(microsecond=0) + timedelta(days=cfg["SECURITY_TXT_EXPIRES_DAYS"])
    body = "\n".join([
        f"Contact: mailto:{cfg['SECURITY_CONTACT_EMAIL']}",
        f"Contact: {external_url('public.new_inquiry', kind='security')}",
        f"Expires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"Preferred-Languages: {cfg['SECURITY_TXT_LANGUAGES']}",
        f"Policy: {external_url('public.privacy_policy')}",
        f"Canonical: {external_url('public.security_txt')}",
    ]) + "\n"
    return body, 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "max-age=3600"}


@bp.post("/requests/<reference>/contest")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def contest(reference):
    """§7023(f): the requester's statement that the data we did not correct is contested."""
    req = _request_or_403(reference)
    form = ContestForm()
    if not outcomes.can_contest(db.session(), req):
        flash(_("A statement can be filed once, after a correction was denied or made only in part."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    if not form.validate_on_submit():
        return _render_detail(req, 422, contest_form=form)
    try:
        outcomes.file_contested_statement(db.session(), req=req, statement=form.statement.data)
    except IllegalTransition:
        flash(_("A statement can be filed once, after a correction was denied or made only in part."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    flash(_("Thank you: your statement is kept with your information."))
    return redirect(url_for(".request_detail", reference=reference), 303)


@bp.post("/requests/<reference>/answer")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def answer(reference):
    """The requester answers a request for information; the case goes back to the privacy team."""
    req = _request_or_403(reference)
    form = AnswerForm()
    if not casework.can_answer(req):
        flash(_("This request is not waiting for information from you."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    if not form.validate_on_submit():
        return _render_detail(req, 422, answer_form=form)
    try:
        casework.answer_information(db.session(), req=req, body=form.body.data, attachment=form.upload())
    except kinds.DocumentRejected as exc:
        form.attachment.errors = [exc.message]
        return _render_detail(req, 413 if exc.code == "too_large" else 422, answer_form=form)
    except IllegalTransition:  # the case moved on meanwhile (for example, staff closed it)
        flash(_("This request is not waiting for information from you."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    flash(_("Thank you: your answer was sent to our privacy team."))
    return redirect(url_for(".request_detail", reference=reference), 303)


@bp.post("/requests/<reference>/details")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def add_details(reference):
    """The requester adds details to confirm their identity; the request is matched again."""
    req = _request_or_403(reference)
    form = AddDetailsForm()
    if not verification.can_add_points(req):
        flash(_("This request is not waiting for more details from you."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    if not form.validate_on_submit():
        return _render_detail(req, 422, details_form=form)
    try:
        verification.add_points(db.session(), req=req, values=form.values(), declaration_signature=form.signature())
    except IllegalTransition:
        flash(_("This request is not waiting for more details from you."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    # The same words whatever the outcome: the page shows the status that follows.
    flash(_("Thank you: we have checked your request again with the details you added."))
    return redirect(url_for(".request_detail", reference=reference), 303)


@bp.get("/requests/<reference>/files/<int:file_id>")
def response_file(reference, file_id):
    """Download a response file. Only the session a magic link opened for this request gets it
    (§7061: the requester proves their email again before an access export leaves), for 14 days."""
    req = _request_or_403(reference)
    try:
        document, data = response_files.download(db.session(), req=req, file_id=file_id)
    except response_files.FileGone:
        return render_error(410, _("This file is no longer available"),
                            _("Response files can be downloaded for %(days)s days. Contact us if you still need it.",
                              days=current_app.config["RESPONSE_FILE_DAYS"]))
    return send_document(document, data)
