"""What every blueprint shares about HTTP: telling htmx requests apart, and handing files over."""
import re
import unicodedata
from urllib.parse import quote

from flask import Flask, Response, g, has_request_context, render_template, request, url_for

from .errors import MESSAGES
from .forms import EmptyForm
from .fragments import SameForEveryone
from .i18n import lazy_gettext as _l
from .models import Document
from .security import add_vary
from .services.documents.kinds import CSV, INLINE_TYPES, JSON


def is_htmx() -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page). A view that
    asks answers differently by this header, so its response says so (Vary)."""
    g.answer_varies_on_htmx = True
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


URL_CACHE_SIZE = 4096


def _template_url_for(app: Flask):
    """`url_for` for templates, remembering what it built: a page builds two dozen URLs (stylesheets,
    navigation, footer), each about a tenth of the page's rendering time, and a relative URL
    depends only on its arguments and the mount point. Absolute (_external), relative ('.name'),
    unhashable and out-of-request calls (mail) build as before."""
    cache: dict = {}

    def cached_url_for(endpoint: str, **values) -> str:
        if endpoint.startswith(".") or "_external" in values or "_scheme" in values or not has_request_context():
            return url_for(endpoint, **values)
        try:
            key = (request.script_root, endpoint, *sorted(values.items()))
            return cache[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable argument
            return url_for(endpoint, **values)
        url = url_for(endpoint, **values)
        if len(cache) >= URL_CACHE_SIZE:
            cache.clear()  # bounded: URLs with references in them come and go
        cache[key] = url
        return url
    return cached_url_for


def register(app: Flask) -> None:
    app.jinja_env.globals["url_for"] = _template_url_for(app)
    app.jinja_env.add_extension(SameForEveryone)

    @app.after_request
    def _vary_on_htmx(response: Response) -> Response:
        # One URL, two renderings: caches must keep them apart.
        if g.get("answer_varies_on_htmx"):
            add_vary(response, "HX-Request")
        return response


def content_disposition(disposition: str, filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name in filename*."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[^A-Za-z0-9._ -]', "_", ascii_name).strip() or "document"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


SEND_CHUNK = 64 * 1024


def _chunks(data: bytes | bytearray):
    """The file in bytes chunks (WSGI servers take bytes only; a decrypted file is a bytearray, and
    one bytes copy of the whole of it would double the memory a download takes)."""
    view = memoryview(data)
    for start in range(0, len(view), SEND_CHUNK):
        yield bytes(view[start:start + SEND_CHUNK])


def send_document(document: Document, data: bytes | bytearray, *, inline: bool = False) -> Response:
    """A response that hands the file over without letting it run: attachment, nosniff, sandboxed."""
    inline = inline and document.content_type in INLINE_TYPES
    text = document.content_type in (CSV.content_type, JSON.content_type)
    response = Response(_chunks(data), content_type=document.content_type + ("; charset=utf-8" if text else ""))
    response.headers["Content-Length"] = str(len(data))
    response.headers["Content-Disposition"] = content_disposition("inline" if inline else "attachment",
                                                                  document.original_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    # Nothing in the file may run or fetch anything: no script, no plugin, an opaque origin.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src 'self' data:; object-src 'none'; sandbox" if inline
        else "default-src 'none'; sandbox")
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


# The one page for an emailed link that cannot be used (invalid, expired or used): what happened,
# and the next step, for each kind of link.
LINK_PROBLEMS = {
    "verify": {
        "expired": _l("Confirmation links work for a limited time. We can send a new one to the same email address."),
        "used": _l("Each link works once. If you confirmed your request, it is with our privacy team: you can "
                   "check it from the status page."),
        "invalid": _l("The link may have been cut short by your email program. Try copying the whole link from the "
                      "email, or make the request again."),
    },
    "status": dict.fromkeys(("expired", "used", "invalid"), _l(
        "Status links work once and for a short time, to keep your request private. Ask for a new one: it takes "
        "a moment.")),
    "agent_confirm": {
        "expired": _l("The link to confirm or reject an agent works for a limited time. Contact us and we will help."),
        "used": _l("We already have your answer about this agent, or the request is closed."),
        "invalid": _l("The link may have been cut short by your email program. Try copying the whole link from the "
                      "email."),
    },
    "invitation": {
        "expired": _l("Invitations work for a limited time. Ask an admin to send you a new one."),
        "used": _l("Each invitation works once. If you set your password, sign in with it."),
        "invalid": _l("The link may have been cut short by your email program, or replaced by a newer invitation. "
                      "Copy the whole link from the newest email, or ask an admin for a new one."),
    },
}
LINK_NEXT_STEPS = {
    ("verify", "used"): ("public.status", _l("Check a request")),
    ("verify", "invalid"): ("public.new_request", _l("Make a request")),
    ("status", "expired"): ("public.status", _l("Email me a new link")),
    ("status", "used"): ("public.status", _l("Email me a new link")),
    ("status", "invalid"): ("public.status", _l("Email me a new link")),
    ("invitation", "used"): ("staff.login", _l("Staff sign-in")),
}


def link_problem(kind: str, reason: str, *, token: str | None = None):
    """The page for a link of `kind` that cannot be used: 404 for an invalid one, 410 once expired or used."""
    reason = reason if reason in ("expired", "used") else "invalid"
    return render_template(
        "link_problem.html", kind=kind, reason=reason, explanation=LINK_PROBLEMS[kind][reason],
        next_step=LINK_NEXT_STEPS.get((kind, reason)), layout="staff/base.html" if kind == "invitation" else "base.html",
        # An expired confirmation link can be replaced from the page itself.
        resend_token=token if (kind, reason) == ("verify", "expired") else None,
        form=EmptyForm()), 404 if reason == "invalid" else 410


def storage_full_form(template: str, **context):
    """The form page again, as it was typed, when the disk was full and nothing was saved (a 507):
    the requester retries later without typing it all again (a file must be attached again)."""
    return render_template(template, storage_full=MESSAGES[507], **context), 507
