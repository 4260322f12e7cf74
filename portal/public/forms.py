"""Requester forms: the status form, withdrawal, inquiries and answers (the request form is shared)."""
from flask import current_app
from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, Length, Optional, ValidationError

from ..forms import (
    NAME,
    STRIPPED,
    EmptyForm,
    IdentityDetailsForm,
    plain_text,
    required,
    upload_of,
)
from ..i18n import lazy_gettext as _l
from ..lifecycle import INQUIRY_KINDS
from ..services.cases import references
from ..services.cases.inquiries import NewInquiry


class StatusForm(EmptyForm):
    reference = StringField(_l("Request reference"), filters=STRIPPED, description=_l("It looks like PR-XXXX-XXXX."),
                            validators=[required(_l("the reference from your email")),
                                        Length(max=40, message=_l("Use at most 40 characters."))])
    email = EmailField(_l("Email address used for the request"), filters=STRIPPED, validators=[
        required(_l("your email address")), Length(max=254, message=_l("Use at most 254 characters.")),
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
    name = StringField(_l("Your name"), filters=STRIPPED, render_kw={"autocomplete": "name"}, validators=[
        required(_l("your name")), Length(max=200, message=_l("Use at most 200 characters.")), plain_text])
    email = EmailField(_l("Email address"), filters=STRIPPED, render_kw={"autocomplete": "email"}, validators=[
        required(_l("your email address")), Length(max=254, message=_l("Use at most 254 characters.")),
        Email(message=_l("Enter an email address like name@example.com."), check_deliverability=False)])
    organization = StringField(_l("Organization (optional)"), filters=STRIPPED, render_kw={"autocomplete": "organization"},
                               validators=[Optional(), Length(max=200, message=_l("Use at most 200 characters.")),
                                           plain_text])
    message = TextAreaField(_l("Your message"), filters=STRIPPED, render_kw={"rows": 6}, validators=[
        required(_l("your message")), Length(max=10000, message=_l("Use at most 10,000 characters.")), plain_text])
    attachment = FileField(_l("Attach a document (optional)"),
                           description=_l("One PDF, PNG or JPEG file, up to 10 MB, such as a screenshot or a letter."))

    def upload(self):
        return upload_of(self.attachment)

    def to_new_inquiry(self, language: str = "en") -> NewInquiry:
        return NewInquiry(kind=self.kind.data, name=self.name.data, email=self.email.data,
                          organization=self.organization.data, message=self.message.data, language=language)


class FollowUpForm(EmptyForm):
    body = TextAreaField(_l("Write back to our privacy team"), filters=STRIPPED, render_kw={"rows": 4}, validators=[
        required(_l("your message")), Length(max=10000, message=_l("Use at most 10,000 characters.")), plain_text])

class ContestForm(EmptyForm):
    statement = TextAreaField(_l("Your statement"), filters=STRIPPED, render_kw={"rows": 8}, validators=[
        required(_l("your statement")), Length(max=20000, message=_l("Use at most 20,000 characters.")), plain_text])
    word_limit: int | None = None  # the case's own (§7023(f)(3): per piece contested), set by the view

    def validate_statement(self, field):
        limit = self.word_limit or current_app.config["CONTESTED_STATEMENT_MAX_WORDS"]
        if len((field.data or "").split()) > limit:
            raise ValidationError(_l("Use at most %(n)s words.", n=limit))


class AnswerForm(EmptyForm):
    body = TextAreaField(_l("Your answer"), filters=STRIPPED, render_kw={"rows": 5}, validators=[
        required(_l("your answer")), Length(max=5000, message=_l("Use at most 5,000 characters.")), plain_text])
    attachment = FileField(_l("Attach a document (optional)"),
                           description=_l("A PDF, PNG or JPEG file, such as a letter or a scan that shows your details."))

    def upload(self):
        return upload_of(self.attachment)


class AddDetailsForm(IdentityDetailsForm):
    """More data points for matching, from the status page (the name too, as the business's records
    may hold it); and the declaration where it is needed."""

    first_name = StringField(_l("First name, as on your claim or bills (optional)"), filters=STRIPPED,
                             render_kw={"autocomplete": "given-name"},
                             validators=[Optional(), Length(max=100, message=_l("Use at most 100 characters.")), NAME])
    last_name = StringField(_l("Last name, as on your claim or bills (optional)"), filters=STRIPPED,
                            render_kw={"autocomplete": "family-name"},
                            validators=[Optional(), Length(max=100, message=_l("Use at most 100 characters.")), NAME])

    def values(self) -> dict:
        out = super().values()
        if self.first_name.data and self.last_name.data:
            out.update(first_name=self.first_name.data, last_name=self.last_name.data)
        return out

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if bool(self.first_name.data) != bool(self.last_name.data):
            (self.last_name if self.first_name.data else self.first_name).errors.append(
                _l("Give both the first and the last name, or neither."))
            return False
        if ok and not self.values() and not self.signature():
            self.phone.errors.append(_l("Give at least one more detail."))
            return False
        if self.declaration_signature.data and not self.declaration.data:
            self.declaration.errors.append(_l("Tick the box to sign the declaration."))
            return False
        return ok
