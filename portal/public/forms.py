"""Requester forms: the request form and the status form."""
import re
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, Length, Optional, Regexp, ValidationError

from .. import clock
from ..forms import EmptyForm, plain_text, strip_filter, upload_of
from ..lifecycle import INQUIRY_KINDS, REQUEST_TYPES
from ..services import references
from ..services import requests as request_service
from ..services.inquiries import NewInquiry
from ..services.requests import NewRequest

NAME = Regexp(r"^[^\W\d_](?:[^\W\d_]|[ '’.\-])*$", flags=re.UNICODE,
              message=_l("Use letters, spaces, apostrophes, hyphens and periods only."))
F = [strip_filter]


def _required(label):
    return DataRequired(message=_l("Please enter %(label)s.", label=label))


class RequestForm(EmptyForm):
    request_type = RadioField(_l("What would you like us to do?"), choices=[SelectChoice(c, t.label) for c, t in REQUEST_TYPES.items()],
                              validate_choice=False, validators=[
                                  DataRequired(message=_l("Choose the kind of request.")),
                                  AnyOf(list(REQUEST_TYPES), message=_l("Choose one of the kinds of request listed."))])
    first_name = StringField(_l("First name"), filters=F, render_kw={"autocomplete": "given-name"}, validators=[
        _required(_l("your first name")), Length(max=100, message=_l("Use at most 100 characters.")), NAME])
    last_name = StringField(_l("Last name"), filters=F, render_kw={"autocomplete": "family-name"}, validators=[
        _required(_l("your last name")), Length(max=100, message=_l("Use at most 100 characters.")), NAME])
    email = EmailField(_l("Email address"), filters=F, render_kw={"autocomplete": "email"}, validators=[
        _required(_l("your email address")), Length(max=254, message=_l("Use at most 254 characters.")),
        Email(message=_l("Enter an email address like name@example.com."), check_deliverability=False)])
    phone = StringField(_l("Phone (optional)"), filters=F, render_kw={"autocomplete": "tel", "type": "tel"}, validators=[
        Optional(), Length(max=40, message=_l("Use at most 40 characters.")),
        Regexp(r"^[0-9+()\-. ]{7,40}$", message=_l("Use digits, spaces and + ( ) - only."))])
    claim_number = StringField(_l("Claim or account number (optional)"), filters=F, validators=[
        Optional(), Length(max=40, message=_l("Use at most 40 characters.")),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9\-/ ]*$", message=_l("Use letters, digits, hyphens and slashes only."))])
    date_of_birth = StringField(_l("Date of birth (optional)"), filters=F,
                                render_kw={"autocomplete": "bday", "type": "date"}, validators=[Optional()])
    details = TextAreaField(_l("Anything else we should know (optional)"), filters=F, render_kw={"rows": 4}, validators=[
        Optional(), Length(max=5000, message=_l("Use at most 5,000 characters.")), plain_text])
    access_scope = RadioField(_l("What would you like to receive?"), validate_choice=False, choices=[
        SelectChoice("categories", _l("The categories of information we hold about you and how we use them")),
        SelectChoice("specific", _l("A copy of the specific pieces of information we hold about you"))])
    lookback = RadioField(_l("For what period?"), default="12_months", validate_choice=False, choices=[
        SelectChoice("12_months", _l("The last 12 months")), SelectChoice("since_2022", _l("Everything since January 1, 2022"))])
    correction_current = TextAreaField(_l("What information is wrong?"), filters=F, render_kw={"rows": 3}, validators=[
        Optional(), Length(max=5000, message=_l("Use at most 5,000 characters.")), plain_text])
    correction_details = TextAreaField(_l("What should it say instead?"), filters=F, render_kw={"rows": 3}, validators=[
        Optional(), Length(max=5000, message=_l("Use at most 5,000 characters.")), plain_text])
    declaration = BooleanField(_l("I declare under penalty of perjury under the laws of the State of California "
                                  "that I am the person whose personal information is the subject of this request, "
                                  "and that the information I have given is true and correct."))
    declaration_signature = StringField(_l("Type your full name as your signature"), filters=F,
                                        render_kw={"autocomplete": "name"}, validators=[
        Optional(), Length(max=200, message=_l("Use at most 200 characters.")), NAME])

    def validate_date_of_birth(self, field):
        try:
            value = date.fromisoformat(field.data)
        except ValueError:
            raise ValidationError(_l("Enter the date as YYYY-MM-DD, for example 1980-04-23.")) from None
        if not date(1900, 1, 1) <= value < clock.today():
            raise ValidationError(_l("Enter a date of birth between 1900 and today."))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        kind = self.request_type.data
        if kind == "access" and self.access_scope.data not in ("categories", "specific"):
            self.access_scope.errors.append(_l("Choose what you would like to receive."))
        if kind == "access" and self.lookback.data not in ("12_months", "since_2022"):
            self.lookback.errors.append(_l("Choose the period."))
        if kind == "correct":
            for field in (self.correction_current, self.correction_details):
                if not field.data:
                    field.errors.append(_l("This is needed to correct your information."))
        if kind in REQUEST_TYPES and self.needs_declaration():
            if not self.declaration.data:
                self.declaration.errors.append(_l("This request needs the signed declaration."))
            full = f"{self.first_name.data or ''} {self.last_name.data or ''}".split()
            if not self.declaration_signature.data:
                self.declaration_signature.errors.append(_l("Type your full name to sign."))
            elif self.declaration_signature.data.casefold().split() != [w.casefold() for w in full]:
                self.declaration_signature.errors.append(_l("The signature must match the first and last name above."))
        return ok and not any(f.errors for f in self)

    def needs_declaration(self) -> bool:
        kind = self.request_type.data
        return kind in REQUEST_TYPES and request_service.declaration_required(kind, self.access_scope.data)

    def to_new_request(self, language: str = "en") -> NewRequest:
        kind = self.request_type.data
        return NewRequest(
            request_type=kind, first_name=self.first_name.data, last_name=self.last_name.data,
            email=self.email.data, phone=self.phone.data, claim_number=self.claim_number.data,
            date_of_birth=date.fromisoformat(self.date_of_birth.data) if self.date_of_birth.data else None,
            details=self.details.data, correction_current=self.correction_current.data if kind == "correct" else None,
            correction_details=self.correction_details.data if kind == "correct" else None,
            access_scope=self.access_scope.data if kind == "access" else None,
            lookback=self.lookback.data or "12_months",
            declaration_signature=self.declaration_signature.data if self.needs_declaration() else None,
            language=language)


class StatusForm(EmptyForm):
    reference = StringField(_l("Request reference"), filters=F, description=_l("It looks like PR-XXXX-XXXX."),
                            validators=[_required(_l("the reference from your email")),
                                        Length(max=40, message=_l("Use at most 40 characters."))])
    email = EmailField(_l("Email address used for the request"), filters=F, validators=[
        _required(_l("your email address")), Length(max=254, message=_l("Use at most 254 characters.")),
        Email(message=_l("Enter an email address like name@example.com."), check_deliverability=False)])

    def validate_reference(self, field):
        if references.normalize(field.data) is None:
            raise ValidationError(_l("References look like PR-XXXX-XXXX, with letters and digits."))


class WithdrawForm(EmptyForm):
    confirm = BooleanField(_l("Yes, withdraw this request"),
                           validators=[DataRequired(message=_l("Tick the box to confirm."))])


class InquiryForm(EmptyForm):
    kind = RadioField(_l("What is it about?"), validate_choice=False,
                      choices=[SelectChoice(k, label) for k, label in INQUIRY_KINDS.items()],
                      validators=[DataRequired(message=_l("Choose what your message is about.")),
                                  AnyOf(list(INQUIRY_KINDS), message=_l("Choose one of the subjects listed."))])
    name = StringField(_l("Your name"), filters=F, render_kw={"autocomplete": "name"}, validators=[
        _required(_l("your name")), Length(max=200, message=_l("Use at most 200 characters.")), plain_text])
    email = EmailField(_l("Email address"), filters=F, render_kw={"autocomplete": "email"}, validators=[
        _required(_l("your email address")), Length(max=254, message=_l("Use at most 254 characters.")),
        Email(message=_l("Enter an email address like name@example.com."), check_deliverability=False)])
    organization = StringField(_l("Organization (optional)"), filters=F, render_kw={"autocomplete": "organization"},
                               validators=[Optional(), Length(max=200, message=_l("Use at most 200 characters.")),
                                           plain_text])
    message = TextAreaField(_l("Your message"), filters=F, render_kw={"rows": 6}, validators=[
        _required(_l("your message")), Length(max=10000, message=_l("Use at most 10,000 characters.")), plain_text])
    attachment = FileField(_l("Attach a document (optional)"),
                           description=_l("One PDF, PNG or JPEG file, up to 10 MB, such as a screenshot or a letter."))

    def upload(self):
        return upload_of(self.attachment)

    def to_new_inquiry(self, language: str = "en") -> NewInquiry:
        return NewInquiry(kind=self.kind.data, name=self.name.data, email=self.email.data,
                          organization=self.organization.data, message=self.message.data, language=language)


class FollowUpForm(EmptyForm):
    body = TextAreaField(_l("Write back to our privacy team"), filters=F, render_kw={"rows": 4}, validators=[
        _required(_l("your message")), Length(max=10000, message=_l("Use at most 10,000 characters.")), plain_text])

class AnswerForm(EmptyForm):
    body = TextAreaField(_l("Your answer"), filters=F, render_kw={"rows": 5}, validators=[
        _required(_l("your answer")), Length(max=5000, message=_l("Use at most 5,000 characters.")), plain_text])
    attachment = FileField(_l("Attach a document (optional)"),
                           description=_l("A PDF, PNG or JPEG file, such as a letter or a scan that shows your details."))

    def upload(self):
        return upload_of(self.attachment)
