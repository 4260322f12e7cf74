"""What the staff console shows of a Data Rights Protocol case: the agent, the claims and which of
them the agent says it verified, what the agent sees now, the status callbacks, and how each
staff action reads to the agent."""
import json
from dataclasses import dataclass, field

from flask import current_app
from sqlmodel import Session

from ...i18n import lazy_gettext as _l
from ...models import DrpAgent, DrpCallback, DrpRequest, PrivacyRequest
from . import callbacks as drp_callbacks
from . import status as drp_status

CLAIMS = [  # (claim, label, the flag saying the agent verified it)
    ("name", _l("Name"), None),
    ("email", _l("Email"), "email_verified"),
    ("phone_number", _l("Phone"), "phone_number_verified"),
    ("address", _l("Address"), "address_verified"),
    ("power_of_attorney", _l("Power of attorney (reference)"), None),
    ("relationships", _l("Relationships"), None),
]
ACTION_STATES = [  # staff action -> what the agent is told
    (_l("Verify identity"), "in_progress", None),
    (_l("Ask the requester for information"), "in_progress", "need_user_verification"),
    (_l("Fraud hold (the agent is not told why)"), "in_progress", None),
    (_l("Extend the deadline"), "in_progress", None),
    (_l("Complete, in whole or in part"), "fulfilled", None),
]


@dataclass(frozen=True)
class Claim:
    label: str
    value: str
    verified: bool | None  # None: the protocol has no verified flag for this claim


@dataclass
class DrpCase:
    drp: DrpRequest
    agent: DrpAgent
    status: dict  # the status object the agent receives now
    claims: list[Claim]
    callbacks: list[tuple[DrpCallback, dict]]  # each delivery, with the status object it carries
    denial_reasons: list[tuple[str, str]] = field(default_factory=list)  # (basis label, DRP reason)
    action_states = ACTION_STATES


def _show(value) -> str:
    if isinstance(value, dict):
        return value.get("formatted") or ", ".join(v for v in value.values() if v)
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


def case(session: Session, req: PrivacyRequest) -> DrpCase | None:
    """The console's view of a DRP case; None for any other case."""
    drp = drp_status.for_request(session, req)
    if drp is None:
        return None
    claims = [Claim(str(label), _show(drp.claims[name]) if name in drp.claims else "—",
                    drp.claims.get(flag) is True if flag else None) for name, label, flag in CLAIMS]
    bases = [(b["label"], drp_status.denial_reason(b["code"])) for b in current_app.config["DENIAL_BASES"]]
    return DrpCase(drp=drp, agent=session.get(DrpAgent, drp.agent_pk), status=drp_status.status_object(req, drp),
                   claims=claims, callbacks=[(row, json.loads(row.body)) for row in drp_callbacks.for_request(session, request_id=req.id)], denial_reasons=bases)
