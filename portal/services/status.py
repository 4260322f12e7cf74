"""Status access for requesters, agents and inquiry senders: reference + email -> magic link -> session."""
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlmodel import Session

from .. import normalize
from ..models import Inquiry, PrivacyRequest
from ..urls import external_url
from . import audit, inquiries, mail, references, requests, tokens, transitions


def find(session: Session, reference: str) -> PrivacyRequest | Inquiry | None:
    """The request or inquiry with this reference."""
    return requests.get_by_reference(session, reference) or inquiries.get_by_reference(session, reference)


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
