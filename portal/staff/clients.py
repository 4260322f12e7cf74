"""Client businesses (admins), and the outcome chosen for each client found on a case (case workers)."""
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from .. import db
from ..errors import render_error
from ..forms import EmptyForm
from ..services import audit
from ..services.cases.transitions import StaleCase
from ..services.clients import referrals, registry
from . import bp
from .access import ADMIN, CASE_WORKERS, role_required
from .client_forms import ClientForm, ClientOutcomeForm
from .views import _case_or_404, _render_case


@bp.context_processor
def _client_panel():
    """The case page's "Whose data" section: each client found, with a form while it needs an outcome."""
    def panel(req):
        data = referrals.panel(db.session(), req)
        submitted = g.get("client_outcome_form")
        forms = {r.id: (submitted if submitted is not None and submitted.referral_id == r.id else
                        ClientOutcomeForm(prefix=f"c{r.id}", formdata=None, data={"version": req.version}))
                 for r, _c in data.referrals if r.state in referrals.CHOOSABLE}
        return {"data": data, "forms": forms, "states": referrals.STATES, "outcomes": referrals.OUTCOMES,
                "describe": registry.describe, "kinds": registry.KINDS}
    return {"client_panel": panel}


@bp.get("/clients")
@db.reads_only
@role_required(ADMIN)
def clients():
    """Every client business whose data the business holds."""
    return render_template("staff/clients.html", clients=registry.active(db.session()), kinds=registry.KINDS,
                           agreements=registry.AGREEMENT_SHORT, remove_form=EmptyForm(formdata=None))


def _client_page(form, client=None, status=200):
    return render_template("staff/client.html", form=form, client=client), status


def _save(form, client=None):
    try:
        saved = registry.save(db.session(), data=form.data_for_service(), client=client,
                              actor=audit.staff_actor(current_user))
    except registry.ClientError as exc:
        getattr(form, exc.field or "name").errors.append(exc.message)
        return _client_page(form, client, 422)
    flash(f"Client {saved.client.name} saved.")
    if saved.generated_secret:
        # Shown once, to hand to the client: it is stored encrypted and never displayed again.
        flash(f"The webhook's signing secret, to give to {saved.client.name} (shown once): {saved.generated_secret}")
    return redirect(url_for(".clients"), 303)


@bp.route("/clients/new", methods=["GET", "POST"])
@db.reads_only
@role_required(ADMIN)
def client_new():
    """Add a client."""
    form = ClientForm()
    if form.validate_on_submit():
        return _save(form)
    return _client_page(form, status=422 if request.method == "POST" else 200)


@bp.route("/clients/<key>", methods=["GET", "POST"])
@db.reads_only
@role_required(ADMIN)
def client_edit(key):
    """Change a client (its key stays; the stored signing secret is kept unless a new one is given)."""
    client = registry.by_key(db.session(), key)
    if client is None:
        abort(404)
    form = ClientForm(obj=None if request.method == "POST" else client)
    form.key.data = client.key
    if request.method == "GET":
        form.webhook_secret.data = None
    if form.validate_on_submit():
        return _save(form, client)
    return _client_page(form, client, 422 if request.method == "POST" else 200)


@bp.post("/clients/<key>/remove")
@role_required(ADMIN)
def client_remove(key):
    """Remove a client: nothing new is forwarded to it and its API key stops working; its cases stay."""
    if not EmptyForm().validate_on_submit():
        return render_error(400)
    try:
        removed = registry.remove(db.session(), key=key, actor=audit.staff_actor(current_user))
    except registry.ClientError:
        abort(404)
    flash(f"Client {removed.name} removed.")
    return redirect(url_for(".clients"), 303)


@bp.post("/requests/<reference>/clients/<int:referral_id>")
@role_required(*CASE_WORKERS)
def client_outcome(reference, referral_id):
    """Choose what happens with one client found: forward, explain, or handle as the business."""
    req = _case_or_404(reference)
    form = ClientOutcomeForm(prefix=f"c{referral_id}")
    form.referral_id = referral_id
    if form.validate_on_submit():
        try:
            referrals.choose(db.session(), req=req, referral_id=referral_id, outcome=form.outcome.data,
                             staff=current_user, expected_version=form.version_number())
        except LookupError:
            abort(404)
        except StaleCase:
            form.outcome.errors.append("Someone changed this case since you opened it: look again, then choose.")
        except referrals.ReferralError as exc:
            form.outcome.errors.append(str(exc))
        else:
            flash(f"Outcome recorded: {referrals.OUTCOMES[form.outcome.data].lower()}.")
            return redirect(url_for(".case", reference=req.reference, _anchor="clients-heading"), 303)
    g.client_outcome_form = form
    return _render_case(db.session().get(type(req), req.id), status=422)
