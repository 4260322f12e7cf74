"""Who may do what in the console: roles, the user loader, session lifetime and the route guard."""
from functools import wraps

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import clock, db
from ..extensions import login_manager
from ..models import StaffUser
from ..services.staff.accounts import ADMIN, CASE_WORKERS, ROLES, SUPPORT, VIEWER  # noqa: F401  (the roles, for route guards)

# Flask session key holding when this console session signed in and when it was last used.
SESSION_CLOCK = "staff_clock"


def _now() -> int:
    return int(clock.timestamp())


def start_session_clock() -> None:
    """Called at sign-in: the idle and absolute limits count from here."""
    now = _now()
    session[SESSION_CLOCK] = {"at": now, "seen": now}


def _session_in_time() -> bool:
    """Idle and absolute session limits (STAFF_SESSION_MINUTES, STAFF_SESSION_MAX_MINUTES)."""
    times = session.get(SESSION_CLOCK)
    now = _now()
    if not isinstance(times, dict) or not isinstance(times.get("at"), int) or not isinstance(times.get("seen"), int):
        return False
    cfg = current_app.config
    if now - times["seen"] > int(cfg["STAFF_SESSION_MINUTES"]) * 60 or \
            now - times["at"] > int(cfg["STAFF_SESSION_MAX_MINUTES"]) * 60:
        return False
    if now != times["seen"]:
        session[SESSION_CLOCK] = {"at": times["at"], "seen": now}
    return True


@login_manager.user_loader
def load_staff(user_id: str) -> StaffUser | None:
    """'<id>:<session_epoch>': a session dies when the epoch moves on (password, role, deactivation),
    and when it has been idle, or open, for longer than the configured limits."""
    staff_id, _sep, epoch = user_id.partition(":")
    if not staff_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session().get(StaffUser, int(staff_id))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    if not _session_in_time():
        g.staff_session_timed_out = True
        return None
    return user


@login_manager.unauthorized_handler
def _sign_in_first():
    """Signed-out visitors go to the sign-in page and come back; htmx requests are told to go there."""
    if g.pop("staff_session_timed_out", False):
        session.pop(SESSION_CLOCK, None)
        flash(_("Your session ended. Please sign in again."), "info")
    else:
        flash(_("Please sign in to continue."), "info")
    target = url_for("staff.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request") == "true":
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


def role_required(*roles: str):
    """Signed-in staff with one of `roles`; everyone else gets 403 (or the sign-in page)."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator
