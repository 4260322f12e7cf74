"""Privacy inquiries from the public: the form (questions, BAA/HIPAA, security concerns, a child's
information), the page after sending, and the sender's page with their follow-ups."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from .. import db
from ..extensions import configured_limit, limiter
from ..lifecycle import INQUIRY_KINDS, IllegalTransition
from ..services.cases import inquiries as inquiry_service
from ..services.documents import kinds
from ..storage_full import StorageFull
from ..web import storage_full_form
from . import bp
from .access import inquiry_or_403
from .forms import FollowUpForm, InquiryForm


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
        except StorageFull:
            return storage_full_form("public/inquiry_form.html", form=form)
        return redirect(url_for(".inquiry_sent", kind=inquiry.kind), 303)
    return render_template("public/inquiry_form.html", form=form), 422 if request.method == "POST" else 200


@bp.get("/inquiries/sent")
def inquiry_sent():
    """What happens next; the reference and the answer date are in the acknowledgement mail."""
    kind = request.args.get("kind")
    if kind not in INQUIRY_KINDS:
        abort(404)
    return render_template("public/inquiry_sent.html", kind=kind)


def render_inquiry(inquiry, form, status=200):
    """The sender's page of an inquiry, at the address of a request's status page (status.request_detail)."""
    return render_template("public/inquiry_detail.html", inquiry=inquiry, form=form,
                           messages=inquiry_service.messages(db.session(), inquiry),
                           linked=inquiry_service.linked_request(db.session(), inquiry)), status


@bp.post("/requests/<reference>/follow-up")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def inquiry_follow_up(reference):
    """The sender of an inquiry writes back from their status page."""
    inquiry = inquiry_or_403(reference)
    form = FollowUpForm()
    if not form.validate_on_submit():
        return render_inquiry(inquiry, form, 422)
    try:
        inquiry_service.follow_up(db.session(), inquiry=inquiry, body=form.body.data)
    except IllegalTransition:
        flash(_("This inquiry is closed. Please send a new one if you need more help."), "error")
        return redirect(url_for(".request_detail", reference=reference), 303)
    flash(_("Thank you: your message was added and our privacy team will reply."))
    return redirect(url_for(".request_detail", reference=reference), 303)
