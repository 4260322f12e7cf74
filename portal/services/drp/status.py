"""The Data Rights Protocol status object of a case, and the status callback queued when it changes.

`status_changed` is a status listener (create_app registers it with cases.transitions): the core
never imports the protocol. The portal is the covered business itself, so a request passes straight
from `open` to `in_progress` (DRP 1.0 §3.03 note 1): `open` is never reported.
"""
from datetime import datetime, time, timezone

from flask import current_app
from sqlalchemy import select
from sqlmodel import Session

from ...clock import PACIFIC
from ...lifecycle import (
    AWAITING_EMAIL,
    COMPLETED,
    DENIED,
    EXPIRED,
    FINAL,
    IN_PROGRESS,
    ON_HOLD,
    PARTIALLY_COMPLETED,
    VERIFYING,
    WITHDRAWN,
)
from ...models import DrpRequest, PrivacyRequest
from ...urls import external_url
from . import callbacks as drp_callbacks

STATUSES = ("open", "in_progress", "fulfilled", "revoked", "denied", "expired")
REASONS = ("need_user_verification", "suspected_fraud", "insuf_verification", "no_match", "claim_not_covered",
           "outside_jurisdiction", "too_many_requests", "other")
# What each status of ours is to the agent; awaiting_email and an information request wait on the consumer.
_STATES = {AWAITING_EMAIL: "in_progress", VERIFYING: "in_progress", ON_HOLD: "in_progress",
           IN_PROGRESS: "in_progress", COMPLETED: "fulfilled", PARTIALLY_COMPLETED: "fulfilled",
           DENIED: "denied", WITHDRAWN: "revoked", EXPIRED: "expired"}
# Claims kept once a case closes: which were given and verified, never their values (data given
# only for verification is purged when the case closes).
_KEPT_AFTER_CLOSE = ("email_verified", "phone_number_verified", "address_verified", "relationships")
CALLBACK_KIND = "drp_status"


def for_request(session: Session, req: PrivacyRequest) -> DrpRequest | None:
    """The protocol side of a case, or None for a case that did not come through the DRP."""
    with session.no_autoflush:
        return session.execute(select(DrpRequest).where(DrpRequest.request_id == req.id)).scalar()


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with an explicit +00:00 offset (never "Z"), to the second."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def denial_reason(outcome_code: str | None) -> str:
    return current_app.config["DRP_DENIAL_REASONS"].get(outcome_code or "", "other")


def state(req: PrivacyRequest) -> tuple[str, str | None]:
    """(status, reason) of a case in the protocol's terms."""
    status = _STATES[req.status]
    if needs_user(req):
        return status, "need_user_verification"
    if status == "denied":
        return status, denial_reason(req.outcome_code)
    return status, None


# Holds the consumer ends: our request for information, and details to add before the claims match.
CONSUMER_HOLDS = frozenset({"information_requested", "data_mismatch", "high_certainty_required"})


def needs_user(req: PrivacyRequest) -> bool:
    """The consumer must act: confirm their email, answer our request for information, or add
    details so that the identity claims match our records."""
    return req.status == AWAITING_EMAIL or (req.status == ON_HOLD and req.hold_reason in CONSUMER_HOLDS)


def _basis(code: str | None) -> str:
    basis = {b["code"]: b for b in current_app.config["DENIAL_BASES"]}.get(code or "")
    return f"{basis['label']} ({basis['citation']})" if basis else (code or "unspecified")


def processing_details(req: PrivacyRequest) -> str:
    """A plain sentence the agent can show the consumer: where the case stands, and any extension."""
    if req.status == AWAITING_EMAIL:
        text = "We emailed the consumer a link to confirm this request; it goes ahead once they use it."
    elif needs_user(req) and req.hold_reason != "information_requested":
        text = ("The identity claims did not match our records closely enough; we asked the consumer by email "
                "for more details, which they add on our status page.")
    elif needs_user(req):
        text = "We asked the consumer by email for more information; they answer from our status page."
    elif req.status == ON_HOLD:
        text = "Our staff are reviewing the consumer's identity."
    elif req.status == VERIFYING:
        text = "Received. We are matching the identity claims against our records."
    elif req.status == IN_PROGRESS and req.request_type in ("opt_out", "limit"):
        text = f"The opt-out took effect on {timestamp(req.effective_at or req.received_at)}; we are completing it."
    elif req.status == IN_PROGRESS:
        text = "Identity verified. We are preparing our response."
    elif req.status == COMPLETED:
        text = "Completed. Our response was sent to the consumer by email."
    elif req.status == PARTIALLY_COMPLETED:
        text = (f"Completed in part, under {_basis(req.outcome_code)}. Our response, saying what was kept and why, "
                "was sent to the consumer by email.")
    elif req.status == DENIED:
        text = f"Denied: {_basis(req.outcome_code)}. Our explanation was sent to the consumer by email."
    elif req.status == WITHDRAWN:
        text = "Revoked; nothing more will be done."
        if req.effective_at and req.request_type in ("opt_out", "limit"):
            text += " The opt-out that took effect stays in effect: opting back in is the consumer's own choice."
    else:
        text = "Closed: the consumer did not confirm the request by email in time."
    if req.extended_due and req.status not in FINAL:
        text += f" Extended to {req.extended_due.isoformat()}: {req.extension_reason}"
    return text


def status_object(req: PrivacyRequest, drp: DrpRequest) -> dict:
    """The Exercise Status object (DRP 1.0 §3.03): only the specification's fields."""
    status, reason = state(req)
    obj = {"request_id": drp.request_uuid, "status": status, "received_at": timestamp(req.received_at)}
    if drp.agent_request_id:
        obj["agent_request_id"] = drp.agent_request_id
    if reason:
        obj["reason"] = reason
    if status == "in_progress":
        # The end of the due day in force (the extended one after an extension), California time.
        obj["expected_by"] = timestamp(datetime.combine(req.due, time(23, 59, 59), PACIFIC))
    obj["processing_details"] = processing_details(req)
    if reason == "need_user_verification":
        obj["user_verification_url"] = external_url("public.status")
    return obj


def status_changed(session: Session, req: PrivacyRequest) -> None:
    """Queue the status callback of a DRP case whose state changed, in the caller's transaction;
    drop the claims' values when it closes. Does nothing for other cases."""
    drp = for_request(session, req)
    if drp is None:
        return
    if req.status in FINAL:
        drp.claims = {k: v for k, v in drp.claims.items() if k in _KEPT_AFTER_CLOSE}
        session.add(drp)
    if not drp.status_callback:
        return
    payload, subject = status_object(req, drp), f"drp:{drp.request_uuid}"
    if drp_callbacks.latest_body(session, subject=subject) == payload:
        return  # a change of ours the agent cannot see (e.g. verifying -> in_progress): nothing new to say
    drp_callbacks.queue(session, kind=CALLBACK_KIND, subject=subject, url=drp.status_callback, payload=payload,
                   request_id=req.id)
