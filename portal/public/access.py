"""Who sees a case from the requester's side: the short status session that a confirmed email or a
spent status link opens, bound to one reference, and the checks the case page and its actions make."""
from flask import abort, current_app, session

from .. import clock, db
from ..models import Inquiry, PrivacyRequest
from ..services.cases import status_access as status_service


def grant_status_access(reference: str) -> None:
    minutes = current_app.config["STATUS_SESSION_MINUTES"]
    session["status_access"] = {"ref": reference, "until": int(clock.timestamp()) + minutes * 60}


def status_session_or_403(reference: str) -> None:
    """Only the browser whose status session opened this reference; the same 403 page for everyone else."""
    access = session.get("status_access") or {}
    if access.get("ref") != reference or access.get("until", 0) < clock.timestamp():
        abort(403)


def case_or_403(reference: str):
    """The request or inquiry this browser's status session opened; the same 403 page for everyone else."""
    status_session_or_403(reference)
    case = status_service.find(db.session(), reference)
    if case is None:
        abort(403)
    return case


def request_or_403(reference: str) -> PrivacyRequest:
    case = case_or_403(reference)
    if not isinstance(case, PrivacyRequest):
        abort(403)
    return case


def inquiry_or_403(reference: str) -> Inquiry:
    case = case_or_403(reference)
    if not isinstance(case, Inquiry):
        abort(403)
    return case
