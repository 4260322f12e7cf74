"""Access-response files (JSON and CSV): encrypted at rest, downloaded by the requester for a while.

Self-contained on purpose: the general documents service can take over storage later. The
ciphertext lives in the database (Fernet via MultiFernet, newest key first), so every app process
sees the same files and a key rotation only needs `MultiFernet.rotate`.
"""
import csv
import hashlib
import io
import json
import logging
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlmodel import Session

from ..models import PrivacyRequest, ResponseDownload, ResponseFile, utcnow
from . import audit

log = logging.getLogger(__name__)

KINDS = {"json": "application/json", "csv": "text/csv; charset=utf-8"}


class FileGone(Exception):
    """The file does not belong to this request, or its download period is over."""


def _crypto() -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in current_app.config["ENCRYPTION_KEYS"]])


def problem(kind: str, data: bytes) -> str | None:
    """Why `data` is not a usable response file of this kind, or None when it is."""
    if kind not in KINDS:
        return str(_l("Only JSON and CSV response files are accepted."))
    if not data:
        return str(_l("The file is empty."))
    if len(data) > current_app.config["RESPONSE_FILE_MAX_BYTES"]:
        return str(_l("The file is larger than we accept."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return str(_l("The file must be UTF-8 text."))
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


def attach(session: Session, *, req: PrivacyRequest, kind: str, data: bytes, staff_id: int,
           now: datetime | None = None) -> ResponseFile:
    """Encrypt and store one response file, in the caller's transaction."""
    error = problem(kind, data)
    if error:
        raise ValueError(error)
    now = now or utcnow()
    row = ResponseFile(request_id=req.id, kind=kind, filename=f"{req.reference}-response.{kind}",
                       content_type=KINDS[kind], size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                       ciphertext=_crypto().encrypt(data), staff_id=staff_id, created_at=now,
                       expires_at=now + timedelta(days=current_app.config["RESPONSE_FILE_DAYS"]))
    session.add(row)
    session.flush()
    return row


def files_for(session: Session, req: PrivacyRequest) -> list[ResponseFile]:
    """Every response file of a request (without the content), oldest first."""
    return list(session.execute(select(ResponseFile).options(defer(ResponseFile.ciphertext))
                                .where(ResponseFile.request_id == req.id).order_by(ResponseFile.id)).scalars())


def downloads_for(session: Session, req: PrivacyRequest) -> list[ResponseDownload]:
    return list(session.execute(select(ResponseDownload).where(ResponseDownload.request_id == req.id)
                                .order_by(ResponseDownload.id)).scalars())


def download(session: Session, *, req: PrivacyRequest, file_id: int,
             now: datetime | None = None) -> tuple[ResponseFile, bytes]:
    """Decrypt one file for the requester and record the download (every download is kept)."""
    now = now or utcnow()
    row = session.get(ResponseFile, file_id)
    if row is None or row.request_id != req.id or now >= row.expires_at:
        raise FileGone(file_id)
    data = _crypto().decrypt(row.ciphertext)
    if hashlib.sha256(data).hexdigest() != row.sha256:  # the stored file was altered
        raise FileGone(file_id)
    session.add(ResponseDownload(file_id=row.id, request_id=req.id, created_at=now))
    audit.record(session, action="response_downloaded", actor="requester", request_id=req.id,
                 detail=f"file {row.id} ({row.kind})")
    session.commit()
    log.info("request %s: response file %s downloaded", req.reference, row.id)
    return row, data
