"""Agent pages: a request made for a consumer, and the consumer's confirmation of the agent."""
import io

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import get_locale

from .. import db
from ..errors import MESSAGES, render_error
from ..extensions import configured_limit, limiter
from ..form_limits import email_key, limit_submissions
from ..lifecycle import REQUEST_TYPES
from ..services.cases import agents
from ..services.documents import pending
from ..services.documents.kinds import DocumentRejected
from ..services.identity import tiers
from ..services.identity.tokens import TokenError
from ..storage_full import StorageFull
from ..web import link_problem
from .forms import AgentRequestForm, ConsumerDecisionForm

bp = Blueprint("agent", __name__, url_prefix="/agent")


KEPT_UPLOAD = "kept_authorization_upload"


def _kept():
    return pending.find(db.session(), document_id=session.get(KEPT_UPLOAD), purpose="authorization")


def _keep_for_retry(form: AgentRequestForm) -> None:
    """A form sent back for a correction keeps its checked authorization (encrypted, bound to this
    browser's session): the retry need not attach it again."""
    f = form.authorization.data
    if not f or not getattr(f, "filename", "") or form.authorization.errors:
        return
    try:
        kept = pending.keep(db.session(), stream=f.stream, filename=f.filename, declared_type=f.mimetype,
                            purpose="authorization")
    except DocumentRejected as exc:
        form.authorization.errors = [exc.message]
        return
    session[KEPT_UPLOAD] = kept.id


def _render(form: AgentRequestForm, status: int, limited_wait: str | None = None, storage_full: bool = False):
    kept = None if form.authorization.errors else _kept()
    return render_template("agent/request_form.html", form=form, kept_upload=kept, limited_wait=limited_wait,
                           storage_full=MESSAGES[507] if storage_full else None), status


def _limited(wait: str):
    """The agent's form as typed, when a submission limit is reached: the wait and the other ways."""
    form = AgentRequestForm()
    _keep_for_retry(form)
    return _render(form, 429, limited_wait=wait)[0]


@bp.route("/requests/new", methods=["GET", "POST"])
@limit_submissions(email=email_key("agent_email", "consumer_first_name", "consumer_last_name"), limited=_limited)
def new_request():
    """An authorized agent submits a request for a consumer, with the authorization document."""
    form = AgentRequestForm()
    if request.method == "GET" and request.args.get("type") in REQUEST_TYPES:
        form.request_type.data = request.args["type"]
    status = 422 if request.method == "POST" else 200
    kept = _kept() if request.method == "POST" and not form.has_new_upload() else None
    if kept is not None:
        form.authorization.validators = []  # the file kept from the last try stands for it
    if form.validate_on_submit():
        kept_file = pending.content(db.session(), document_id=kept.id, purpose="authorization") if kept else None
        upload = agents.Upload(io.BytesIO(kept_file[0]), kept_file[1], kept_file[2]) if kept_file else form.upload()
        try:
            agents.submit(db.session(), new=form.to_new_request(language=str(get_locale())), upload=upload)
        except DocumentRejected as exc:
            form.authorization.errors = [exc.message]
            status = 413 if exc.code == "too_large" else 422
        except StorageFull:
            return _render(form, 507, storage_full=True)
        else:
            if kept:
                pending.discard(db.session(), document_id=kept.id)
            session.pop(KEPT_UPLOAD, None)
            return redirect(url_for(".submitted", type=form.request_type.data), 303)
    if request.method == "POST":
        _keep_for_retry(form)
    return _render(form, status)


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

