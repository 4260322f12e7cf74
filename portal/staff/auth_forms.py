"""Forms for sign-in, the staff member's own account and staff administration."""
from wtforms import EmailField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, EqualTo, Length, Optional, Regexp, ValidationError

from ..forms import EmptyForm, plain_text, strip_filter
from ..i18n import lazy_gettext as _l
from ..services.staff import accounts as staff_service

F = [strip_filter]
ROLE_CHOICES = [
    SelectChoice(staff_service.SUPPORT, _l("Support: works on requests")),
    SelectChoice(staff_service.VIEWER, _l("Viewer: reads requests, changes nothing")),
    SelectChoice(staff_service.ADMIN, _l("Admin: also manages staff accounts, settings and metrics")),
]


def _email_field(label):
    return EmailField(label, filters=F, render_kw={"autocomplete": "email", "spellcheck": "false"}, validators=[
        DataRequired(message=_l("Please enter the email address.")),
        Length(max=254, message=_l("Use at most 254 characters.")),
        Email(message=_l("Enter an email address like name@example.com."), check_deliverability=False)])


def _code_field(label, required):
    return StringField(label, filters=F, description=_l("The 6-digit code your authenticator app shows now."),
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"},
                       validators=[DataRequired(message=_l("Enter the 6-digit code.")) if required else Optional(),
                                   Regexp(r"^\d{3} ?\d{3}$", message=_l("Enter the 6 digits your app shows."))])


class LoginForm(EmptyForm):
    email = _email_field(_l("Email address"))
    password = PasswordField(_l("Password"), render_kw={"autocomplete": "current-password"}, validators=[
        DataRequired(message=_l("Please enter your password.")), Length(max=staff_service.MAX_PASSWORD_LENGTH)])
    otp = _code_field(_l("Authentication code (only if you turned on two-step sign-in)"), required=False)


class NewPasswordMixin:
    def validate_password(self, field):
        problem = staff_service.password_problem(field.data or "", self.account_email)
        if problem:
            raise ValidationError(problem)


def _new_password_fields():
    password = PasswordField(_l("New password"), render_kw={"autocomplete": "new-password"},
                             description=_l("At least 12 characters. A few unrelated words make a good one."),
                             validators=[DataRequired(message=_l("Please choose a password."))])
    confirm = PasswordField(_l("New password again"), render_kw={"autocomplete": "new-password"}, validators=[
        DataRequired(message=_l("Please type the password again.")),
        EqualTo("password", message=_l("The two passwords are not the same."))])
    return password, confirm


class SetPasswordForm(NewPasswordMixin, EmptyForm):
    password, confirm = _new_password_fields()

    def __init__(self, *args, account_email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_email = account_email


class ChangePasswordForm(NewPasswordMixin, EmptyForm):
    current_password = PasswordField(_l("Current password"), render_kw={"autocomplete": "current-password"},
                                     validators=[DataRequired(message=_l("Please enter your current password."))])
    password, confirm = _new_password_fields()

    def __init__(self, *args, account_email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_email = account_email


class TotpConfirmForm(EmptyForm):
    code = _code_field(_l("Code from your authenticator app"), required=True)


def _role_field(label):
    return RadioField(label, choices=ROLE_CHOICES, default="support", validate_choice=False, validators=[
        DataRequired(message=_l("Choose a role.")),
        AnyOf(list(staff_service.ROLES), message=_l("Choose one of the roles listed."))])


class InviteForm(EmptyForm):
    email = _email_field(_l("Email address"))
    name = StringField(_l("Name (optional)"), filters=F, render_kw={"autocomplete": "off"}, validators=[
        Optional(), Length(max=100, message=_l("Use at most 100 characters.")), plain_text])
    role = _role_field(_l("Role"))


class RoleForm(EmptyForm):
    role = _role_field(_l("Role"))
