"""The hot path of GET /api/consent, answered before Flask's request machinery.

The business's site calls GET /api/consent on every page view. For a visitor whose signed state
cookie is fresh and who has chosen under the current policy version, the answer needs no database,
no session, no template and no rate-limit bookkeeping, so this WSGI middleware answers it directly
(with the same security and CORS headers). Every other request, and any consent request it cannot
answer alone (no or stale cookie, a GPC signal still to record, no choice yet), goes on to Flask.
"""
import json
import logging

from werkzeug.http import parse_cookie
from werkzeug.wrappers import Response

from ..security import apply_headers
from ..services.consent import banner, choices, state_cookie

log = logging.getLogger(__name__)
PATH = "/api/consent"


class ConsentFastPath:
    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self._headers: dict[bool, list[tuple[str, str]]] = {}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == PATH:
            try:
                answer = self.answer(environ)
            except Exception:  # never worse than the normal path: Flask answers (and reports) instead
                log.exception("consent fast path failed; answering through Flask")
                answer = None
            if answer is not None:
                body, headers = answer
                start_response("200 OK", headers)
                return [body]
        return self.wsgi_app(environ, start_response)

    def answer(self, environ) -> tuple[bytes, list[tuple[str, str]]] | None:
        """The body and headers, straight from the WSGI environ: no Request or Response objects
        (their header bookkeeping cost as much as the answer itself)."""
        config = self.app.config
        cookies = parse_cookie(environ)
        consent_id = cookies.get(config["CONSENT_COOKIE_NAME"])
        if not choices.is_consent_id(consent_id):
            return None
        with self.app.app_context():
            state = state_cookie.state_from_cookie(cookies.get(config["CONSENT_STATE_COOKIE_NAME"]),
                                                      consent_id=consent_id,
                                                      gpc_signal=environ.get("HTTP_SEC_GPC", "").strip() == "1")
            # With the GPC signal the answer carries the "Opt-Out Request Honored" notice in the
            # visitor's language (§7025(c)(6)): Flask's path, which knows the language.
            if state is None or not state.decided or state.gpc_signal:
                return None
            payload = banner.api_view(state, token=state_cookie.api_token(consent_id))
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = [*self.fixed_headers(config), ("Content-Length", str(len(body)))]
        return body, headers + cors_headers(environ.get("HTTP_ORIGIN"), config)

    def fixed_headers(self, config) -> list[tuple[str, str]]:
        """The headers every answer carries, made once by the same functions as the Flask path's
        (apply_headers reads only SESSION_COOKIE_SECURE, so that is the key)."""
        secure = bool(config["SESSION_COOKIE_SECURE"])
        headers = self._headers.get(secure)
        if headers is None:
            response = Response(mimetype="application/json")
            api_headers(response, None, config)
            apply_headers(response, config)
            headers = self._headers[secure] = [(k, v) for k, v in response.headers.items() if k != "Content-Length"]
        return headers


def api_headers(response, origin: str | None, config) -> None:
    """No caching anywhere; credentialed CORS only for the configured origins."""
    response.headers["Cache-Control"] = "no-store, private"
    response.vary.update(("Origin", "Cookie", "Sec-GPC"))
    response.headers.extend(cors_headers(origin, config))


def cors_headers(origin: str | None, config) -> list[tuple[str, str]]:
    """Credentialed CORS for a configured origin; nothing for any other."""
    if origin and origin in config["CONSENT_ALLOWED_ORIGINS"]:
        return [("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Credentials", "true")]
    return []
