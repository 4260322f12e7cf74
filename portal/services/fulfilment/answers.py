"""Recording an item's outcome: staff by hand (staff tasks, automatic items until a connector runs
them, processors told by hand), and a processor's own answer through its single-use link or a signed
webhook reply. Every change is audited by item id and state, never with the note's words.

The link is an itsdangerous-signed, purpose-bound ("processor_answer"), single-use token like the
portal's others (services/identity/tokens.py), bound to one item: it opens that item and no other.
The webhook reply is checked with the same HMAC-SHA256 scheme the portal signs its own webhooks with
(services/delivery/webhooks.py), under the recipient's shared secret, its timestamp recent. An
unknown item, a bad signature and a recipient without a secret get the same refusal.
"""
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from ... import clock
from ...db import atomic
from ...models import SETTLED_ITEM_STATES, FulfilmentItem, PrivacyRequest, Recipient, StaffUser, VerificationToken
from ...urls import external_url
from .. import audit
from ..cases import notices
from ..delivery import webhooks
from ..documents import kinds
from ..documents import store as documents
from ..identity import tokens

log = logging.getLogger(__name__)

PURPOSE = "processor_answer"
SETTLED = frozenset(SETTLED_ITEM_STATES)
STAFF_STATES = ("in_progress", "done", "not_found", "not_held", "failed")
PROCESSOR_ANSWERS = {"done": "We found this consumer's data and did what was asked",
                     "not_found": "We searched and found no data about this consumer",
                     "not_held": "We hold no personal information for you of this kind"}


class AnswerRefused(Exception):
    """An outcome that cannot be recorded; the message is for people, `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def ask(session: Session, *, req: PrivacyRequest, item: FulfilmentItem, recipient: Recipient) -> None:
    """Send the request to a processor as its notice downstream, with its answer link and reply address
    (a recipient told by hand gets no link: staff record its answer), in the caller's transaction."""
    extra = {}
    if recipient.method != "manual":
        issued = tokens.issue(session, purpose=PURPOSE, request_id=req.id,
                              ttl=timedelta(days=int(current_app.config["FULFIL_ANSWER_DAYS"])))
        item.answer_token_id = issued.row.id
        extra = {"item_id": item.item_key,
                 "answer_url": external_url("processor.answer", item_key=item.item_key, token=issued.value),
                 "reply_url": external_url("processor.reply")}
    item.notice_id = notices.notify_recipient(session, req, recipient, extra=extra).id


def staff_may_record(item: FulfilmentItem, recipient_method: str | None) -> bool:
    """Staff record automatic items and staff tasks; a processor's only when it is told by hand."""
    return item.kind != "processor" or recipient_method == "manual" or item.answer_token_id is None


def _settle(item: FulfilmentItem, *, state: str, note: str | None, actor: str, via: str) -> None:
    item.state = state
    item.found = {"done": True, "not_found": False, "not_held": False}.get(state, item.found)
    item.outcome_note = (note or "").strip()[:5000] or None
    item.answered_via, item.updated_by, item.updated_at = via, actor, clock.now()


@atomic
def record(session: Session, *, req: PrivacyRequest, item_id: int, staff: StaffUser, state: str, note: str | None,
           evidence=None) -> FulfilmentItem:
    """Staff record an item's outcome and evidence (`evidence`: an uploaded file, or None)."""
    item = session.get(FulfilmentItem, item_id)
    if item is None or item.request_id != req.id:
        raise LookupError(item_id)
    recipient = session.get(Recipient, item.recipient_id) if item.recipient_id else None
    if not staff_may_record(item, recipient.method if recipient else None):
        raise AnswerRefused("The processor answers this item itself, through its link or a signed reply.")
    if req.status != "in_progress":
        raise AnswerRefused("The plan is recorded while the case is in progress.")
    if state not in STAFF_STATES:
        raise AnswerRefused("Choose the outcome.", "state")
    if state in ("done", "failed") and not (note or "").strip():
        raise AnswerRefused("Say what was done (or what went wrong).", "note")
    actor = audit.staff_actor(staff)
    if evidence is not None and getattr(evidence, "filename", ""):
        try:
            doc = documents.store(session, stream=evidence.stream, filename=evidence.filename,
                                  declared_type=evidence.mimetype, purpose="evidence", request_id=req.id,
                                  uploaded_by=actor)
        except kinds.DocumentRejected as exc:
            raise AnswerRefused(str(exc.message), "evidence") from None
        item.document_id = doc.id
    _settle(item, state=state, note=note, actor=actor, via="staff")
    audit.record(session, action="fulfilment_item_recorded", actor=actor, request_id=req.id,
                 detail=f"item {item.id} ({item.kind}): {state}" + ("; evidence file" if item.document_id else ""))
    session.commit()
    return item


# ---- a processor's answer ------------------------------------------------------------------------

@dataclass
class LinkView:
    item: FulfilmentItem
    req: PrivacyRequest


def open_link(session: Session, *, item_key: str, token: str) -> LinkView:
    """The item a link opens, if the token is good for that item now; tokens.TokenError otherwise."""
    row = tokens.check(session, value=token, purpose=PURPOSE)
    item = session.execute(select(FulfilmentItem).where(FulfilmentItem.item_key == item_key)).scalar()
    # A token opens its own item only: another item's key is refused like a bad token.
    if item is None or item.answer_token_id != row.id or item.request_id != row.request_id:
        raise tokens.TokenError("invalid")
    if item.state in SETTLED:
        raise tokens.TokenError("used")
    return LinkView(item, session.get(PrivacyRequest, item.request_id))


@atomic
def answer_by_link(session: Session, *, item_key: str, token: str, answer: str, note: str | None) -> FulfilmentItem:
    """The processor's answer through its link: spends the token (a second use is refused)."""
    if answer not in PROCESSOR_ANSWERS:
        raise AnswerRefused("Choose your answer.", "answer")
    view = open_link(session, item_key=item_key, token=token)
    tokens.spend(session, value=token, purpose=PURPOSE)
    _answered(session, view.item, answer=answer, note=note, via="link")
    session.commit()
    return view.item


MAX_REPLY_BYTES = 16 * 1024  # an answer and a note; the item is found (and the signature checked) after parsing


@atomic
def answer_by_webhook(session: Session, *, body: bytes, timestamp: str, signature: str) -> FulfilmentItem:
    """A signed webhook reply: {"item_id", "answer", "note"}. AnswerRefused("unauthorized") for an
    unknown item, a recipient without a secret or a bad or stale signature, alike."""
    if len(body) > MAX_REPLY_BYTES:
        raise AnswerRefused("the body is too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise AnswerRefused("the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("item_id"), str):
        raise AnswerRefused("the body needs item_id")
    item = session.execute(select(FulfilmentItem).where(FulfilmentItem.item_key == data["item_id"][:36])).scalar()
    recipient = session.get(Recipient, item.recipient_id) if item is not None and item.recipient_id else None
    if not webhooks.verify_reply(recipient.webhook_secret if recipient else None, timestamp, body, signature,
                                max_age_seconds=int(current_app.config["FULFIL_REPLY_MAX_AGE_SECONDS"])):
        raise AnswerRefused("unauthorized")
    if data.get("answer") not in PROCESSOR_ANSWERS:
        raise AnswerRefused(f"answer must be one of {', '.join(PROCESSOR_ANSWERS)}")
    if item.state in SETTLED or item.answer_token_id is None:
        raise AnswerRefused("already answered")
    note = data.get("note") if isinstance(data.get("note"), str) else None
    token = session.get(VerificationToken, item.answer_token_id)
    if token is None or token.used_at is not None:
        raise AnswerRefused("already answered")
    token.used_at = clock.now()  # one answer per item, whichever way it comes
    _answered(session, item, answer=data["answer"], note=note, via="webhook")
    session.commit()
    return item



def _answered(session: Session, item: FulfilmentItem, *, answer: str, note: str | None, via: str) -> None:
    _settle(item, state=answer, note=note, actor=f"processor:{item.recipient_id}", via=via)
    audit.record(session, action="fulfilment_processor_answered", actor=f"processor:{item.recipient_id}",
                 request_id=item.request_id, detail=f"item {item.id}: {answer} (by {via})")
    log.info("fulfilment item %s answered by its processor (%s)", item.id, via)
