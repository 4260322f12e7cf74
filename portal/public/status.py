"""Tracking a request: asking for a status link, the magic link that opens a status session, and
the requester's case page with what they can do on it (withdraw, answer a request for information,
add details, contest a correction's outcome, download response files). An inquiry's page shares
the address of a request's (inquiries.render_inquiry)."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import clock, db
from ..errors import MESSAGES, render_error
from ..extensions import configured_limit, limiter
from ..forms import EmptyForm
from ..lifecycle import OPEN, REQUEST_TYPES, IllegalTransition
from ..security import minimum_duration
from ..services.cases import casework, outcomes, status_access, submission, verification
from ..services.cases import inquiries as inquiry_service
from ..services.documents import kinds, response_files
from ..services.identity.tokens import TokenError
from ..storage_full import StorageFull
from ..web import link_problem, send_document
from . import bp
from .access import grant_status_access, request_or_403, status_session_or_403
from .forms import AddDetailsForm, AnswerForm, ContestForm, FollowUpForm, StatusForm, WithdrawForm
from .inquiries import render_inquiry


@bp.route("/status", methods=["GET", "POST"])
@limiter.limit(configured_limit("RATELIMIT_STATUS"), methods=["POST"])
def status():
    """Ask for a status link by reference and email."""
    form = StatusForm()
    if form.validate_on_submit():
        # The answer takes the same time whether or not the pair matched: no timing oracle.
        with minimum_duration(current_app.config["STATUS_RESPONSE_SECONDS"]):
            status_access.send_link(db.session(), reference=form.reference.data, email=form.email.data)
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
        status_access.check(db.session(), token=token)
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
        reference = status_access.open_session(db.session(), token=token)
    except TokenError as exc:
        return link_problem("status", exc.reason)
    grant_status_access(reference)
    return redirect(url_for(".request_detail", reference=reference), 303)


@bp.get("/requests/<reference>")
@db.reads_only
def request_detail(reference):
    """Timeline, due date, messages and actions, for the session that proved the email."""
    status_session_or_403(reference)
    found = status_access.find_request(db.read_connection(), reference)
    if found is None:
        inquiry = inquiry_service.get_by_reference(db.session(), reference)
        if inquiry is None:
            abort(403)
        return render_inquiry(inquiry, FollowUpForm())
    return _render_detail(found.request, page=status_access.page_of(found, db.session))


# The status page's forms as first shown: built only the first time a language renders them.
_BLANK_FORMS = {"withdraw": lambda: WithdrawForm(formdata=None), "answer": lambda: AnswerForm(formdata=None),
                "contest": lambda: ContestForm(formdata=None)}


def _render_detail(req, status=200, *, page=None, withdraw_form=None, answer_form=None, contest_form=None,
                   details_form=None, storage_full=None):
    """The status page. A POST that failed passes its own form; the others are shown blank
    (_BLANK_FORMS). The details form depends on what is missing: built when shown."""
    page = page or status_access.request_page(db.session(), req)
    can_add_details, can_withdraw, can_answer = (verification.can_add_points(req), submission.can_withdraw(req),
                                                 casework.can_answer(req))
    return render_template("public/request_detail.html", req=req, type_label=REQUEST_TYPES[req.request_type].label,
                           can_add_details=can_add_details,
                           details_form=details_form or (AddDetailsForm(formdata=None) if can_add_details else None),
                           missing_points=verification.missing_points(req),
                           needs_declaration=verification.requester_may_sign(db.session(), req),
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
                           contest_words=outcomes.contested_word_limit(req),
                           contested=page.contested,
                           contest_form=contest_form, storage_full=storage_full), status


@bp.post("/requests/<reference>/withdraw")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def withdraw(reference):
    """The requester withdraws their request."""
    req = request_or_403(reference)
    form = WithdrawForm()
    if not submission.can_withdraw(req):
        flash(_("This request can no longer be withdrawn."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    if not form.validate_on_submit():
        return _render_detail(req, 422, withdraw_form=form)
    submission.withdraw(db.session(), req=req)
    flash(_("Your request %(reference)s has been withdrawn.", reference=reference))
    return redirect(url_for(".request_detail", reference=reference), 303)


@bp.post("/requests/<reference>/contest")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def contest(reference):
    """§7023(f): the requester's statement that the data we did not correct is contested."""
    req = request_or_403(reference)
    form = ContestForm()
    form.word_limit = outcomes.contested_word_limit(req)
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
    req = request_or_403(reference)
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
    except StorageFull:
        return _render_detail(req, 507, answer_form=form, storage_full=MESSAGES[507])
    except IllegalTransition:  # the case moved on meanwhile (for example, staff closed it)
        flash(_("This request is not waiting for information from you."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    flash(_("Thank you: your answer was sent to our privacy team."))
    return redirect(url_for(".request_detail", reference=reference), 303)


@bp.post("/requests/<reference>/details")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def add_details(reference):
    """The requester adds details to confirm their identity; the request is matched again."""
    req = request_or_403(reference)
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
    req = request_or_403(reference)
    try:
        document, data = response_files.download(db.session(), req=req, file_id=file_id)
    except response_files.FileGone:
        return render_error(410, _("This file is no longer available"),
                            _("Response files can be downloaded for %(days)s days. Contact us if you still need it.",
                              days=current_app.config["RESPONSE_FILE_DAYS"]))
    return send_document(document, data)
