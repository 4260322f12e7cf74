"""Forms for recipients of notices downstream (admins) and for settling a notice by hand (case workers)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..forms import plain_text, strip_filter
from ..i18n import lazy_gettext as _l
from ..services.cases import notices
from ..services.cases.notices import RecipientData
from .forms import MultiCheckboxField

F = [strip_filter]


class RecipientForm(FlaskForm):
    name = StringField(_l("Name"), filters=F, validators=[
        DataRequired(message=_l("Give the recipient's name.")), Length(max=200), plain_text])
    kind = RadioField(_l("Kind of recipient"), choices=[SelectChoice(k, v) for k, v in notices.KINDS.items()],
                      validators=[InputRequired(message=_l("Choose what kind of recipient this is."))])
    request_types = MultiCheckboxField(
        _l("Requests that concern it"), choices=lambda: [SelectChoice(k, v) for k, v in notices.type_labels().items()],
        validators=[DataRequired(message=_l("Choose at least one kind of request."))],
        description=_l("Completing a case of these kinds waits until this recipient has been told."))
    method = RadioField(_l("How it is told"), choices=[SelectChoice(k, v) for k, v in notices.METHODS.items()],
                        validators=[InputRequired(message=_l("Choose how the recipient is told."))])
    webhook_url = StringField(_l("Webhook address"), filters=F, validators=[Optional(), Length(max=500)],
                              description=_l("For webhooks: an https:// address that receives signed JSON notices."))
    # new-password: the browser must not fill in the staff member's own saved console password here.
    webhook_secret = PasswordField(_l("Signing secret"), validators=[Optional(), Length(max=200)],
                                   render_kw={"autocomplete": "new-password"}, description=_l(
        "For webhooks: at least 32 characters, shared with the recipient, who checks the X-Portal-Signature header. "
        "Stored encrypted. Leave empty to keep the current secret."))
    email = StringField(_l("Email address"), filters=F, validators=[Optional(), Length(max=254)],
                        description=_l("For email: where notices are sent."))
    identifiers = MultiCheckboxField(
        _l("Identifiers it holds"), choices=[SelectChoice(k, v) for k, v in notices.IDENTIFIERS.items()],
        description=_l("A notice carries only these, so the recipient can find the person and learns nothing more "
                       "(§7002). None chosen: name and email for a new recipient, unchanged for this one."))
    active = BooleanField(_l("Active: cases from now on notify this recipient"), default=True)

    def data_for_service(self) -> RecipientData:
        return RecipientData(name=self.name.data or "", kind=self.kind.data, request_types=self.request_types.data or [],
                             method=self.method.data, webhook_url=self.webhook_url.data,
                             webhook_secret=self.webhook_secret.data or None, email=self.email.data,
                             active=bool(self.active.data), identifiers=self.identifiers.data or None)


class NoticeRecordForm(FlaskForm):
    told_on = DateField(_l("Day the recipient was told"), validators=[
        InputRequired(message=_l("Give the day, as YYYY-MM-DD."))])
    method = StringField(_l("How it was told"), filters=F, description=_l("For example: phone call to their privacy lead, "
                                                                          "letter, their web form."),
                         validators=[DataRequired(message=_l("Say how the recipient was told.")), Length(max=200),
                                     plain_text])


class NoticeExplainForm(FlaskForm):
    explanation = TextAreaField(_l("Why telling this third party is impossible or takes disproportionate effort "
                                   "(sent to the consumer with our response)"),
                                filters=F, render_kw={"rows": 3}, validators=[
                                    DataRequired(message=_l("Please fill this in.")), Length(min=20, max=2000,
                                    message=_l("Write between 20 and 2000 characters.")), plain_text])
