"""Access-response files (JSON and CSV) the requester downloads from the status page, for a while.

The files themselves go through the documents service (checked by content, encrypted at rest with
the MultiFernet keys, hash-checked on every read); this module adds what is particular to a
response: which case it answers, until when it can be downloaded, and every download on record.
"""
import csv
import io
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from ... import clock
from ...i18n import lazy_gettext as _l
from ...models import Document, PrivacyRequest, ResponseDownload, ResponseFile
from . import store as documents

log = logging.getLogger(__name__)

KINDS = {"json": "application/json", "csv": "text/csv", "pdf": "application/pdf"}
# Files whose text the §7024(d) disclosure scan can read; a PDF is checked as any upload instead.
SCANNED = ("json", "csv")


class FileGone(Exception):
    """The file does not belong to this request, its download period is over, or it is unreadable."""


@dataclass
class OfferedFile:
    """A response file with its document's name and size, for pages."""

    row: ResponseFile
    document: Document

    def __getattr__(self, name):
        return getattr(self.row, name)

    @property
    def filename(self) -> str:
        return self.document.original_name

    @property
    def size(self) -> int:
        return self.document.size

    @property
    def sha256(self) -> str:
        return self.document.sha256


def problem(kind: str, data: bytes) -> str | None:
    """Why `data` is not a usable response file of this kind, or None when it is."""
    if kind not in KINDS:
        return str(_l("Only JSON, CSV and PDF response files are accepted."))
    if not data:
        return str(_l("The file is empty."))
    if len(data) > current_app.config["DOCUMENT_MAX_BYTES"]:
        return str(_l("The file is larger than we accept."))
    if kind == "pdf":  # every check of an upload: a real PDF, no active content (documents.store)
        try:
            documents.check(stream=io.BytesIO(data), filename="response.pdf", declared_type=KINDS["pdf"],
                            purpose="response_file")
        except documents.DocumentRejected as exc:
            return str(exc.message)
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return str(_l("The file must be UTF-8 text."))
    if "\x00" in text or text.lstrip().startswith("<"):
        return str(_l("This is not a %(kind)s file.", kind=kind.upper()))
    if kind == "json":
        try:
            json.loads(text)
        except ValueError:
            return str(_l("This is not valid JSON."))
    else:
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error:
            return str(_l("This is not valid CSV."))
        if not rows or not any(rows[0]):
            return str(_l("The CSV file needs a header row."))
    return None


def attach(session: Session, *, req: PrivacyRequest, kind: str, data: bytes, staff_id: int, actor: str,
           now: datetime | None = None) -> ResponseFile:
    """Store one response file as a document and offer it for download, in the caller's transaction.
    Raises documents.DocumentRejected when the documents service refuses the content."""
    error = problem(kind, data)
    if error:
        raise ValueError(error)
    now = now or clock.now()
    doc = documents.store(session, stream=io.BytesIO(data), filename=f"{req.reference}-response.{kind}",
                          declared_type=KINDS[kind], purpose="response_file", request_id=req.id, uploaded_by=actor)
    row = ResponseFile(request_id=req.id, document_id=doc.id, kind=kind, staff_id=staff_id, created_at=now,
                       expires_at=now + timedelta(days=current_app.config["RESPONSE_FILE_DAYS"]))
    session.add(row)
    session.flush()
    return row


def files_for(session: Session, req: PrivacyRequest) -> list[OfferedFile]:
    """Every response file of a request, with its document, oldest first."""
    rows = session.execute(select(ResponseFile, Document).join(Document, Document.id == ResponseFile.document_id)
                           .where(ResponseFile.request_id == req.id).order_by(ResponseFile.id)).all()
    return [OfferedFile(row, doc) for row, doc in rows]


def downloads_for(session: Session, req: PrivacyRequest) -> list[ResponseDownload]:
    return list(session.execute(select(ResponseDownload).where(ResponseDownload.request_id == req.id)
                                .order_by(ResponseDownload.id)).scalars())


def download(session: Session, *, req: PrivacyRequest, file_id: int,
             now: datetime | None = None) -> tuple[Document, bytes]:
    """Decrypt one file for the requester and record the download (every download is kept)."""
    now = now or clock.now()
    row = session.get(ResponseFile, file_id)
    if row is None or row.request_id != req.id or now >= row.expires_at:
        raise FileGone(file_id)
    doc = session.get(Document, row.document_id)
    try:
        data = documents.read(session, document=doc)
    except documents.DocumentTampered:
        raise FileGone(file_id) from None
    session.add(ResponseDownload(file_id=row.id, request_id=req.id, created_at=now))
    documents.record_access(session, document=doc, actor="requester", action="document_downloaded")  # commits
    log.info("request %s: response file %s downloaded", req.reference, row.id)
    return doc, data
