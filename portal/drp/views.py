"""The Data Rights Protocol API under /drp/v1 (`api_base` = BASE_URL + /drp). JSON in and out, no
cookies and no CSRF (agents authenticate by signature and bearer token); every route answers 404
while DRP_ENABLED is off. The logic, and the audit of every call, live in services/drp/exchange.py."""
from flask import Blueprint, abort, current_app, g, jsonify, request
from flask_limiter.util import get_remote_address

from .. import db
from ..extensions import configured_limit, csrf, limiter
from ..services.drp import exchange

bp = Blueprint("drp", __name__, url_prefix="/drp/v1")
csrf.exempt(bp)


@bp.before_request
def _enabled_and_bounded():
    if not current_app.config["DRP_ENABLED"]:
        abort(404)
    request.max_content_length = current_app.config["DRP_MAX_BODY_BYTES"]


def _bearer() -> str | None:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _rate_key() -> str:
    """Per agent: the bearer token's agent, or the agent named in a pairing URL; else the address."""
    if "drp_rate_key" not in g:
        agent = exchange.agent_for_token(db.session(), _bearer())
        if agent is None and request.view_args and "agent_id" in request.view_args:
            agent = exchange.active_agent(db.session(), request.view_args["agent_id"])
        g.drp_rate_key = f"drp-agent:{agent.agent_id}" if agent else f"drp-addr:{get_remote_address()}"
    return g.drp_rate_key


# Off, the routes answer 404 like any unknown path, never 429.
_per_agent = limiter.limit(configured_limit("RATELIMIT_DRP"), key_func=_rate_key,
                           exempt_when=lambda: not current_app.config["DRP_ENABLED"])


def _error(code: int, exc: Exception):
    """DRP §3.06: {"code": "<HTTP code>", "message": ...}."""
    return jsonify(code=str(code), message=str(exc)), code


def _answer(call):
    try:
        return jsonify(call())
    except exchange.Refused as exc:
        return _error(403, exc)
    except exchange.BadRequest as exc:
        return _error(400, exc)
    except exchange.NotFound as exc:
        return _error(404, exc)


@bp.post("/agent/<agent_id>")
@_per_agent
def pair(agent_id):
    """Pair-wise key setup (§2.05): a bearer token for a signed message; any failure is a 403 whose
    body (§3.06) names the reason, as the audit log does ("drp.version is required: ...")."""
    try:
        return jsonify(exchange.pair(db.session(), agent_id=agent_id, body=request.get_data()))
    except exchange.Refused as exc:
        return _error(403, exc)


@bp.get("/agent/<agent_id>")
@_per_agent
def agent_info(agent_id):
    """Agent information (§2.06): {} when the token is this agent's."""
    try:
        return jsonify(exchange.agent_info(db.session(), token=_bearer(), agent_id=agent_id))
    except exchange.Refused as exc:
        return _error(403, exc)


@bp.post("/data-rights-request")
@bp.post("/data-rights-request/", endpoint="exercise_trailing_slash")  # accepted, as before 0.9.3
@_per_agent
def exercise():
    """Data rights exercise (§2.01): opens a case, answers with its status object."""
    return _answer(lambda: exchange.exercise(db.session(), token=_bearer(), body=request.get_data()))


@bp.get("/data-rights-request/<request_id>")
@_per_agent
def status(request_id):
    """Data rights status (§2.02), for the agent that made the request only."""
    return _answer(lambda: exchange.status(db.session(), token=_bearer(), request_uuid=request_id))


@bp.delete("/data-rights-request/<request_id>")
@_per_agent
def revoke(request_id):
    """Data rights revoke (§2.04): the case is withdrawn; answers with the `revoked` status object."""
    return _answer(lambda: exchange.revoke(db.session(), token=_bearer(), request_uuid=request_id,
                                              body=request.get_data()))
