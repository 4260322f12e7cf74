"""Agent forms: a request made for a consumer, and the consumer's answer about the agent."""
import re
from datetime import date

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, Length, Optional, Regexp

from ..forms import (
    NAME,
    EmptyForm,
    IdentityDetailsForm,
    RequestForm,
    claim_field,
    dob_field,
    employer_field,
    injury_field,
    phone_field,
    plain_text,
    postal_code_field,
    strip_filter,
)
from ..i18n import lazy_gettext as _l
from ..lifecycle import REQUEST_TYPES
from ..services.cases.agents import AGENT_KINDS, AUTHORIZATION_KINDS, NewAgentRequest, Upload
from ..services.documents import kinds

F = [strip_filter]
EMAIL = Email(message=_l("Enter an email address like name@example.com."), check_deliverability=False)
LONG_254 = Length(max=254, message=_l("Use at most 254 characters."))
# A business's registration or entity number, from any state: optional (§7001(d) no longer asks a
# business agent to be registered with the California Secretary of State). Letters and digits.
REGISTRATION_NUMBER = re.compile(r"^[A-Z0-9]{1,20}$")


def _required(label):
    return DataRequired(message=_l("Please enter %(label)s.", label=label))


def _sos_filter(value):
    return re.sub(r"[\s-]", "", value).upper() if isinstance(value, str) else value


class AgentRequestForm(EmptyForm):
    agent_kind = RadioField(_l("Who is making this request?"), validate_choice=False,
                            choices=[SelectChoice(k, label) for k, label in AGENT_KINDS.items()], validators=[
                                DataRequired(message=_l("Choose whether you act as a person or a business.")),
                                AnyOf(list(AGENT_KINDS), message=_l("Choose one of the options listed."))])
    agent_name = StringField(_l("Your full name"), filters=F, render_kw={"autocomplete": "name"}, validators=[
        _required(_l("your full name")), Length(max=200, message=_l("Use at most 200 characters.")), NAME])
    agent_email = EmailField(_l("Your email address"), filters=F, render_kw={"autocomplete": "email"},
                             description=_l("We send the confirmation link and every update to this address."),
                             validators=[_required(_l("your email address")), LONG_254, EMAIL])
    agent_business_name = StringField(_l("Business name"), filters=F, render_kw={"autocomplete": "organization"},
                                      validators=[Optional(), plain_text,
                                                  Length(max=200, message=_l("Use at most 200 characters."))])
    # The contract keeps the field's name; it is an optional registration number from any state.
    agent_sos_number = StringField(_l("Business registration number (optional)"),
                                   filters=[strip_filter, _sos_filter],
                                   description=_l("The business's entity or registration number in any state, "
                                                  "if it has one."), validators=[
                                       Optional(), Regexp(REGISTRATION_NUMBER, message=_l(
                                           "Use letters and digits only, at most 20."))])
    consumer_first_name = StringField(_l("Consumer's first name"), filters=F, validators=[
        _required(_l("the consumer's first name")), Length(max=100, message=_l("Use at most 100 characters.")), NAME])
    consumer_last_name = StringField(_l("Consumer's last name"), filters=F, validators=[
        _required(_l("the consumer's last name")), Length(max=100, message=_l("Use at most 100 characters.")), NAME])
    consumer_email = EmailField(_l("Consumer's email address (optional)"), filters=F,
                                description=_l("With a signed permission, we ask the consumer at this address to "
                                               "confirm that you act for them."),
                                validators=[Optional(), LONG_254, EMAIL])
    consumer_phone = StringField(_l("Consumer's phone (optional)"), filters=F, render_kw={"type": "tel"}, validators=[
        Optional(), Length(max=40, message=_l("Use at most 40 characters.")),
        Regexp(r"^[0-9+()\-. ]{7,40}$", message=_l("Use digits, spaces and + ( ) - only."))])
    date_of_birth = dob_field()
    claim_number = claim_field()
    date_of_injury = injury_field()
    employer = employer_field()
    postal_code = postal_code_field()
    # What the consumer's own form asks for the type: the same fields, the same rules.
    access_scope = RequestForm.access_scope
    lookback = RequestForm.lookback
    correction_current = RequestForm.correction_current
    correction_details = RequestForm.correction_details
    correction_points = RequestForm.correction_points
    request_type = RadioField(_l("What is the consumer asking us to do?"), validate_choice=False,
                              choices=[SelectChoice(c, t.label) for c, t in REQUEST_TYPES.items()], validators=[
                                  DataRequired(message=_l("Choose the kind of request.")),
                                  AnyOf(list(REQUEST_TYPES), message=_l("Choose one of the kinds of request listed."))])
    authorization_kind = RadioField(_l("Your authority to act for the consumer"), validate_choice=False,
                                    choices=[SelectChoice(k, label) for k, label in AUTHORIZATION_KINDS.items()],
                                    validators=[DataRequired(message=_l("Choose the kind of authorization you have.")),
                                                AnyOf(list(AUTHORIZATION_KINDS),
                                                      message=_l("Choose one of the options listed."))])
    authorization = FileField(_l("The signed permission or power of attorney"),
                              render_kw={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"},
                              validators=[FileRequired(
                                  message=_l("Attach the signed permission or power of attorney."))])
    declaration = BooleanField(_l("I confirm that the consumer named above authorized me to make this request for "
                                  "them, and that the document I attach is genuine."),
                               validators=[DataRequired(message=_l("Tick the box to confirm your authority."))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.authorization.description = _l("A PDF, PNG or JPEG file, up to %(size)s. We check the file's "
                                            "content, not its name.", size=kinds.size_label(kinds.max_bytes()))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.agent_kind.data == "business":
            if not self.agent_business_name.data:
                self.agent_business_name.errors.append(_l("Please enter the business name."))
        kind = self.request_type.data
        if kind == "access" and self.access_scope.data not in ("categories", "specific"):
            self.access_scope.errors.append(_l("Choose what the consumer would like to receive."))
        if kind == "access" and self.lookback.data not in ("12_months", "since_2022"):
            self.lookback.errors.append(_l("Choose the period."))
        if kind == "correct":
            for field in (self.correction_current, self.correction_details):
                if not field.data:
                    field.errors.append(_l("This is needed to correct the consumer's information."))
        return ok and not any(f.errors for f in self)

    def to_new_request(self, language: str = "en") -> NewAgentRequest:
        business = self.agent_kind.data == "business"
        kind = self.request_type.data
        return NewAgentRequest(
            request_type=self.request_type.data, agent_kind=self.agent_kind.data, agent_name=self.agent_name.data,
            agent_email=self.agent_email.data, consumer_first_name=self.consumer_first_name.data,
            consumer_last_name=self.consumer_last_name.data, authorization_kind=self.authorization_kind.data,
            agent_business_name=self.agent_business_name.data if business else None,
            agent_sos_number=self.agent_sos_number.data if business else None,
            consumer_email=self.consumer_email.data or None, consumer_phone=self.consumer_phone.data or None,
            access_scope=self.access_scope.data if kind == "access" else None, lookback=self.lookback.data or "12_months",
            correction_current=self.correction_current.data if kind == "correct" else None,
            correction_details=self.correction_details.data if kind == "correct" else None,
            correction_points=",".join(self.correction_points.data or []) if kind == "correct" else None,
            date_of_birth=date.fromisoformat(self.date_of_birth.data) if self.date_of_birth.data else None,
            claim_number=self.claim_number.data or None,
            date_of_injury=date.fromisoformat(self.date_of_injury.data) if self.date_of_injury.data else None,
            employer=self.employer.data or None, postal_code=self.postal_code.data or None,
            language=language)

    def has_new_upload(self) -> bool:
        f = self.authorization.data
        return bool(f and getattr(f, "filename", ""))

    def upload(self) -> Upload:
        f = self.authorization.data
        return Upload(stream=f.stream, filename=f.filename, content_type=f.mimetype)


class ConsumerDecisionForm(IdentityDetailsForm):
    """Two buttons: the consumer confirms or rejects the agent; confirming, they may verify their own
    identity directly (§7063(a)): their data points and, for the high tier, the declaration."""

    decision = StringField(validators=[AnyOf(["confirm", "reject"])])
    phone = phone_field(_l("Your phone (optional)"))


def upload_error(form: AgentRequestForm, exc: kinds.DocumentRejected) -> None:
    form.authorization.errors = [exc.message]

