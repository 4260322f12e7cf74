"""The queue, the case page and every case action, and staff intake of phone and mail requests."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from .. import db
from ..forms import EmptyForm
from ..i18n import lazy_gettext as _l
from ..lifecycle import MAX_EXTENSION_DAYS, IllegalTransition
from ..services import audit
from ..services.cases import (
    agents,
    case_file,
    case_summary,
    casework,
    inquiries,
    outcomes,
    references,
    submission,
    verification,
    work_queue,
)
from ..services.cases.transitions import StaleCase
from ..services.drp import console as drp_console
from ..services.fulfilment import console as plan_console
from ..services.fulfilment import drafts
from ..services.identity import tiers
from ..web import is_htmx, send_document
from . import bp, review
from .access import CASE_WORKERS, ROLES, role_required
from .forms import (
    AgentAcceptForm,
    AgentAskForm,
    AgentRejectForm,
    CompleteForm,
    DenyForm,
    ExtendForm,
    HoldForm,
    IntakeForm,
    NoteForm,
    QueueFilterForm,
    RequestInfoForm,
    VerifyForm,
)
from .plan_forms import item_form


@bp.get("/")
@db.reads_only
@role_required(*ROLES)
def queue():
    """Cases by due date, with filters and search; htmx gets only the results."""
    form = QueueFilterForm(request.args)
    page = work_queue.queue(db.session(), filters=form.filters(staff_id=current_user.id))
    if is_htmx():
        return render_template("staff/_queue_rows.html", form=form, page=page)
    return render_template("staff/queue.html", form=form, page=page, urgent=inquiries.open_urgent(db.session()),
                           acks=work_queue.acknowledgements(db.session()),
                           open_inquiries=inquiries.count_open(db.session()))


def _case_or_404(reference: str):
    ref = references.normalize(reference)
    req = submission.get_by_reference(db.session(), ref) if ref else None
    if req is None:
        abort(404)
    return req


# One form per action: (form class, service call, message shown after it worked). An action that sends
# the requester a message goes through its review step first (review.REVIEWED), and its message then
# says where the mail went, or that a letter is owed.
ACTIONS = {
    "verify": (VerifyForm, lambda s, req, f: casework.verify_identity(
        s, req=req, staff=current_user, sources=f.sources(), note=f.note.data,
        expected_version=f.version_number()), _l("Identity verified: the case is in progress.")),
    "fraud_hold": (HoldForm, lambda s, req, f: casework.place_fraud_hold(
        s, req=req, staff=current_user, reason=f.reason.data, expected_version=f.version_number()),
        _l("The case is on a fraud hold.")),
    "clear_hold": (HoldForm, lambda s, req, f: casework.clear_hold(
        s, req=req, staff=current_user, reason=f.reason.data, expected_version=f.version_number()),
        _l("Hold cleared: the case is back in verification.")),
    "request_info": (RequestInfoForm, lambda s, req, f: casework.request_information(
        s, req=req, staff=current_user, message=f.message.data, expected_version=f.version_number()),
        _l("The case is on hold until the requester answers.")),
    "extend": (ExtendForm, lambda s, req, f: casework.extend(
        s, req=req, staff=current_user, days=f.days.data, reason=f.reason.data, expected_version=f.version_number()),
        _l("Deadline extended.")),
    "deny": (DenyForm, lambda s, req, f: outcomes.deny(
        s, req=req, staff=current_user, basis=f.basis.data, explanation=f.explanation.data,
        categories=f.categories.data, assessment=f.assessment.data if req.request_type == "correct" else None,
        contested_statement=f.contested_statement.data if req.request_type == "correct" else None,
        source=f.source.data if req.request_type == "correct" else None,
        expected_version=f.version_number()), _l("The request was denied.")),
    "accept_agent": (AgentAcceptForm, lambda s, req, f: agents.accept_authorization(
        s, req=req, staff=current_user, checklist=f.checklist.data, note=f.note.data,
        expected_version=f.version_number()), _l("Authorization accepted: the case moved on and the agent was told.")),
    "reject_agent": (AgentRejectForm, lambda s, req, f: agents.reject_authorization(
        s, req=req, staff=current_user, reason=f.reason.data, expected_version=f.version_number()),
        _l("Authorization rejected: the request was denied.")),
    "ask_agent": (AgentAskForm, lambda s, req, f: agents.ask_agent(
        s, req=req, staff=current_user, message=f.message.data, expected_version=f.version_number()),
        _l("The review resumes when the agent answers.")),
    "complete": (CompleteForm, lambda s, req, f: outcomes.complete(
        s, req=req, staff=current_user, completion=f.completion(), expected_version=f.version_number()),
        _l("The case is complete.")),
}


def _action_forms(req, submitted: dict | None = None) -> dict:
    """A fresh form for each allowed action (none for viewers), or the one just submitted."""
    if current_user.role not in CASE_WORKERS:
        return {}
    forms = {}
    for name in casework.available_actions(req):
        form = (submitted or {}).get(name)
        if form is None:
            form = ACTIONS[name][0](prefix=name, formdata=None)
            if name == "complete":  # what the plan can write, for staff to confirm or edit
                for field_name, value in drafts.completion_draft(db.session(), req).items():
                    form[field_name].data = value
                if req.request_type == "correct":
                    form.corrected_details.data = req.correction_details
        form.bind_case(req)
        form.automatic = casework.matched_automatically(db.session(), req)
        if form.version.data in (None, ""):
            form.version.data = req.version
        forms[name] = form
    return forms


def _render_case(req, *, submitted=None, note_form=None, plan_forms=None, status=200):
    plan = plan_console.plan_panel(db.session(), req)
    forms_for_items = {r.item.id: (plan_forms or {}).get(r.item.id) or item_form(r.item.id) for r in plan.rows
                       if r.staff_records} if current_user.role in CASE_WORKERS and req.status == "in_progress" else {}
    case = case_file.case_file(db.session(), req)
    return render_template(
        "staff/case.html", plan=plan, plan_forms=forms_for_items,
        policy_gaps=plan_console.policy_gaps() if plan.rows else [], case=case, drp=drp_console.case(db.session(), req), req=req, forms=_action_forms(req, submitted),
        open_action=next(iter(submitted or {}), None), summary=case_summary.summary(
            db.session(), req, messages=case.messages, staff=current_user, plan_open=plan.open_count),
        note_form=note_form or NoteForm(prefix="note", formdata=None), bases=outcomes.outcome_bases(),
        deny_bases_help=[b for b in outcomes.denial_bases(req.request_type).values() if b.get("help")],
        data_points=casework.DATA_POINTS, required_points=tiers.points_required(req),
        attempts=verification.attempts(db.session(), req), sources=casework.VERIFICATION_SOURCES,
        can_act=current_user.role in CASE_WORKERS, max_extension=MAX_EXTENSION_DAYS, assign_form=EmptyForm(formdata=None),
        from_inquiry=inquiries.linking_to(db.session(), req), checklist_items=agents.REVIEW_CHECKLIST, agent_actions=agents.REVIEW_ACTIONS,
        next_status=agents.next_status(req)), status


@bp.get("/requests/<reference>")
@db.reads_only
@role_required(*ROLES)
def case(reference):
    """Everything about one case: a summary of what is needed next, then the plan and the evidence,
    the actions folded one per section. (Reading writes nothing: "Mark as read" or acting does.)"""
    return _render_case(_case_or_404(reference))


@bp.post("/requests/<reference>/actions/<action>")
@role_required(*CASE_WORKERS)
def case_action(reference, action):
    """Apply one action, refused when the case changed since the page was loaded. An action that sends
    the requester a message shows it first (the review step); "Send" there applies it."""
    if action not in ACTIONS:
        abort(404)
    req = _case_or_404(reference)
    form_class, run, done = ACTIONS[action]
    form = form_class(prefix=action).bind_case(req)
    form.automatic = casework.matched_automatically(db.session(), req)
    # No readable version (missing, or out of range) is treated as a stale page: nothing is applied.
    if action not in casework.available_actions(req) or form.version_number() is None:
        return _conflict(reference)
    if form.version_number() != req.version:
        return _conflict(reference)
    if not form.validate_on_submit():
        return _render_case(req, submitted={action: form}, status=422)
    step = request.form.get("step")
    if action in review.REVIEWED and step == "edit":
        return _render_case(req, submitted={action: form})
    if action in review.REVIEWED and step != "send":
        return review.render(req, action, form)
    sent = review.requester_mail(req, action, form) if action in review.REVIEWED else None
    try:
        run(db.session(), req, form)
    except (StaleCase, StaleDataError):
        return _conflict(reference)
    except IllegalTransition as exc:  # a rule of the law or the lifecycle: its reason, and what to do
        return _refused(req, action, form, str(exc))
    case_summary.mark_read(db.session(), req=req)  # acting on the case is reading it
    flash(review.done_message(done, sent))
    return redirect(url_for(".case", reference=req.reference), 303)


def _refused(req, action, form, reason: str):
    """Nothing was written; the member of staff reads why, and the form keeps what they typed."""
    flash(_("Nothing was saved: %(reason)s Correct the form below and try again, or add a note for a colleague "
            "if the case needs someone else.", reason=reason if reason.endswith(".") else reason + "."), "error")
    return _render_case(req, submitted={action: form}, status=422)


def _conflict(reference):
    """Nothing was written (the service rolled back); the member of staff sees the case as it is now."""
    flash(_("This case changed since you opened it (someone else acted on it), or that action is no longer "
            "possible. Nothing was saved. Here is the case as it is now: check the timeline, then do it again if "
            "it is still needed."), "error")
    return _render_case(_case_or_404(reference), status=409)


@bp.post("/requests/<reference>/read")
@role_required(*CASE_WORKERS)
def mark_read(reference):
    """What the requester sent so far is read: the case is no longer flagged "replied"."""
    req = _case_or_404(reference)
    if not EmptyForm().validate_on_submit():
        flash(_("Nothing was changed: the form was out of date. Reload the case and press Mark as read again."), "error")
    else:
        case_summary.mark_read(db.session(), req=req)
    return redirect(url_for(".case", reference=req.reference), 303)


@bp.post("/requests/<reference>/assignee")
@role_required(*CASE_WORKERS)
def assign(reference):
    """Take the case (assign it to me) or give it back (unassign); on record."""
    req = _case_or_404(reference)
    form = EmptyForm()
    take = request.form.get("assignee") == "me"
    if not form.validate_on_submit() or request.form.get("assignee") not in ("me", "none"):
        flash(_("Nothing was changed: the form was out of date. Reload the case and use Take this case or "
                "Unassign again."), "error")
        return redirect(url_for(".case", reference=req.reference), 303)
    case_summary.assign(db.session(), req=req, staff=current_user, take=take)
    flash(_("You took this case.") if take else _("The case is unassigned."))
    return redirect(url_for(".case", reference=req.reference), 303)


@bp.get("/requests/<reference>/documents/<int:document_id>")
@role_required(*ROLES)
def case_document(reference, document_id):
    """A document of the case (the agent's authorization, or one sent with an answer), as a
    download; every download is on record."""
    req = _case_or_404(reference)
    try:
        document, data = casework.open_document(db.session(), req=req, document_id=document_id, staff=current_user)
    except LookupError:
        abort(404)
    return send_document(document, data)


@bp.get("/requests/<reference>/documents/<int:document_id>/preview")
@role_required(*ROLES)
def case_document_preview(reference, document_id):
    """A PNG, JPEG or PDF shown inline in the console, without running anything from the file:
    a sandboxed, script-less response. Every view is on record."""
    req = _case_or_404(reference)
    try:
        document, data = casework.open_document(db.session(), req=req, document_id=document_id, staff=current_user,
                                             inline=True)
    except LookupError:
        abort(404)
    return send_document(document, data, inline=True)


@bp.post("/requests/<reference>/notes")
@role_required(*CASE_WORKERS)
def add_note(reference):
    """An internal note on the case."""
    req = _case_or_404(reference)
    form = NoteForm(prefix="note")
    if not form.validate_on_submit():
        return _render_case(req, note_form=form, status=422)
    casework.add_note(db.session(), req=req, staff=current_user, body=form.body.data)
    case_summary.mark_read(db.session(), req=req)
    flash(_("Note added."))
    return redirect(url_for(".case", reference=req.reference, _anchor="notes"), 303)


@bp.route("/requests/new", methods=["GET", "POST"])
@db.reads_only
@role_required(*CASE_WORKERS)
def intake():
    """A request received by phone or mail becomes the same case, counted from the date received."""
    form = IntakeForm()
    if form.validate_on_submit():
        try:
            outcome = submission.submit_intake(
                db.session(), new=form.to_new_request(language=form.language.data), actor=audit.staff_actor(current_user),
                intake=form.intake(casework.intake_received_at(form.received_date())))
        except IllegalTransition as exc:
            flash(str(exc), "error")
            return render_template("staff/intake.html", form=form), 422
        flash(_("This person already has an open request of this kind: here it is.") if outcome.duplicate
              else _("Request %(reference)s recorded.", reference=outcome.request.reference))
        return redirect(url_for(".case", reference=outcome.request.reference), 303)
    return render_template("staff/intake.html", form=form), 422 if request.method == "POST" else 200
