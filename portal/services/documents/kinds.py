"""What an uploaded file is, decided by its bytes: magic bytes (`filetype`), then the whole file
checked by a real parser (upload_checks), then its name and declared type checked against what was
found. Also the upload's size cap and a safe name to keep."""
import csv
import io
import json
import re
import struct
import tempfile
import unicodedata
import zlib
from dataclasses import dataclass

import filetype
from flask import current_app

from ...i18n import lazy_gettext as _l
from . import upload_checks

# correction: a document the requester sends with a correction request (§7023), for staff to weigh.
# access_package: the JSON the connectors built for an access request, until staff release it.
PURPOSES = ("authorization", "evidence", "inquiry_attachment", "response_file", "correction", "access_package")


@dataclass(frozen=True)
class Kind:
    content_type: str
    extensions: tuple[str, ...]
    aliases: tuple[str, ...]  # declared types browsers use for it
    label: str


PDF = Kind("application/pdf", (".pdf",), ("application/pdf", "application/x-pdf"), "PDF")


PNG = Kind("image/png", (".png",), ("image/png",), "PNG")


JPEG = Kind("image/jpeg", (".jpg", ".jpeg", ".jpe", ".jfif"), ("image/jpeg", "image/jpg", "image/pjpeg"), "JPEG")


JSON = Kind("application/json", (".json",), ("application/json", "text/json", "text/plain"), "JSON")


# Windows browsers declare .csv files as Excel documents.
CSV = Kind("text/csv", (".csv",), ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel"), "CSV")


KINDS = {k.content_type: k for k in (PDF, PNG, JPEG, JSON, CSV)}


CHUNK = 64 * 1024  # how much of an upload is read at a time
ACCEPTED = {purpose: (PDF, PNG, JPEG) for purpose in PURPOSES}
ACCEPTED["response_file"] = (PDF, PNG, JPEG, JSON, CSV)
ACCEPTED["access_package"] = (JSON,)
# A declared type that says nothing about the content; the content alone decides then.
NO_CLAIM = {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}


INLINE_TYPES = {PDF.content_type, PNG.content_type, JPEG.content_type}


class DocumentRejected(Exception):
    """The upload is not accepted; `message` says why and what is accepted (safe to show)."""

    def __init__(self, message, *, code: str = "rejected"):
        super().__init__(str(message))
        self.message = message
        self.code = code  # empty | too_large | too_complex | type | mismatch | damaged | active_content


def accepted_label(purpose: str) -> str:
    """"PDF, PNG or JPEG" for the purpose, for messages and hints."""
    labels = [k.label for k in ACCEPTED[purpose]]
    return _l("%(first)s or %(last)s", first=", ".join(labels[:-1]), last=labels[-1])


def max_bytes() -> int:
    return int(current_app.config["DOCUMENT_MAX_BYTES"])


def size_label(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def _too_large(limit: int) -> DocumentRejected:
    return DocumentRejected(_l("The file is larger than %(size)s. Send a smaller file.", size=size_label(limit)),
                            code="too_large")


def _seekable(stream) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def read_capped(stream, limit: int) -> bytes:
    """Read a file-like object, refusing as soon as it passes `limit` bytes.

    The upload ends up in memory once: a seekable stream (werkzeug spools uploads to a file) is
    measured and read in one piece; any other is first copied to a temporary file in chunks.
    """
    if not _seekable(stream):
        with tempfile.TemporaryFile() as spool:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                spool.write(chunk)
                if spool.tell() > limit:
                    # Stop here: a 100 MB upload costs one chunk past the cap, never the whole body.
                    raise _too_large(limit)
            spool.seek(0)
            return read_capped(spool, limit)
    start = stream.tell()
    size = stream.seek(0, io.SEEK_END) - start
    stream.seek(start)
    if size > limit:
        raise _too_large(limit)
    data = stream.read(size + 1)
    if len(data) > limit:  # grew since it was measured
        raise _too_large(limit)
    return data


_PDF_HEADER = re.compile(rb"%PDF-(1\.[0-7]|2\.0)[\r\n %]")


# The upload must be complete: a trailer at the end, after which only whitespace (some scanners
# pad with NULs) may follow. The xref offset itself may be a little wrong, as scanners write it:
# qpdf rebuilds the table, as viewers do.
_PDF_TAIL = re.compile(rb"startxref\s+\d+\s+%%EOF[\s\x00]*\Z")


# Markup a browser or viewer would act on, anywhere in an image: a polyglot is refused.
_MARKUP = re.compile(rb"<\s*(script|html|svg|iframe|body|object|embed|\?xml|!doctype)|%PDF-|<\?php", re.I)


_ACTIVE_PDF = _l("The PDF contains scripts, embedded files or actions that we do not accept. "
                 "Print it to a new PDF, or send a scan as PNG or JPEG.")


def _check_pdf(data: bytes) -> bytes:
    """The PDF as qpdf rewrote it from the objects checked (what is stored and served, so every
    viewer sees what was checked); DocumentRejected otherwise."""
    damaged = DocumentRejected(_l("The PDF is damaged or incomplete (it may not have finished uploading). "
                                  "Send the complete file as a PDF, PNG or JPEG."), code="damaged")
    if not _PDF_HEADER.match(data) or not _PDF_TAIL.search(data[-2048:]):
        raise damaged  # truncated: no trailer, or something appended after the last %%EOF
    cfg = current_app.config
    try:
        return upload_checks.check_pdf(data, max_objects=int(cfg["PDF_MAX_OBJECTS"]),
                                       seconds=float(cfg["PDF_CHECK_SECONDS"]),
                                       memory_mb=int(cfg["PDF_CHECK_MEMORY_MB"]))
    except upload_checks.Refused as refused:
        if refused.code == "active_content":
            raise DocumentRejected(_ACTIVE_PDF, code="active_content") from None
        if refused.code == "encrypted":
            raise DocumentRejected(_l("The PDF is protected by a password, so we cannot check it. Send it "
                                      "without the password, or send a scan as PNG or JPEG."), code="damaged") from None
        if refused.code == "too_complex":
            raise DocumentRejected(_l("The PDF is too complex for us to check (too many parts, or it takes too "
                                      "long to read). Print it to a new PDF, or send a scan as PNG or JPEG."),
                                   code="too_complex") from None
        raise damaged from None


def _check_image(data: bytes, kind: "Kind") -> bytes:
    """The image's structure and size checked; returned without its metadata."""
    limit = int(current_app.config["IMAGE_MAX_PIXELS"])
    try:
        upload_checks.image_size(data, "PNG" if kind is PNG else "JPEG", limit)
    except upload_checks.Refused as refused:
        if refused.code == "too_large":
            raise DocumentRejected(_l("The image has more than %(n)s million pixels. Send a smaller scan "
                                      "(300 dpi is enough).", n=f"{limit / 1_000_000:g}"), code="too_large") from None
        raise DocumentRejected(_l("The %(kind)s image is damaged or incomplete. Send the complete file as a "
                                  "PDF, PNG or JPEG.", kind=kind.label), code="damaged") from None
    (_check_png if kind is PNG else _check_jpeg)(data)
    try:
        return upload_checks.strip_png(data) if kind is PNG else upload_checks.strip_jpeg(data)
    except upload_checks.Refused:
        raise DocumentRejected(_l("The %(kind)s image is damaged or incomplete. Send the complete file as a "
                                  "PDF, PNG or JPEG.", kind=kind.label), code="damaged") from None


def _check_png(data: bytes) -> None:
    damaged = DocumentRejected(_l("The PNG image is damaged or incomplete. Send the complete file as a "
                                  "PDF, PNG or JPEG."), code="damaged")
    pos, first = 8, True
    while True:
        if pos + 12 > len(data):
            raise damaged
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body_end = pos + 8 + length
        if body_end + 4 > len(data) or (first and ctype != b"IHDR"):
            raise damaged
        (crc,) = struct.unpack(">I", data[body_end:body_end + 4])
        if zlib.crc32(data[pos + 4:body_end]) != crc:
            raise damaged
        pos, first = body_end + 4, False
        if ctype == b"IEND":
            break
    if pos != len(data):
        raise DocumentRejected(_l("The image carries extra data after its end. Send a plain PDF, PNG or JPEG."),
                               code="active_content")


def _check_jpeg(data: bytes) -> None:
    if not (data.startswith(b"\xff\xd8\xff") and data.rstrip(b"\x00").endswith(b"\xff\xd9")):
        raise DocumentRejected(_l("The JPEG image is damaged or incomplete. Send the complete file as a "
                                  "PDF, PNG or JPEG."), code="damaged")


def _check_text(data: bytes, kind: Kind) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentRejected(_l("%(kind)s files must be UTF-8 text.", kind=kind.label), code="type") from exc
    if "\x00" in text or text.lstrip().startswith("<"):
        raise DocumentRejected(_l("This is not a %(kind)s file.", kind=kind.label), code="type")
    return text


def detect(data: bytes, purpose: str) -> tuple[Kind, bytes]:
    """What the bytes are, by magic number and structure, and the bytes to keep (an image without
    its metadata); DocumentRejected if not accepted."""
    accepted = ACCEPTED[purpose]
    not_accepted = DocumentRejected(_l("We accept %(types)s files only; this file is not one of them.",
                                       types=accepted_label(purpose)), code="type")
    guess = filetype.guess(data[:8192])
    kind = KINDS.get(guess.mime) if guess else None
    if kind in (PDF, PNG, JPEG) and kind in accepted:
        if kind is PDF:
            return kind, _check_pdf(data)
        if _MARKUP.search(data):
            raise DocumentRejected(_l("The image also contains web page or document code, which we do not "
                                      "accept. Send a plain PDF, PNG or JPEG."), code="active_content")
        return kind, _check_image(data, kind)
    if guess is None and JSON in accepted:
        head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if head in (b"{", b"["):
            text = _check_text(data, JSON)
            try:
                json.loads(text)
            except ValueError as exc:
                raise DocumentRejected(_l("The JSON file could not be read (it is not valid JSON)."),
                                       code="damaged") from exc
            return JSON, data
        text = _check_text(data, CSV)
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise DocumentRejected(_l("The CSV file could not be read."), code="damaged") from exc
        if not rows:
            raise not_accepted
        return CSV, data
    raise not_accepted


_UNSAFE = re.compile(r'[<>:"|?*;\\/]')


MAX_NAME = 120


def sanitize_filename(name: str | None, kind: Kind) -> str:
    """A display and download name: no path, no control or invisible characters, NFKC, bounded.

    Only ever used as a label: the blob is stored under a random name.
    """
    name = unicodedata.normalize("NFKC", name or "")
    # NFKC first, so a fullwidth solidus or similar becomes "/" and is cut away with the path.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Drop control, format (bidi overrides that fake an extension), surrogate and unassigned characters.
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", _UNSAFE.sub("_", name)).strip()
    stem, dot, ext = name.rpartition(".")
    ext = dot + ext
    if ext.lower() not in kind.extensions:
        stem, ext = name, kind.extensions[0]
    # No leading dot (a hidden file once saved), no trailing dots or spaces (Windows drops them).
    stem = stem.strip(" .")[:MAX_NAME - len(ext)].rstrip(" .") or "document"
    return stem + ext.lower()


def _extension(name: str | None) -> str:
    base = unicodedata.normalize("NFKC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    stem, dot, ext = base.rpartition(".")
    return (dot + ext).lower() if dot else ""


def check_claims(kind: Kind, filename: str | None, declared_type: str | None, purpose: str) -> None:
    declared = (declared_type or "").split(";")[0].strip().lower()
    ext = _extension(filename)
    if (declared not in NO_CLAIM and declared not in kind.aliases) or (ext and ext not in kind.extensions):
        raise DocumentRejected(_l("The file's name or type does not match its content (it looks like a %(kind)s). "
                                  "We accept %(types)s files; send the original file without renaming it.",
                                  kind=kind.label, types=accepted_label(purpose)), code="mismatch")
