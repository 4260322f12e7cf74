"""Who may do what in the console: roles, the user loader and the route guard."""
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from .. import db
from ..extensions import login_manager
from ..models import StaffUser

ADMIN, SUPPORT, VIEWER = "admin", "support", "viewer"
ROLES = (ADMIN, SUPPORT, VIEWER)
# Who may act on cases (the viewer role only reads).
CASE_WORKERS = (ADMIN, SUPPORT)


@login_manager.user_loader
def load_staff(user_id: str) -> StaffUser | None:
    """'<id>:<session_epoch>': a session dies when the epoch moves on (password, role, deactivation)."""
    staff_id, _, epoch = user_id.partition(":")
    if not staff_id.isdigit() or not epoch.isdigit():
        return None
    user = db.session().get(StaffUser, int(staff_id))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return user


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
