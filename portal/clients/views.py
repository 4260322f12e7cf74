"""A client answers a forwarded request (GET shows the form; only POST spends the link's token, so
mail scanners that pre-fetch links spend nothing), replies by signed webhook, and sends and follows its
own requests through the signed API (services/clients/inbound.py)."""
from flask import Blueprint, jsonify, render_template, request

from .. import db
from ..extensions import csrf, limiter
from ..services.clients import answers, inbound
from ..services.delivery import webhooks
from ..services.drp.messages import BadRequest, Refused
from ..services.identity.tokens import TokenError
from .forms import ClientAnswerForm

bp = Blueprint("clients", __name__, url_prefix="/clients")

LINK_PROBLEMS = {"invalid": "This link is not valid.", "expired": "This link has expired.",
                 "used": "This request was already answered: the link works once."}


def _problem(reason: str):
    return render_template("clients/answer.html", problem=LINK_PROBLEMS.get(reason, LINK_PROBLEMS["invalid"])), \
        410 if reason in ("used", "expired") else 404


@bp.route("/answers/<referral_key>/<token>", methods=["GET", "POST"])
@db.reads_only
@limiter.limit("30 per minute")
def answer(referral_key, token):
    """The forwarded request and the answer form; the answer is recorded once."""
    try:
        view = answers.open_link(db.session(), referral_key=referral_key, token=token)
    except TokenError as exc:
        return _problem(exc.reason)
    form = ClientAnswerForm()
    if form.validate_on_submit():
        try:
            answers.answer_by_link(db.session(), referral_key=referral_key, token=token, answer=form.answer.data,
                                   note=form.note.data)
        except TokenError as exc:
            return _problem(exc.reason)
        except answers.AnswerRefused as exc:
            form.answer.errors = [exc.message]
        else:
            return render_template("clients/answer.html", done=True), 200
    status = 422 if request.method == "POST" else 200
    return render_template("clients/answer.html", form=form, view=view), status


@bp.post("/replies")
@csrf.exempt
@limiter.limit("60 per minute")
def reply():
    """A signed webhook reply: {"referral_id", "answer", "note"}; 401 unless signed by the client."""
    try:
        referral = answers.answer_by_webhook(db.session(), body=request.get_data(),
                                             timestamp=request.headers.get(webhooks.TIMESTAMP_HEADER, ""),
                                             signature=request.headers.get(webhooks.SIGNATURE_HEADER, ""))
    except answers.AnswerRefused as exc:
        code = 401 if exc.message == "unauthorized" else 409 if exc.message == "already answered" else 400
        return jsonify(error=exc.message), code
    return jsonify(referral_id=referral.referral_key, state=referral.state), 200


def _api_error(exc: Exception):
    code = 401 if isinstance(exc, Refused) else 404 if isinstance(exc, inbound.NotHeld) else 400
    return jsonify(error=str(exc)), code


@bp.post("/v1/requests")
@csrf.exempt
@limiter.limit("60 per minute")
def api_submit():
    """A client's signed request about a consumer whose data the business holds for it."""
    if request.content_length and request.content_length > 64 * 1024:
        return jsonify(error="The body is too large (64 KiB at most)."), 413
    try:
        body, created = inbound.submit(db.session(), client_key=request.headers.get(inbound.CLIENT_HEADER, ""),
                                       body=request.get_data())
    except (Refused, BadRequest, inbound.NotHeld) as exc:
        return _api_error(exc)
    return jsonify(body), 201 if created else 200


@bp.get("/v1/requests/<request_id>")
@limiter.limit("120 per minute")
def api_status(request_id):
    """The status of one of the client's requests; `Authorization: Signature <signed message>`."""
    scheme, _sep, signed = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Signature" or not signed.strip():
        return jsonify(error="Send Authorization: Signature <base64 signed message naming the request_id>."), 401
    try:
        body = inbound.status(db.session(), client_key=request.headers.get(inbound.CLIENT_HEADER, ""),
                              signed_header=signed.strip(), request_uuid=request_id)
    except (Refused, BadRequest, inbound.NotHeld) as exc:
        return _api_error(exc)
    return jsonify(body), 200
