"""The cookie-preference center, the banner, the consent API and /.well-known/gpc.json."""
import json
import logging

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from .. import clock, db
from ..extensions import csrf, limiter
from ..forms import EmptyForm
from ..services.cases import preference_signals
from ..services.consent import banner, receipts, state_cookie
from ..services.consent import choices as consent_service
from ..services.consent.choices import ConsentState
from ..web import is_htmx
from .fastpath import ConsentFastPath, api_headers
from .forms import preferences_form

bp = Blueprint("consent", __name__)
log = logging.getLogger(__name__)


@bp.record_once
def _install_fast_path(setup_state):
    app = setup_state.app
    app.wsgi_app = ConsentFastPath(app, app.wsgi_app)


def gpc_signal() -> bool:
    """The Global Privacy Control header; the specification's only valid value is "1"."""
    return request.headers.get("Sec-GPC", "").strip() == "1"


def _cookie_consent_id() -> str | None:
    value = request.cookies.get(current_app.config["CONSENT_COOKIE_NAME"])
    return value if consent_service.is_consent_id(value) else None


def _issue_consent_id() -> str:
    g.consent_new_id = consent_service.new_consent_id()
    return g.consent_new_id


def visitor() -> ConsentState:
    """This visitor's state, once per request: from the signed state cookie when it is fresh,
    else one query; a GPC signal is honored and recorded here, before any click."""
    state = g.get("consent_state")
    if state is not None:
        return state
    consent_id, gpc = _cookie_consent_id(), gpc_signal()
    state = consent_id and state_cookie.state_from_cookie(
        request.cookies.get(current_app.config["CONSENT_STATE_COOKIE_NAME"]), consent_id=consent_id, gpc_signal=gpc)
    if not state:
        if gpc and consent_id is None:
            consent_id = _issue_consent_id()
        state = consent_service.resolve(db.session(), consent_id=consent_id, gpc_signal=gpc,
                                        user_agent=request.user_agent.string)
        g.consent_cache_dirty = True
    g.consent_state = state
    return state


def _remember(state: ConsentState) -> ConsentState:
    g.consent_state, g.consent_cache_dirty = state, True
    return state


@bp.after_app_request
def _consent_cookies(response):
    """Set the consent id and the signed state cache when this request created or changed them."""
    cfg = current_app.config
    options = dict(httponly=True, secure=cfg["SESSION_COOKIE_SECURE"], samesite=cfg["CONSENT_COOKIE_SAMESITE"])
    if g.get("consent_new_id"):
        response.set_cookie(cfg["CONSENT_COOKIE_NAME"], g.consent_new_id, max_age=cfg["CONSENT_COOKIE_DAYS"] * 86400,
                            **options)
    if g.get("consent_cache_dirty"):
        value = state_cookie.state_cookie(g.consent_state)
        if value:
            response.set_cookie(cfg["CONSENT_STATE_COOKIE_NAME"], value, max_age=cfg["CONSENT_STATE_CACHE_SECONDS"],
                                **options)
    return response


# Pages that show the banner: the requester's and the agent's. Answers that are not pages are left out.
BANNER_BLUEPRINTS = ("public", "agent")
NOT_PAGES = frozenset({"public.healthz", "public.security_txt", "public.response_file", "public.type_fields",
                       "public.validate_field"})


@bp.before_app_request
def _resolve_banner():
    """The banner's state is settled in the request, before any template renders: a GPC signal is
    honored and recorded here, never as a side effect of rendering a page."""
    page = request._get_current_object()
    if page.blueprint not in BANNER_BLUEPRINTS or page.endpoint in NOT_PAGES or is_htmx():
        return
    try:
        g.consent_banner = visitor()
        _known_person(g.consent_banner)
    except SQLAlchemyError:
        # The banner must never take a page down with it (an error page is shown while the
        # database is unreachable); the next page asks again.
        log.warning("consent banner skipped: database unavailable")


def _known_person(state: ConsentState) -> None:
    """§7025(c)(1): on a page where the person is identified (the status session of their request),
    a GPC signal or a cookie opt-out is recorded on their request record too."""
    access = session.get("status_access") or {}
    reference = access.get("ref")
    if not reference or access.get("until", 0) < clock.timestamp():
        return
    kind = consent_service.opt_out_kind(state)
    if kind is not None:
        consent_service.record_for_known_person(db.session(), state=state, reference=reference)
    if kind == "gpc":  # the signal is also this person's opt-out request (§7025(c)(1))
        preference_signals.open_for_known_person(db.session(), reference=reference)


@bp.app_context_processor
def _banner_context():
    return {"consent_banner": g.get("consent_banner"), "consent_banner_intro": banner.banner_intro,
            "consent_collection_notice": banner.collection_notice}


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value \
            and not any(ord(ch) < 32 for ch in value):
        return value
    return url_for(".preferences")


@bp.route("/preferences", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_CONSENT"], methods=["POST"])
def preferences():
    """The cookie-preference center; the banner posts here too (§7004: reject is one click, like accept)."""
    state, categories = visitor(), consent_service.categories()
    form = preferences_form(categories, state)
    if form.validate_on_submit():
        state = _remember(consent_service.record_choice(
            db.session(), consent_id=state.consent_id or _issue_consent_id(), action=form.chosen_action,
            source=form.source.data, gpc_signal=gpc_signal(), user_agent=request.user_agent.string,
            selected=form.selected(categories)))
        _known_person(state)
        if state.confirmation_needed:  # §7028: sale/sharing back on only after a separate confirmation
            return redirect(url_for(".confirm_sale", next=_safe_next(form.next.data)), 303)
        if is_htmx() and form.source.data == "banner":
            return render_template("consent/_banner_saved.html", state=state)
        flash(_("Your cookie choices are saved."))
        return redirect(_safe_next(form.next.data), 303)
    return render_template("consent/preferences.html", form=form, state=state, categories=categories), \
        422 if request.method == "POST" else 200


@bp.route("/preferences/confirm-sale", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_CONSENT"], methods=["POST"])
def confirm_sale():
    """§7028: the second step that turns sale/sharing back on after an opt-out, saying what it means."""
    state, form = visitor(), EmptyForm()
    if state.gpc_signal:
        return render_template("consent/confirm_sale.html", state=state, form=form, refused=True), 409
    if form.validate_on_submit():
        try:
            _remember(consent_service.confirm_sale_opt_in(
                db.session(), consent_id=state.consent_id or "", gpc_signal=gpc_signal(),
                user_agent=request.user_agent.string))
        except consent_service.SaleOptInRefused:
            abort(409)
        flash(_("Your cookie choices are saved."))
        return redirect(_safe_next(request.args.get("next")), 303)
    return render_template("consent/confirm_sale.html", state=state, form=form, refused=False,
                           categories=[c for c in consent_service.categories() if c.sale_or_sharing]), \
        422 if request.method == "POST" else 200


@bp.get("/preferences/history")
@db.reads_only
def history():
    """The visitor's own consent records, newest first."""
    state = visitor()
    records = consent_service.history(db.session(), consent_id=state.consent_id) if state.consent_id else []
    return render_template("consent/history.html", state=state, records=records,
                           categories=consent_service.categories(), status=receipts.purpose_status)


@bp.get("/preferences/receipt", defaults={"receipt_id": None})
@bp.get("/preferences/receipt/<receipt_id>")
@db.reads_only
def receipt(receipt_id):
    """A consent receipt (JSON, Kantara fields) for the latest or a named record of this visitor."""
    state = visitor()
    record = state.consent_id and consent_service.record_for(db.session(), consent_id=state.consent_id,
                                                             receipt_id=receipt_id)
    if not record:
        abort(404)
    body = json.dumps(receipts.receipt(record), indent=2, ensure_ascii=False)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="consent-receipt-{record.receipt_id}.json"',
        "Cache-Control": "no-store"})


# --- the business's website ---------------------------------------------------------------------

def _allowed_origin(origin: str | None) -> bool:
    """Origins configured for credentialed CORS (the business's own site)."""
    return bool(origin) and origin in current_app.config["CONSENT_ALLOWED_ORIGINS"]


def _own_origin(origin: str | None) -> bool:
    return bool(origin) and origin == request.host_url.rstrip("/")


def _api_response(payload: dict, status: int = 200) -> Response:
    response = Response(json.dumps(payload, separators=(",", ":")), status=status, mimetype="application/json")
    api_headers(response, request.headers.get("Origin"), current_app.config)
    return response


@limiter.request_filter
def _hot_path() -> bool:
    """GET /api/consent runs on every page view of the business's site: no rate limit, and the
    limiter's per-request bookkeeping is skipped altogether."""
    return request.endpoint == "consent.api_consent"


@bp.get("/api/consent", provide_automatic_options=False)
def api_consent():
    """The hot path: the visitor's current choices as JSON, no template, at most one query."""
    state = visitor()
    token = state_cookie.api_token(state.consent_id or _issue_consent_id())
    return _api_response(banner.api_view(state, token=token))


@bp.post("/api/consent", provide_automatic_options=False)
@csrf.exempt  # the session-bound CSRF token cannot reach another origin; the checks below replace it
@limiter.limit(lambda: current_app.config["RATELIMIT_CONSENT"])
def api_record():
    """Record a choice from the business's site: an allowed Origin plus the token from GET."""
    origin, consent_id = request.headers.get("Origin"), _cookie_consent_id()
    if not (_allowed_origin(origin) or _own_origin(origin)):
        return _api_response({"error": "origin_not_allowed"}, 403)
    token = request.headers.get("X-Consent-Token")
    if consent_id is None or not state_cookie.check_api_token(token, consent_id=consent_id):
        return _api_response({"error": "invalid_token"}, 403)
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("choices", {}), dict):
        return _api_response({"error": "invalid_body"}, 400)
    try:
        state = _remember(consent_service.record_choice(
            db.session(), consent_id=consent_id, action=str(data.get("action", "save")), source="api",
            gpc_signal=gpc_signal(), user_agent=request.user_agent.string, selected=data.get("choices")))
    except ValueError:
        return _api_response({"error": "invalid_choice"}, 400)
    return _api_response(banner.api_view(state, token=token))


@bp.route("/api/consent", methods=["OPTIONS"])
def api_preflight():
    """CORS preflight: only configured origins may send credentials and the token header."""
    origin = request.headers.get("Origin")
    if not _allowed_origin(origin):
        return Response(status=403)
    response = _api_response({}, 204)
    response.set_data(b"")
    response.headers.update({"Access-Control-Allow-Methods": "GET, POST",
                             "Access-Control-Allow-Headers": "Content-Type, X-Consent-Token",
                             "Access-Control-Max-Age": "600"})
    return response


@bp.get("/.well-known/gpc.json")
def gpc_json():
    """The Global Privacy Control support declaration."""
    response = jsonify(gpc=True, lastUpdate=current_app.config["GPC_LAST_UPDATE"])
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
