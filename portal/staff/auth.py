"""Sign-in, sign-out, the staff member's own account (password, TOTP) and staff administration."""
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from .. import db
from ..errors import render_error
from ..extensions import configured_limit, limiter
from ..forms import EmptyForm
from ..services import staff as staff_service
from ..services.staff import InvitationError, StaffError
from . import bp
from .access import ADMIN, ROLES, SUPPORT, role_required, start_session_clock
from .auth_forms import ROLE_LABELS, ChangePasswordForm, InviteForm, LoginForm, RoleForm, SetPasswordForm, TotpConfirmForm

# The same words for an unknown email, a wrong password or code, a locked or a deactivated account.
SIGN_IN_FAILED = _l("The email address, password or code is not right. After %(n)s failed attempts in a row, "
                    "sign-in is paused for %(minutes)s minutes.")



def _home() -> str:
    """Where staff land after signing in."""
    return url_for("staff.queue")


def _safe_next(target: str | None) -> str | None:
    """Only a console path of this site: never another host (open redirect)."""
    if not target or "\\" in target or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return None  # no control characters or spaces: the value goes into a Location header
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff") or parts.path.startswith("/staff/log"):
        return None
    return target


@bp.context_processor
def _console():
    return {"console_links": _console_links, "role_labels": ROLE_LABELS}


def _console_links() -> list[dict]:
    """The console navigation: the links this staff member's role may use."""
    links = [("/staff/", _("Queue"), ROLES), ("/staff/requests/new", _("Phone or mail request"), (ADMIN, SUPPORT)),
             ("/staff/metrics", _("Metrics and records"), (ADMIN,)), ("/staff/consent", _("Consent"), (ADMIN,)),
             (url_for("staff.admin_staff"), _("Staff"), (ADMIN,)), (url_for("staff.admin_outbox"), _("Outgoing mail"), (ADMIN,)),
             (url_for("staff.account"), _("Account"), ROLES)]
    if not current_user.is_authenticated:
        return []
    return [{"href": href, "label": label,
             "current": request.path == href or (href != "/staff/" and request.path.startswith(href + "/"))}
            for href, label, roles in links if current_user.role in roles]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(configured_limit("RATELIMIT_LOGIN"), methods=["POST"])
def login():
    """Sign in with email, password and, when turned on, the TOTP code."""
    next_url = _safe_next(request.args.get("next"))
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(next_url or _home())
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        user = staff_service.authenticate(db.session(), email=form.email.data, password=form.password.data,
                                          otp=form.otp.data)
        if user is not None:
            session.clear()  # nothing from before sign-in carries over
            login_user(user)
            start_session_clock()
            return redirect(next_url or _home(), 303)
        failed = True
    cfg = current_app.config
    return render_template("staff/login.html", form=form, next_url=next_url, failed=failed,
                           failed_message=SIGN_IN_FAILED % {"n": cfg["STAFF_LOCKOUT_ATTEMPTS"],
                                                            "minutes": cfg["STAFF_LOCKOUT_MINUTES"]}
                           ), 422 if request.method == "POST" else 200


@bp.post("/logout")
def logout():
    """Sign out: the session is emptied."""
    if not EmptyForm().validate_on_submit():
        return render_error(400)
    if current_user.is_authenticated:
        staff_service.sign_out(db.session(), user=current_user)
    logout_user()
    session.clear()
    flash(_("You have signed out."))
    return redirect(url_for(".login"), 303)


@bp.get("/account")
@login_required
def account():
    """The staff member's own account: role, password, two-step sign-in."""
    return _render_account()


def _render_account(password_form=None, totp_form=None, status=200):
    return render_template(
        "staff/account.html", user=current_user, button_form=EmptyForm(formdata=None),
        password_form=password_form or ChangePasswordForm(formdata=None),
        totp_form=totp_form or TotpConfirmForm(formdata=None),
        enrolment=staff_service.totp_enrolment(current_user)), status


def _stay_signed_in(user) -> None:
    """The change ended every session (new epoch); this one continues with the new epoch."""
    login_user(user)


@bp.post("/account/password")
@login_required
def change_password():
    """Change one's own password; other sessions end."""
    form = ChangePasswordForm(account_email=current_user.email)
    if form.validate_on_submit():
        try:
            staff_service.change_password(db.session(), user=current_user, current=form.current_password.data,
                                          new=form.password.data)
        except StaffError as exc:
            form.current_password.errors.append(str(exc))
        else:
            _stay_signed_in(current_user)
            flash(_("Your password is changed. Other sessions with your account have ended."))
            return redirect(url_for(".account"), 303)
    return _render_account(password_form=form, status=422)


@bp.post("/account/totp")
@login_required
def totp_start():
    """Create a TOTP secret to scan; it takes effect once a code confirms it."""
    if not EmptyForm().validate_on_submit():
        return render_error(400)
    try:
        staff_service.start_totp(db.session(), user=current_user)
    except StaffError as exc:
        flash(str(exc), "error")
    return redirect(url_for(".account", _anchor="totp"), 303)


@bp.post("/account/totp/confirm")
@login_required
def totp_confirm():
    """Turn TOTP on with a code from the app."""
    form = TotpConfirmForm()
    if form.validate_on_submit():
        try:
            staff_service.confirm_totp(db.session(), user=current_user, code=form.code.data)
        except StaffError as exc:
            form.code.errors.append(str(exc))
        else:
            _stay_signed_in(current_user)
            flash(_("Two-step sign-in is on. From now on, sign in with a code from your app as well."))
            return redirect(url_for(".account"), 303)
    return _render_account(totp_form=form, status=422)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(configured_limit("RATELIMIT_TOKEN"), methods=["POST"])
def accept_invite(token):
    """The emailed invitation: a GET shows the form and spends nothing; the POST sets the password."""
    try:
        _row, user = staff_service.check_invitation(db.session(), token=token)
    except InvitationError as exc:
        return _invite_problem(exc)
    form = SetPasswordForm(account_email=user.email)
    if form.validate_on_submit():
        try:
            staff_service.accept_invitation(db.session(), token=token, password=form.password.data)
        except InvitationError as exc:
            return _invite_problem(exc)
        except StaffError as exc:
            form.password.errors.append(str(exc))
        else:
            flash(_("Your password is set. You can sign in now."))
            return redirect(url_for(".login"), 303)
    return render_template("staff/accept_invite.html", form=form, user=user, token=token), \
        422 if request.method == "POST" else 200


def _invite_problem(exc: InvitationError):
    return render_template("staff/invite_problem.html", reason=exc.reason), 404 if exc.reason == "invalid" else 410


@bp.route("/admin/staff", methods=["GET", "POST"])
@role_required(ADMIN)
def admin_staff():
    """Every staff account, and the invitation form."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            staff_service.invite(db.session(), email=form.email.data, role=form.role.data, name=form.name.data or "",
                                 by=current_user)
        except StaffError as exc:
            form.email.errors.append(str(exc))
        else:
            flash(_("Invitation sent to %(email)s.", email=staff_service.normalize_email(form.email.data)))
            return redirect(url_for(".admin_staff"), 303)
    return render_template("staff/admin_staff.html", form=form, staff=staff_service.list_staff(db.session())), \
        422 if request.method == "POST" else 200


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
    flash(_("%(email)s is now %(role)s.", email=member.email, role=ROLE_LABELS[member.role]))
    return redirect(url_for(".admin_staff_member", staff_id=member.id), 303)


ACTIONS = {
    "deactivate": (staff_service.deactivate, _l("The account is deactivated: it cannot sign in, and its sessions have ended.")),
    "reactivate": (staff_service.reactivate, _l("The account is active again.")),
    "reset-totp": (staff_service.reset_totp, _l("Two-step sign-in is off for this account; its sessions have ended.")),
    "invite": (staff_service.resend_invitation, _l("A new invitation is on its way; earlier links no longer work.")),
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
