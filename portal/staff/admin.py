"""Staff administration, for admins: the accounts, invitations, roles, deactivation and TOTP resets."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import db, normalize
from ..errors import render_error
from ..forms import EmptyForm
from ..i18n import lazy_gettext as _l
from ..services.checklist import placeholders
from ..services.staff import accounts as staff_service
from ..services.staff import invitations
from ..services.staff.accounts import StaffError
from . import bp
from .access import ADMIN, role_required
from .auth_forms import InviteForm, RoleForm


@bp.route("/admin/staff", methods=["GET", "POST"])
@db.reads_only
@role_required(ADMIN)
def admin_staff():
    """Every staff account, and the invitation form."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitations.invite(db.session(), email=form.email.data, role=form.role.data, name=form.name.data or "",
                                 by=current_user)
        except StaffError as exc:
            form.email.errors.append(str(exc))
        else:
            flash(_("Invitation sent to %(email)s.", email=normalize.email(form.email.data)))
            return redirect(url_for(".admin_staff"), 303)
    return render_template("staff/admin_staff.html", form=form, staff=staff_service.list_staff(db.session())), \
        422 if request.method == "POST" else 200


@bp.get("/admin/setup")
@db.reads_only
@role_required(ADMIN)
def admin_setup():
    """The first-run checklist: every placeholder still live, with what to set."""
    return render_template("staff/admin_setup.html", items=placeholders.items(db.session(), served_at=request.host_url))


def _member_or_404(staff_id: int):
    member = staff_service.get(db.session(), staff_id)
    if member is None:
        abort(404)
    return member


def _render_member(member, role_form=None, error=None, status=200):
    return render_template("staff/admin_staff_member.html", member=member, error=error,
                           role_form=role_form or RoleForm(formdata=None, role=member.role),
                           button_form=EmptyForm(formdata=None)), status


@bp.get("/admin/staff/<int:staff_id>")
@db.reads_only
@role_required(ADMIN)
def admin_staff_member(staff_id):
    """One staff account and what an admin can do with it."""
    return _render_member(_member_or_404(staff_id))


@bp.post("/admin/staff/<int:staff_id>/role")
@role_required(ADMIN)
def admin_staff_role(staff_id):
    """Change a staff member's role; their sessions end."""
    member = _member_or_404(staff_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _render_member(member, role_form=form, status=422)
    try:
        staff_service.change_role(db.session(), target=member, role=form.role.data, by=current_user)
    except StaffError as exc:
        return _render_member(member, role_form=form, error=str(exc), status=409)
    flash(_("%(email)s is now %(role)s.", email=member.email, role=staff_service.ROLE_LABELS[member.role]))
    return redirect(url_for(".admin_staff_member", staff_id=member.id), 303)


ACTIONS = {
    "deactivate": (staff_service.deactivate, _l("The account is deactivated: it cannot sign in, and its sessions have ended.")),
    "reactivate": (staff_service.reactivate, _l("The account is active again.")),
    "reset-totp": (staff_service.reset_totp, _l("Two-step sign-in is off for this account; its sessions have ended.")),
    "invite": (invitations.resend_invitation, _l("A new invitation is on its way; earlier links no longer work.")),
}


@bp.post("/admin/staff/<int:staff_id>/<any(deactivate, reactivate, 'reset-totp', invite):action>")
@role_required(ADMIN)
def admin_staff_action(staff_id, action):
    """Deactivate, reactivate, reset TOTP or invite again."""
    member = _member_or_404(staff_id)
    if not EmptyForm().validate_on_submit():
        return render_error(400)
    service, done = ACTIONS[action]
    try:
        service(db.session(), target=member, by=current_user)
    except StaffError as exc:
        return _render_member(member, error=str(exc), status=409)
    flash(str(done))
    return redirect(url_for(".admin_staff_member", staff_id=member.id), 303)
