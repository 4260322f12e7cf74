"""Agent pages: a request made for a consumer, and the consumer's confirmation of the agent."""
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale

from .. import db
from ..errors import render_error
from ..extensions import configured_limit, limiter
from ..form_limits import email_key, limit_submissions
from ..lifecycle import REQUEST_TYPES
from ..services.cases import agents
from ..services.documents.kinds import DocumentRejected
from ..services.identity import tiers
from ..services.identity.tokens import TokenError
from ..web import link_problem
from .forms import AgentRequestForm, ConsumerDecisionForm

bp = Blueprint("agent", __name__, url_prefix="/agent")


def _limited(wait: str):
    """The agent's form as typed, when a submission limit is reached: the wait and the other ways."""
    return render_template("agent/request_form.html", form=AgentRequestForm(), limited_wait=wait)


@bp.route("/requests/new", methods=["GET", "POST"])
@limit_submissions(email=email_key("agent_email", "consumer_first_name", "consumer_last_name"), limited=_limited)
def new_request():
    """An authorized agent submits a request for a consumer, with the authorization document."""
    form = AgentRequestForm()
    if request.method == "GET" and request.args.get("type") in REQUEST_TYPES:
        form.request_type.data = request.args["type"]
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        try:
            agents.submit(db.session(), new=form.to_new_request(language=str(get_locale())),
                                 upload=form.upload())
            return redirect(url_for(".submitted", type=form.request_type.data), 303)
        except DocumentRejected as exc:
            form.authorization.errors = [exc.message]
            status = 413 if exc.code == "too_large" else 422
    return render_template("agent/request_form.html", form=form), status


@bp.get("/requests/sent")
def submitted():
    """After a submission: the agent confirms their email next."""
    request_type = REQUEST_TYPES.get(request.args.get("type", ""))
    if request_type is None:
        return render_error(404)
    return render_template("agent/submitted.html", request_type=request_type,
                           hours=current_app.config["VERIFY_TOKEN_HOURS"])


@bp.get("/confirm/<token>")
def confirm(token):
    """The consumer sees who claims to act for them and chooses. A GET spends nothing."""
    try:
        req, auth = agents.request_for_confirmation(db.session(), token=token)
    except TokenError as exc:
        return link_problem("agent_confirm", exc.reason)
    return render_template("agent/confirm.html", req=req, auth=auth, form=ConsumerDecisionForm(), token=token,
                           verifies=REQUEST_TYPES[req.request_type].needs_verification,
                           needs_declaration=tiers.declaration_needed(req) and not req.declaration_signature,
                           type_label=REQUEST_TYPES[req.request_type].label,
                           authorization_label=agents.AUTHORIZATION_KINDS[auth.authorization_kind])


@bp.post("/confirm/<token>")
@limiter.limit(configured_limit("RATELIMIT_TOKEN"))
def confirm_decision(token):
    """Spend the link: record the consumer's confirmation or rejection of the agent."""
    form = ConsumerDecisionForm()
    if not form.validate_on_submit():
        if form.decision.errors or form.csrf_token.errors:
            return render_error(400)
        try:  # a detail that cannot be read: the page again, with the message beside it
            req, auth = agents.request_for_confirmation(db.session(), token=token)
        except TokenError as exc:
            return link_problem("agent_confirm", exc.reason)
        return render_template("agent/confirm.html", req=req, auth=auth, form=form, token=token,
                               verifies=REQUEST_TYPES[req.request_type].needs_verification,
                               needs_declaration=tiers.declaration_needed(req) and not req.declaration_signature,
                               type_label=REQUEST_TYPES[req.request_type].label,
                               authorization_label=agents.AUTHORIZATION_KINDS[auth.authorization_kind]), 422
    try:
        confirmed = form.decision.data == "confirm"
        req = agents.record_consumer_decision(
            db.session(), token=token, confirmed=confirmed, points=form.values() if confirmed else None,
            declaration_signature=form.signature() if confirmed else None)
    except TokenError as exc:
        return link_problem("agent_confirm", exc.reason)
    return render_template("agent/decided.html", confirmed=form.decision.data == "confirm", req=req)

