"""Opt-out and limit requests take effect when they are made (§7026, §7027); what is left is telling
the recipients downstream (§7026(f), §7027(g)). The worker does both without staff: it sends the
notices not yet sent and, once every notice is delivered, recorded or explained and nothing else
holds the case (a fulfilment plan's processor items), completes it: on record as done by the system,
the requester mailed (or a letter owed) in their language, the message on their timeline.

Run every minute by `flask worker` (portal/background.py), one case per transaction.
"""
import logging

from sqlalchemy import select
from sqlmodel import Session

from ... import i18n
from ...db import atomic
from ...i18n import lazy_gettext as _l
from ...lifecycle import COMPLETED, IN_PROGRESS
from ...models import PrivacyRequest, RequestMessage
from . import notices, outcomes
from .transitions import StaleCase, transition

log = logging.getLogger(__name__)

TYPES = ("opt_out", "limit")
ACTOR = "system"
MESSAGES = {
    "opt_out": _l("We have stopped selling and sharing your personal information, and every business we sold or "
                  "shared it with has been told to stop too. Nothing more is needed from you."),
    "limit": _l("We now use and disclose your sensitive personal information only for the purposes the law allows, "
                "and every business we disclosed it to has been told to do the same. Nothing more is needed from you."),
}


def complete_settled(session: Session) -> int:
    """The scheduled job: every opt-out or limit case in progress gets its notices sent, and completes
    once they are all settled. Returns how many cases completed."""
    ids = list(session.execute(select(PrivacyRequest.id).where(
        PrivacyRequest.status == IN_PROGRESS, PrivacyRequest.request_type.in_(TYPES))
        .order_by(PrivacyRequest.id)).scalars())
    session.rollback()
    completed = 0
    for request_id in ids:
        try:
            completed += settle(session, request_id=request_id)
        except StaleCase:  # a member of staff acted on it meanwhile: the next pass looks again
            continue
    if completed:
        log.info("%s opt-out or limit cases completed once their notices were settled", completed)
    return completed


@atomic
def settle(session: Session, *, request_id: int) -> int:
    """One case: its notices sent if any are missing; completed (1) if all are settled, else 0."""
    req = session.get(PrivacyRequest, request_id)
    if req is None or req.status != IN_PROGRESS or req.request_type not in TYPES:
        return 0
    if notices.can_send(req):
        notices.tell_concerned(session, req=req, actor=ACTOR)
    if outcomes.blocking_completion(session, req) is not None:
        session.commit()
        return 0
    with i18n.language(req.language):
        message = str(MESSAGES[req.request_type])
    version = req.version
    req.response_message, req.outcome_code, req.outcome_citation = message, None, None
    transition(session, req, COMPLETED, actor=ACTOR, action="completed_automatically", expected_version=version,
               detail="every notice downstream delivered, recorded or explained",
               mail_spec=outcomes.completion_mail(req, outcomes.Completion(message=message), untold=[]))
    session.add(RequestMessage(request_id=req.id, direction="to_requester", author=ACTOR, body=message))
    session.commit()
    return 1
