"""Letters owed by post (§1798.130(a)(2), §7021(b)): the list, each letter as a printable page, and
recording it as sent."""
from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from .. import db
from ..forms import EmptyForm, plain_text, strip_filter
from ..models import PostalLetter, PrivacyRequest
from ..services import audit
from ..services.cases import letters as letter_service
from . import bp
from .access import CASE_WORKERS, role_required


class LetterSentForm(EmptyForm):
    sent_on = DateField("Day the letter was sent", validators=[InputRequired(message="Give the day, as YYYY-MM-DD.")])
    method = StringField("How it was sent", filters=[strip_filter], description="For example: first-class mail, certified mail.",
                         validators=[DataRequired(message="Say how the letter was sent."), Length(max=200), plain_text])


@bp.get("/letters")
@db.reads_only
@role_required(*CASE_WORKERS)
def letters():
    """Every requester message owed by post and not yet recorded as sent, oldest first."""
    return render_template("staff/letters.html", owed=letter_service.owed(db.session()))


def _letter_or_404(letter_id: int) -> tuple[PostalLetter, PrivacyRequest]:
    letter = db.session().get(PostalLetter, letter_id)
    if letter is None:
        abort(404)
    return letter, db.session().get(PrivacyRequest, letter.request_id)


@bp.get("/letters/<int:letter_id>")
@db.reads_only
@role_required(*CASE_WORKERS)
def letter(letter_id):
    """The letter as a printable page: the business's letterhead, the postal address, the mail's words."""
    item, req = _letter_or_404(letter_id)
    return render_template("staff/letter.html", letter=item, req=req, form=LetterSentForm(formdata=None))


@bp.get("/letters/<int:letter_id>.pdf")
@db.reads_only
@role_required(*CASE_WORKERS)
def letter_pdf(letter_id):
    """The letter as a PDF to print: letterhead, postal address, date, the mail's words, in the request's language."""
    item, req = _letter_or_404(letter_id)
    resp = make_response(letter_service.letter_pdf(db.session(), item))
    resp.headers["Content-Type"] = "application/pdf"
    resp.headers["Content-Disposition"] = f'attachment; filename="{req.reference}-letter-{item.id}.pdf"'
    return resp


@bp.post("/letters/<int:letter_id>/sent")
@role_required(*CASE_WORKERS)
def letter_sent(letter_id):
    """Record that the letter went out: the day and how."""
    item, req = _letter_or_404(letter_id)
    form = LetterSentForm()
    if form.validate_on_submit():
        try:
            letter_service.record_sent(db.session(), letter_id=item.id, sent_on=form.sent_on.data,
                                       method=form.method.data, actor=audit.staff_actor(current_user))
        except letter_service.LetterError as exc:
            form.method.errors.append(str(exc))
        else:
            flash("Letter recorded as sent.")
            return redirect(url_for(".letters"), 303)
    return render_template("staff/letter.html", letter=item, req=req, form=form), 422
