"""Status access for requesters, agents and inquiry senders: reference + email -> magic link -> session."""
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, exists, or_, select, true
from sqlalchemy.engine import Connection
from sqlmodel import Session

from ... import normalize
from ...db import IdentityCompiledCache, atomic
from ...i18n import lazy_gettext as _l
from ...models import CaseOutcome, ContestedStatement, Document, Inquiry, PrivacyRequest, ResponseFile
from ...urls import external_url
from .. import audit
from ..delivery import mail
from ..documents import response_files
from ..identity import tokens
from . import inquiries, outcomes, references, transitions, verification
from . import submission as requests


def find(session: Session, reference: str) -> PrivacyRequest | Inquiry | None:
    """The request or inquiry with this reference."""
    return requests.get_by_reference(session, reference) or inquiries.get_by_reference(session, reference)


@dataclass(frozen=True)
class RequestPage:
    """What the requester's status page shows besides the request itself."""

    timeline: list[requests.TimelineEntry]
    files: list[response_files.OfferedFile]
    outcome: CaseOutcome | None
    contested: ContestedStatement | None
    can_contest: bool


# What the status page shows of a request and decides its forms by (the template, _render_detail's
# checks, verification.missing_points): the personal details beyond these are not read for it.
PAGE_COLUMNS = ("id", "reference", "request_type", "status", "hold_reason", "access_scope", "declaration_signature",
                "received_at", "response_due", "extended_due", "extension_reason", "effective_at", "closed_at",
                "outcome_citation", "response_message", "correction_points", *verification.ADDABLE_POINTS)


class RequestSnapshot(SimpleNamespace):
    """A request as its status page reads it: its PAGE_COLUMNS, read without the ORM (whose
    bookkeeping cost a tenth of the page), and nothing ever written through it."""

    due = PrivacyRequest.due

    def __getitem__(self, name):
        # Jinja looks up obj[name] when obj.name is missing, and shows a miss as nothing: make it an error.
        raise RuntimeError(f"the status page does not read a request's {name!r} (status.PAGE_COLUMNS)")


# The outcome and the contested statement (at most one of each per request) and the response
# files (any number), in one statement: a row per file, at least one row.
_EXTRAS = (select(CaseOutcome, ContestedStatement, ResponseFile, Document).select_from(PrivacyRequest)
           .outerjoin(CaseOutcome, CaseOutcome.request_id == PrivacyRequest.id)
           .outerjoin(ContestedStatement, ContestedStatement.request_id == PrivacyRequest.id)
           .outerjoin(ResponseFile, ResponseFile.request_id == PrivacyRequest.id)
           .outerjoin(Document, Document.id == ResponseFile.document_id)
           .where(PrivacyRequest.id == bindparam("request_id"))
           .order_by(ResponseFile.id))

# The request's timeline, found by its reference.
_TIMELINE = requests.timeline_union(
    select(PrivacyRequest.id).where(PrivacyRequest.reference == bindparam("reference")).scalar_subquery()
).subquery("t")

# The request's PAGE_COLUMNS and whether it has any of _EXTRAS: most views are of a request still open,
# which has none, and reading the four empty entities alongside cost more than the request itself.
# (LIMIT keeps it a subquery of its own, so the three EXISTS run once, not once per timeline row.)
_ROW = PrivacyRequest.__table__.alias("p")
_HEAD = select(*(_ROW.c[name] for name in PAGE_COLUMNS), or_(
    exists().where(CaseOutcome.request_id == _ROW.c.id),
    exists().where(ContestedStatement.request_id == _ROW.c.id),
    exists().where(ResponseFile.request_id == _ROW.c.id)).label("has_extras")
).where(_ROW.c.reference == bindparam("reference")).limit(1).subquery("r")

# ...and its timeline: a row per entry, at least one row. One round trip, where two cost a third
# of the page's time on PostgreSQL. The short aliases keep its text under the length up to which
# psycopg keeps a statement's conversion to PostgreSQL's placeholders (4,096 characters).
_REQUEST = select(*_HEAD.c, *(c.label(f"t_{c.key}") for c in _TIMELINE.c)).outerjoin(_TIMELINE, true())
_REQUEST_OPTIONS = {"compiled_cache": IdentityCompiledCache()}


def _page(req: PrivacyRequest | RequestSnapshot, timeline: list[requests.TimelineEntry], rows) -> RequestPage:
    """The page from rows of (outcome, statement, file, document), and the timeline."""
    outcome, contested = (rows[0][0], rows[0][1]) if rows else (None, None)  # rows: unless purged meanwhile
    files = [response_files.OfferedFile(row, doc) for _o, _c, row, doc in rows if row is not None]
    return RequestPage(timeline=timeline, files=files, outcome=outcome, contested=contested,
                       can_contest=outcomes.contest_open(req, outcome, contested))


def request_page(session: Session, req: PrivacyRequest) -> RequestPage:
    """What the status page shows about a request already read: two queries."""
    return _page(req, requests.timeline(session, req), session.execute(_EXTRAS, {"request_id": req.id}).all())


@dataclass(frozen=True)
class FoundRequest:
    """A request as `find_request` read it for its status page."""

    request: RequestSnapshot
    timeline: list[requests.TimelineEntry]
    has_extras: bool  # an outcome, a contested statement or response files: `page_of` reads them


def find_request(reader: Connection, reference: str) -> FoundRequest | None:
    """The request with this reference and its timeline, in one statement, on a read-only view's
    connection (db.read_connection); None when no request has it."""
    rows = reader.execute(_REQUEST, {"reference": reference}, execution_options=_REQUEST_OPTIONS).all()
    if not rows:
        return None
    width = len(PAGE_COLUMNS)
    return FoundRequest(request=RequestSnapshot(**dict(zip(PAGE_COLUMNS, rows[0][:width]))),
                        timeline=requests.entries([row[width + 1:] for row in rows if row[width + 1] is not None]),
                        has_extras=bool(rows[0][width]))


def page_of(found: FoundRequest, session: Callable[[], Session]) -> RequestPage:
    """What the status page shows of a request `find_request` read: its outcome, statement and
    files are read through the ORM (`session()`, asked for only then) when it has any."""
    extras = session().execute(_EXTRAS, {"request_id": found.request.id}).all() if found.has_extras else []
    return _page(found.request, found.timeline, extras)


@atomic
def send_link(session: Session, *, reference: str, email: str) -> None:
    """Mail a status link when reference and email match. Says nothing either way (enumeration)."""
    ref = references.normalize(reference)
    case = find(session, ref) if ref else None
    if case is None or not secrets.compare_digest(case.email.encode(), normalize.email(email).encode()):
        return
    minutes = current_app.config["STATUS_TOKEN_MINUTES"]
    is_request = isinstance(case, PrivacyRequest)
    owner = {"request_id": case.id} if is_request else {"inquiry_id": case.id}
    token = tokens.issue(session, purpose="status", ttl=timedelta(minutes=minutes), **owner)
    mail.queue(session, to=case.email, template="status_link",
               subject=_l("Your link to %(reference)s", reference=case.reference),
               context={"reference": case.reference, "name": transitions.recipient_name(transitions.agent_of(session, case), case) if is_request else case.name,
                        "link": external_url("public.status_token", token=token.value), "minutes": minutes},
               request_id=case.id if is_request else None, language=case.language)
    audit.record(session, action="status_link_sent", actor="requester", **owner)
    session.commit()


@atomic
def open_session(session: Session, *, token: str) -> str:
    """Spend a status token; returns the reference the caller opens a short session for."""
    row = tokens.spend(session, value=token, purpose="status")
    case = session.get(PrivacyRequest, row.request_id) if row.request_id else session.get(Inquiry, row.inquiry_id)
    audit.record(session, action="status_viewed", actor="requester", request_id=row.request_id,
                 inquiry_id=row.inquiry_id)
    session.commit()
    return case.reference


def check(session: Session, *, token: str) -> None:
    """Raise tokens.TokenError unless the status token can be used."""
    tokens.check(session, value=token, purpose="status")
