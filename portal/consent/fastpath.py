"""The hot path of GET /api/consent, answered before Flask's request machinery.

The business's site calls GET /api/consent on every page view. For a visitor whose signed state
cookie is fresh and who has chosen under the current policy version, the answer needs no database,
no session, no template and no rate-limit bookkeeping, so this WSGI middleware answers it directly
(with the same security and CORS headers). Every other request, and any consent request it cannot
answer alone (no or stale cookie, a GPC signal still to record, no choice yet), goes on to Flask.
"""
import json
import logging

from werkzeug.wrappers import Request, Response

from ..security import apply_headers
from ..services import consent as consent_service

log = logging.getLogger(__name__)
PATH = "/api/consent"


class ConsentFastPath:
    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == PATH:
            try:
                response = self.answer(Request(environ))
            except Exception:  # never worse than the normal path: Flask answers (and reports) instead
                log.exception("consent fast path failed; answering through Flask")
                response = None
            if response is not None:
                return response(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def answer(self, request: Request) -> Response | None:
        config = self.app.config
        consent_id = request.cookies.get(config["CONSENT_COOKIE_NAME"])
        if not consent_service.is_consent_id(consent_id):
            return None
        with self.app.app_context():
            state = consent_service.state_from_cookie(request.cookies.get(config["CONSENT_STATE_COOKIE_NAME"]),
                                                      consent_id=consent_id,
                                                      gpc_signal=request.headers.get("Sec-GPC", "").strip() == "1")
            if state is None or not state.decided:
                return None
            payload = consent_service.api_view(state, token=consent_service.api_token(consent_id))
        response = Response(json.dumps(payload, separators=(",", ":")), mimetype="application/json")
        api_headers(response, request.headers.get("Origin"), config)
        return apply_headers(response, config)


def api_headers(response, origin: str | None, config) -> None:
    """No caching anywhere; credentialed CORS only for the configured origins."""
    response.headers["Cache-Control"] = "no-store, private"
    response.vary.update(("Origin", "Cookie", "Sec-GPC"))
    if origin and origin in config["CONSENT_ALLOWED_ORIGINS"]:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
