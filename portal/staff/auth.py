"""Sign-in, sign-out, the staff member's own account (password, TOTP) and accepting an invitation."""
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from .. import db
from ..errors import render_error
from ..extensions import configured_limit, limiter
from ..forms import EmptyForm
from ..i18n import lazy_gettext as _l
from ..services.staff import accounts, invitations
from ..services.staff.accounts import InvitationError, StaffError
from ..web import link_problem
from . import bp
from .access import start_session_clock
from .auth_forms import ChangePasswordForm, LoginForm, SetPasswordForm, TotpConfirmForm

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
        user = accounts.authenticate(db.session(), email=form.email.data, password=form.password.data,
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
        accounts.sign_out(db.session(), user=current_user)
    logout_user()
    session.clear()
    flash(_("You have signed out."))
    return redirect(url_for(".login"), 303)


@bp.get("/account")
@db.reads_only
@login_required
def account():
    """The staff member's own account: role, password, two-step sign-in."""
    return _render_account()


def _render_account(password_form=None, totp_form=None, status=200):
    return render_template(
        "staff/account.html", user=current_user, button_form=EmptyForm(formdata=None),
        password_form=password_form or ChangePasswordForm(formdata=None),
        totp_form=totp_form or TotpConfirmForm(formdata=None),
        enrolment=accounts.totp_enrolment(current_user)), status


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
            accounts.change_password(db.session(), user=current_user, current=form.current_password.data,
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
        accounts.start_totp(db.session(), user=current_user)
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
            accounts.confirm_totp(db.session(), user=current_user, code=form.code.data)
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
        _row, user = invitations.check_invitation(db.session(), token=token)
    except InvitationError as exc:
        return link_problem("invitation", exc.reason)
    form = SetPasswordForm(account_email=user.email)
    if form.validate_on_submit():
        try:
            invitations.accept_invitation(db.session(), token=token, password=form.password.data)
        except InvitationError as exc:
            return link_problem("invitation", exc.reason)
        except StaffError as exc:
            form.password.errors.append(str(exc))
        else:
            flash(_("Your password is set. You can sign in now."))
            return redirect(url_for(".login"), 303)
    return render_template("staff/accept_invite.html", form=form, user=user, token=token), \
        422 if request.method == "POST" else 200

