"""The access package of a case: built once every automatic access item is settled, from every
connected system's rows collected again from the verified identity (the items record counts only,
so values never sit in the portal outside the package), through the disclosure scan, and stored
encrypted through the documents service until staff review it and release it with the completion
(the completion form attaches its JSON and a one-sheet CSV as the response files)."""
import io
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...models import Document, FulfilmentItem, PrivacyRequest
from .. import audit
from ..documents import store as documents
from . import work
from .connectors import package
from .plan import SETTLED, configured_map, items_for
from .run_queue import queue

log = logging.getLogger(__name__)

PURPOSE = "access_package"


def stored(session: Session, req: PrivacyRequest) -> Document | None:
    """The case's package document, the newest."""
    return session.execute(select(Document).where(Document.request_id == req.id, Document.purpose == PURPOSE)
                           .order_by(Document.id.desc()).limit(1)).scalar()


def read(session: Session, req: PrivacyRequest) -> bytes | None:
    """The package's JSON as the requester receives it (already scanned), or None when not built."""
    doc = stored(session, req)
    return bytes(documents.read(session, document=doc)) if doc is not None else None


def ready(items: list[FulfilmentItem]) -> bool:
    automatic = [i for i in items if i.kind == "automatic"]
    return bool(automatic) and all(i.state in SETTLED for i in automatic)


def build_when_complete(session: Session, *, request_id: int) -> Document | None:
    """Build and store the package when every automatic access item is settled and none is stored yet."""
    req = session.get(PrivacyRequest, request_id)
    items = items_for(session, req)
    if req.request_type != "access" or not ready(items) or stored(session, req) is not None:
        session.rollback()
        return None
    return build(session, req=req, items=items)


@atomic
def queue_rebuild(session: Session, *, request_id: int) -> None:
    """A `package` run on the case's first automatic item, due after FULFIL_RUN_RETRY_BASE_SECONDS: the
    worker (or at once `fulfil run`) builds the package again, retried with backoff, after it failed."""
    item = next((i for i in items_for(session, session.get(PrivacyRequest, request_id)) if i.kind == "automatic"), None)
    if item is not None:
        run = queue(session, item=item, action="package")
        run.next_attempt_at = clock.now() + timedelta(seconds=current_app.config["FULFIL_RUN_RETRY_BASE_SECONDS"])
    session.commit()


def build(session: Session, *, req: PrivacyRequest, items: list[FulfilmentItem] | None = None) -> Document:
    """Collect every found system again (outside any portal transaction) and store the package."""
    items = items if items is not None else items_for(session, req)
    datamap, seeds = configured_map(), work.seeds_for(session, req)
    systems = [i.system for i in items if i.kind == "automatic" and i.found]
    reference, language, req_id = req.reference, req.language, req.id
    session.rollback()
    results = [work.collect(datamap, system, seeds) for system in systems]
    built = package.build_package(reference=reference, request_type="access", generated_at=clock.now(),
                                  results=results, datamap=datamap, language=language)
    return _store(session, req_id=req_id, reference=reference, built=built)


@atomic
def _store(session: Session, *, req_id: int, reference: str, built: package.AccessPackage) -> Document:
    doc = documents.store(session, stream=io.BytesIO(built.json), filename=f"{reference}-access-package.json",
                          declared_type="application/json", purpose=PURPOSE, request_id=req_id,
                          uploaded_by="connector")
    audit.record(session, action="access_package_built", actor="system", request_id=req_id,
                 detail=f"document {doc.id}: {doc.size} bytes, {len(built.withheld)} values withheld")
    session.commit()
    log.info("request %s: access package stored (document %s)", reference, doc.id)
    return doc


def released_files(req: PrivacyRequest) -> dict[str, bytes]:
    """What releasing the package attaches to the completion: its JSON and one CSV sheet (empty: none built)."""
    from ... import db

    data = read(db.session(), req)
    return {"json": data, "csv": package.one_sheet_csv(data)} if data is not None else {}
