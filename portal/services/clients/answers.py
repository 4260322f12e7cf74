"""A client's answer to a forwarded request: through its single-use link (GET shows the form, only POST
spends the token) or a signed webhook reply, checked with the HMAC-SHA256 scheme the portal signs its
own webhooks with (services/delivery/webhooks.py), under the client's secret, its timestamp recent.
An unknown referral, a client without a secret and a bad signature get the same refusal.

The answer moves the case: "will act" and "done" settle the client's outcome (completion no longer
waits for it) and the consumer's timeline says so; "not ours" sends the choice back to staff (explain
or handle as the business). Audited by referral and answer, never the note's words."""
import json
import logging
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlmodel import Session

from ... import clock, i18n
from ...db import atomic
from ...models import Client, ClientReferral, PrivacyRequest, RequestMessage, VerificationToken
from .. import audit
from ..delivery import webhooks
from ..identity import tokens
from .referrals import ANSWERS, PURPOSE

log = logging.getLogger(__name__)
MAX_REPLY_BYTES = 16 * 1024


class AnswerRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class LinkView:
    referral: ClientReferral
    client: Client
    req: PrivacyRequest


def open_link(session: Session, *, referral_key: str, token: str) -> LinkView:
    """The referral a link opens, if the token is good for it now; tokens.TokenError otherwise."""
    row = tokens.check(session, value=token, purpose=PURPOSE)
    referral = session.execute(select(ClientReferral).where(ClientReferral.referral_key == referral_key[:36])).scalar()
    # A token opens its own referral only (a reminder's newer link replaces the older one).
    if referral is None or referral.answer_token_id != row.id or referral.request_id != row.request_id:
        raise tokens.TokenError("invalid")
    if referral.state != "forwarded":
        raise tokens.TokenError("used")
    return LinkView(referral, session.get(Client, referral.client_id), session.get(PrivacyRequest, referral.request_id))


@atomic
def answer_by_link(session: Session, *, referral_key: str, token: str, answer: str, note: str | None) -> ClientReferral:
    if answer not in ANSWERS:
        raise AnswerRefused("Choose your answer.")
    view = open_link(session, referral_key=referral_key, token=token)
    tokens.spend(session, value=token, purpose=PURPOSE)
    _answered(session, view, answer=answer, note=note, via="link")
    session.commit()
    return view.referral


@atomic
def answer_by_webhook(session: Session, *, body: bytes, timestamp: str, signature: str) -> ClientReferral:
    """A signed reply: {"referral_id", "answer", "note"}. "unauthorized" for an unknown referral, a
    client without a secret, or a bad or stale signature, alike."""
    if len(body) > MAX_REPLY_BYTES:
        raise AnswerRefused("the body is too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise AnswerRefused("the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("referral_id"), str):
        raise AnswerRefused("the body needs referral_id")
    referral = session.execute(select(ClientReferral).where(
        ClientReferral.referral_key == data["referral_id"][:36])).scalar()
    client = session.get(Client, referral.client_id) if referral is not None else None
    if not webhooks.verify_reply(client.webhook_secret if client else None, timestamp, body, signature,
                                max_age_seconds=int(current_app.config["CLIENTS_REPLY_MAX_AGE_SECONDS"])):
        raise AnswerRefused("unauthorized")
    if data.get("answer") not in ANSWERS:
        raise AnswerRefused(f"answer must be one of {', '.join(sorted(ANSWERS))}")
    token = session.get(VerificationToken, referral.answer_token_id) if referral.answer_token_id else None
    if referral.state != "forwarded" or token is None or token.used_at is not None:
        raise AnswerRefused("already answered")
    token.used_at = clock.now()  # one answer per forward, whichever way it comes
    note = data.get("note") if isinstance(data.get("note"), str) else None
    _answered(session, LinkView(referral, client, session.get(PrivacyRequest, referral.request_id)),
              answer=data["answer"], note=note, via="webhook")
    session.commit()
    return referral



def _answered(session: Session, view: LinkView, *, answer: str, note: str | None, via: str) -> None:
    referral, client, req = view.referral, view.client, view.req
    referral.state, referral.answered_via, referral.answered_at = answer, via, clock.now()
    referral.answer_note = (note or "").strip()[:5000] or None
    session.add(referral)
    if answer in ("will_act", "done"):
        with i18n.language(req.language):
            text = (_("%(client)s has told us it will act on your request itself.", client=client.name)
                    if answer == "will_act" else
                    _("%(client)s has told us it has acted on your request.", client=client.name))
        session.add(RequestMessage(request_id=req.id, direction="to_requester", author=f"client:{client.key}",
                                   body=text))
    req.updated_at = clock.now()
    session.add(req)
    audit.record(session, action="client_answered", actor=f"client:{client.key}", request_id=req.id,
                 detail=f"client {client.key}: {answer} (by {via})")
    log.info("request %s: client %s answered %s (%s)", req.reference, client.key, answer, via)
