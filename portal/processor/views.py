"""A processor answers a plan's item: the page its single-use link opens (GET shows the form, only
POST spends the token, so mail scanners that pre-fetch links spend nothing), and the signed webhook
reply (services/fulfilment/answers.py checks the signature)."""
from flask import Blueprint, jsonify, render_template, request

from .. import db
from ..extensions import csrf, limiter
from ..services.delivery import webhooks
from ..services.fulfilment import answers
from ..services.identity.tokens import TokenError
from .forms import AnswerForm

bp = Blueprint("processor", __name__, url_prefix="/processor")

LINK_PROBLEMS = {"invalid": "This link is not valid.", "expired": "This link has expired.",
                 "used": "This item was already answered: the link works once."}


def _problem(reason: str):
    return render_template("processor/answer.html", problem=LINK_PROBLEMS.get(reason, LINK_PROBLEMS["invalid"])), \
        410 if reason in ("used", "expired") else 404


@bp.route("/answers/<item_key>/<token>", methods=["GET", "POST"])
@db.reads_only
@limiter.limit("30 per minute")
def answer(item_key, token):
    """The item's request and the answer form; the answer is recorded once."""
    try:
        view = answers.open_link(db.session(), item_key=item_key, token=token)
    except TokenError as exc:
        return _problem(exc.reason)
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            answers.answer_by_link(db.session(), item_key=item_key, token=token, answer=form.answer.data,
                                   note=form.note.data)
        except TokenError as exc:
            return _problem(exc.reason)
        except answers.AnswerRefused as exc:
            form.answer.errors = [exc.message]
        else:
            return render_template("processor/answer.html", done=True), 200
    status = 422 if request.method == "POST" else 200
    return render_template("processor/answer.html", form=form, item=view.item, req=view.req), status


@bp.post("/replies")
@csrf.exempt
@limiter.limit("60 per minute")
def reply():
    """A signed webhook reply: {"item_id", "answer", "note"}; 401 unless signed by the item's recipient."""
    try:
        item = answers.answer_by_webhook(db.session(), body=request.get_data(),
                                         timestamp=request.headers.get(webhooks.TIMESTAMP_HEADER, ""),
                                         signature=request.headers.get(webhooks.SIGNATURE_HEADER, ""))
    except answers.AnswerRefused as exc:
        code = 401 if exc.message == "unauthorized" else 409 if exc.message == "already answered" else 400
        return jsonify(error=exc.message), code
    return jsonify(item_id=item.item_key, state=item.state), 200
