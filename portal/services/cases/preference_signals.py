"""A Global Privacy Control signal from a known person (§7025(b), §7025(c)(1)): when the browser sends
`Sec-GPC: 1` during the status session of a person's own request, the signal is an opt-out request
for that person, not only for the browser. An opt-out case is opened for them (with its receipt and
its notices downstream, as any opt-out), once: not again while one is open or in effect. Their
request's page says so in a message. An agent's status session is the agent's browser, not the
consumer's: it opens nothing."""
import logging

from flask_babel import gettext as _
from sqlalchemy import exists, select
from sqlmodel import Session

from ... import clock, db, i18n, lifecycle
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...models import AgentAuthorization, PrivacyRequest, RequestMessage
from .. import audit
from .submission import get_by_reference, open_case
from .transitions import MailSpec, mail_requester

log = logging.getLogger(__name__)

MANNER = "gpc"
# An opt-out in these statuses is open or in effect: a signal adds nothing to it.
_IN_EFFECT = lifecycle.OPEN | {lifecycle.COMPLETED, lifecycle.PARTIALLY_COMPLETED}


def _person_without_opt_out(session: Session, reference: str) -> PrivacyRequest | None:
    """The request `reference` when it is a person's own (not an agent's) and they have no opt-out
    case open or in effect."""
    req = get_by_reference(session, reference)
    if req is None or not req.email:
        return None
    if session.execute(select(exists().where(AgentAuthorization.request_id == req.id))).scalar():
        return None
    in_effect = session.execute(select(exists().where(
        PrivacyRequest.email == req.email, PrivacyRequest.request_type == "opt_out",
        PrivacyRequest.status.in_(_IN_EFFECT)))).scalar()
    return None if in_effect else req


def open_for_known_person(session: Session, *, reference: str) -> PrivacyRequest | None:
    """The opt-out case the signal opened, or None when it opened none. It runs on every page of a
    status session with the signal, so it looks without the write lock and takes it only to write."""
    with db.reading(session):
        if _person_without_opt_out(session, reference) is None:
            return None
    return _open(session, reference=reference)


@atomic
def _open(session: Session, *, reference: str) -> PrivacyRequest | None:
    req = _person_without_opt_out(session, reference)  # again, under the write lock
    if req is None:
        return None
    now = clock.now()
    opt_out = open_case(session, request_type="opt_out", first_name=req.first_name, last_name=req.last_name,
                        email=req.email, manner=MANNER, language=req.language, received_at=now, actor="requester",
                        status=lifecycle.IN_PROGRESS, acknowledged_at=now, effective_at=now,
                        detail=f"manner={MANNER}; the Global Privacy Control signal during the status session "
                               f"of {req.reference}")
    mail_requester(session, opt_out, MailSpec("receipt", _l("We received your request: %(reference)s",
                                                            reference=opt_out.reference), {}))
    with i18n.language(req.language):
        body = _("Your browser sent the Global Privacy Control signal while you viewed this request. We treat it "
                 "as your request to opt out of the sale and sharing of your personal information: it is request "
                 "%(reference)s, in effect now.", reference=opt_out.reference)
    session.add(RequestMessage(request_id=req.id, direction="to_requester", author="system", body=body))
    audit.record(session, action="gpc_opt_out_opened", actor="requester", request_id=req.id,
                 detail=f"opt-out request {opt_out.reference}")
    session.commit()
    log.info("GPC signal in the status session of %s opened opt-out request %s", req.reference, opt_out.reference)
    return opt_out
