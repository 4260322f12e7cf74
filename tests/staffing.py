"""Helpers for console tests: staff accounts, signed-in clients, cases in a given state, action forms."""
import re
from datetime import datetime, timedelta

from portal import clock, db
from portal.lifecycle import IN_PROGRESS, ON_HOLD, VERIFYING
from portal.models import PrivacyRequest, StaffUser
from portal.services import requests as request_service
from portal.services import staff as staff_service
from portal.services import transitions
from portal.services.requests import NewRequest

from .support import STAFF_PASSWORD, post_form


def make_staff(app, role: str, email: str | None = None) -> StaffUser:
    """A staff account whose password is support.STAFF_PASSWORD."""
    with app.app_context():
        return staff_service.create(db.session(), email=email or f"{role}@billgenix.example", role=role,
                                    password=STAFF_PASSWORD, name=role.title())


def sign_in(client, user: StaffUser) -> None:
    """Sign in through the real sign-in form."""
    resp = post_form(client, "/staff/login", {"email": user.email, "password": STAFF_PASSWORD})
    assert resp.status_code == 303, f"staff sign-in failed with {resp.status_code}"


def new_case(app, request_type: str = "access", status: str = VERIFYING, *, email: str = "ana.ruiz@example.org",
             first_name: str = "Ana", last_name: str = "Ruiz", received_at: datetime | None = None,
             access_scope: str | None = None, hold_reason: str | None = None) -> PrivacyRequest:
    """A case submitted on the web and moved to `status` through the lifecycle."""
    with app.app_context():
        s = db.session()
        scope = access_scope or ("categories" if request_type == "access" else None)
        needs_sig = request_service.declaration_required(request_type, scope)
        new = NewRequest(request_type=request_type, first_name=first_name, last_name=last_name, email=email,
                         access_scope=scope, correction_current="1 Old St" if request_type == "correct" else None,
                         correction_details="2 New Ave" if request_type == "correct" else None,
                         declaration_signature=f"{first_name} {last_name}" if needs_sig else None)
        req = request_service.submit(s, new=new, received_at=received_at).request
        if req.status == "awaiting_email" and status != "awaiting_email":
            req.email_confirmed_at = req.acknowledged_at = received_at or clock.now()
            transitions.transition(s, req, VERIFYING, actor="requester", action="email_confirmed")
        if status == IN_PROGRESS and req.status != IN_PROGRESS:
            transitions.transition(s, req, IN_PROGRESS, actor="system")
        if status == ON_HOLD:
            transitions.transition(s, req, ON_HOLD, actor="system", hold_reason=hold_reason or "data_mismatch")
        s.commit()
        return req


def get_case(app, reference: str) -> PrivacyRequest:
    with app.app_context():
        return request_service.get_by_reference(db.session(), reference)


def hidden(html: str, name: str) -> str:
    match = re.search(r'name="' + re.escape(name) + r'" type="hidden" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in the page"
    return match.group(1)


def action_fields(html: str, action: str) -> dict:
    """The CSRF token and case version of one action form on the case page."""
    return {f"{action}-csrf_token": hidden(html, f"{action}-csrf_token"), f"{action}-version": hidden(html, f"{action}-version")}


def post_action(client, reference: str, action: str, data: dict, page: str | None = None, **kw):
    """Load the case page (unless given), then post one action form with its token and version."""
    html = page if page is not None else client.get(f"/staff/requests/{reference}").get_data(as_text=True)
    fields = {f"{action}-{k}": v for k, v in data.items()}
    return client.post(f"/staff/requests/{reference}/actions/{action}", data={**action_fields(html, action), **fields}, **kw)


def days_ago(n: int) -> datetime:
    return clock.now() - timedelta(days=n)
