"""The console's navigation: the links a staff member's role may use."""
from flask import request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import db
from ..services.delivery import failures
from . import bp
from .access import ADMIN, ROLES, SUPPORT


@bp.context_processor
def _console():
    return {"console_links": _console_links, "mail_alert": _mail_alert}


def _mail_alert() -> list[str]:
    """For admins: what is wrong with outgoing mail, notices or DRP callbacks (failed lately, waiting
    too long, a mail server that does not answer in time); else nothing."""
    if not current_user.is_authenticated or current_user.role != ADMIN:
        return []
    return failures.alerts(db.session())


def _console_links() -> list[dict]:
    """The console navigation: the links this staff member's role may use."""
    links = [("/staff/", _("Queue"), ROLES), ("/staff/requests/new", _("Phone or mail request"), (ADMIN, SUPPORT)),
             ("/staff/metrics", _("Metrics and records"), (ADMIN,)), ("/staff/consent", _("Consent"), (ADMIN,)),
             ("/staff/recipients", _("Recipients"), (ADMIN,)), ("/staff/clients", _("Clients"), (ADMIN,)),
             ("/staff/datamap", _("Data map"), (ADMIN, SUPPORT)),
             ("/staff/letters", _("Letters owed"), (ADMIN, SUPPORT)),
             (url_for("staff.admin_setup"), _("Setup"), (ADMIN,)),
             (url_for("staff.admin_staff"), _("Staff"), (ADMIN,)), (url_for("staff.admin_outbox"), _("Outgoing mail"), (ADMIN,)),
             (url_for("staff.account"), _("Account"), ROLES)]
    if not current_user.is_authenticated:
        return []
    return [{"href": href, "label": label,
             "current": request.path == href or (href != "/staff/" and request.path.startswith(href + "/"))}
            for href, label, roles in links if current_user.role in roles]
