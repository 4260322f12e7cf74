"""What every blueprint shares about HTTP: telling htmx requests apart, and handing files over."""
import re
import unicodedata
from urllib.parse import quote

from flask import Flask, Response, g, request

from .models import Document
from .services.documents import CSV, INLINE_TYPES, JSON


def is_htmx() -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page). A view that
    asks answers differently by this header, so its response says so (Vary)."""
    g.answer_varies_on_htmx = True
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def register(app: Flask) -> None:
    @app.after_request
    def _vary_on_htmx(response: Response) -> Response:
        # One URL, two renderings: caches must keep them apart.
        if g.get("answer_varies_on_htmx"):
            response.vary.add("HX-Request")
        return response


def content_disposition(disposition: str, filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name in filename*."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[^A-Za-z0-9._ -]', "_", ascii_name).strip() or "document"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def send_document(document: Document, data: bytes, *, inline: bool = False) -> Response:
    """A response that hands the file over without letting it run: attachment, nosniff, sandboxed."""
    inline = inline and document.content_type in INLINE_TYPES
    text = document.content_type in (CSV.content_type, JSON.content_type)
    response = Response(data, content_type=document.content_type + ("; charset=utf-8" if text else ""))
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
