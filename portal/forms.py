"""Form pieces shared by every blueprint, and the request form (the requester's, and staff intake's)."""
from datetime import date

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, RadioField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from . import clock, input_guards, normalize
from .i18n import lazy_gettext as _l
from .lifecycle import REQUEST_TYPES
from .services.cases.submission import NewRequest
from .services.identity import tiers

# The same rules as for what arrives without a form (a DRP agent's claims): input_guards.
_TAG, _CONTROL, _LINE_BREAK = input_guards.TAG, input_guards.CONTROL, input_guards.LINE_BREAK


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for button-only POSTs; the base of every POST form."""

    def validate(self, extra_validators=None):
        """Every single-line field (all but text areas) refuses line breaks: its value may end up
        in a mail header or a file name, where a line break starts something new."""
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field, StringField) and not isinstance(field, TextAreaField) \
                    and isinstance(field.data, str) and _LINE_BREAK.search(field.data):
                field.errors = [*field.errors, _l("Keep this on one line: remove the line breaks.")]
                valid = False
        return valid


def plain_text(form, field):
    """Refuse markup and control characters: every field is plain text."""
    if field.data and _TAG.search(field.data):
        raise ValidationError(_l("Please use plain text only: remove anything that looks like an HTML tag (< >)."))
    if field.data and _CONTROL.search(field.data):
        raise ValidationError(_l("This field contains characters we cannot accept."))


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value


def upload_of(field):
    """(stream, filename, declared type) of an optional file field, or None when nothing was sent."""
    f = field.data
    if not f or not getattr(f, "filename", ""):
        return None
    return f.stream, f.filename, f.mimetype


NAME = Regexp(input_guards.NAME, message=_l("Use letters, spaces, apostrophes, hyphens and periods only."))
STRIPPED = [strip_filter]


def required(label):
    """A required-field message that names what is missing."""
    return DataRequired(message=_l("Please enter %(label)s.", label=label))


def past_date(earliest: date, message):
    """A YYYY-MM-DD date from `earliest` up to yesterday (California date)."""
    def check(form, field):
        if not field.data:
            return
        try:
            value = date.fromisoformat(field.data)
        except ValueError:
            raise ValidationError(_l("Enter the date as YYYY-MM-DD, for example 1980-04-23.")) from None
        if not earliest <= value < clock.today():
            raise ValidationError(message)
    return check


def phone_field(label):
    return StringField(label, filters=STRIPPED, render_kw={"autocomplete": "tel", "type": "tel"}, validators=[
        Optional(), Length(max=40, message=_l("Use at most 40 characters.")),
        Regexp(input_guards.PHONE, message=_l("Use digits, spaces and + ( ) - only."))])


def claim_field():
    return StringField(_l("Claim or account number (optional)"), filters=STRIPPED, validators=[
        Optional(), Length(max=40, message=_l("Use at most 40 characters.")),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9\-/ ]*$", message=_l("Use letters, digits, hyphens and slashes only."))])


def dob_field():
    return StringField(_l("Date of birth (optional)"), filters=STRIPPED, render_kw={"autocomplete": "bday", "type": "date"},
                       validators=[Optional(), past_date(date(1900, 1, 1), _l("Enter a date of birth between 1900 and today."))])


def injury_field():
    return StringField(_l("Date of injury, if you had a work injury claim (optional)"), filters=STRIPPED,
                       render_kw={"type": "date"}, validators=[
                           Optional(), past_date(date(1950, 1, 1), _l("Enter a date of injury between 1950 and today."))])


def employer_field():
    return StringField(_l("Employer at the time of the claim (optional)"), filters=STRIPPED,
                       render_kw={"autocomplete": "organization"}, validators=[
                           Optional(), Length(max=200, message=_l("Use at most 200 characters.")), plain_text])


def postal_code_field():
    return StringField(_l("ZIP code (optional)"), filters=STRIPPED, render_kw={"autocomplete": "postal-code"},
                       validators=[Optional(), Regexp(r"^\d{5}(-?\d{4})?$",
                                                      message=_l("Enter a ZIP code like 92373 or 92373-1234."))])


# What a correction may concern, for §7060(h): those details cannot verify it.
CORRECTION_POINTS = {
    "name": _l("Name"), "date_of_birth": _l("Birth date"), "email": _l("Email"),
    "phone": _l("Phone number"), "postal_code": _l("Address"), "claim_number": _l("A claim or account number"),
    "date_of_injury": _l("An injury date"), "employer": _l("Employer"),
}


class RequestForm(EmptyForm):
    request_type = RadioField(_l("What would you like us to do?"), choices=[SelectChoice(c, t.label) for c, t in REQUEST_TYPES.items()],
                              validate_choice=False, validators=[
                                  DataRequired(message=_l("Choose the kind of request.")),
                                  AnyOf(list(REQUEST_TYPES), message=_l("Choose one of the kinds of request listed."))])
    first_name = StringField(_l("First name"), filters=STRIPPED, render_kw={"autocomplete": "given-name"}, validators=[
        required(_l("your first name")), Length(max=100, message=_l("Use at most 100 characters.")), NAME])
    last_name = StringField(_l("Last name"), filters=STRIPPED, render_kw={"autocomplete": "family-name"}, validators=[
        required(_l("your last name")), Length(max=100, message=_l("Use at most 100 characters.")), NAME])
    email = EmailField(_l("Email address"), filters=STRIPPED, render_kw={"autocomplete": "email"}, validators=[
        required(_l("your email address")), Length(max=254, message=_l("Use at most 254 characters.")),
        Email(message=_l("Enter an email address like name@example.com."), check_deliverability=False)])
    phone = phone_field(_l("Phone (optional)"))
    claim_number = claim_field()
    date_of_birth = dob_field()
    date_of_injury = injury_field()
    employer = employer_field()
    postal_code = postal_code_field()
    details = TextAreaField(_l("Anything else we should know (optional)"), filters=STRIPPED, render_kw={"rows": 4}, validators=[
        Optional(), Length(max=5000, message=_l("Use at most 5,000 characters.")), plain_text])
    access_scope = RadioField(_l("What would you like to receive?"), validate_choice=False, choices=[
        SelectChoice("categories", _l("The categories of information we hold about you and how we use them")),
        SelectChoice("specific", _l("A copy of the specific pieces of information we hold about you"))])
    lookback = RadioField(_l("For what period?"), default="12_months", validate_choice=False, choices=[
        SelectChoice("12_months", _l("The last 12 months")), SelectChoice("since_2022", _l("Everything since January 1, 2022"))])
    correction_current = TextAreaField(_l("What information is wrong?"), filters=STRIPPED, render_kw={"rows": 3}, validators=[
        Optional(), Length(max=5000, message=_l("Use at most 5,000 characters.")), plain_text])
    correction_points = SelectMultipleField(
        _l("Which of your details does the correction concern?"), validate_choice=False,
        description=_l("We confirm who you are with your other details, not the ones being corrected."),
        choices=[SelectChoice(k, label) for k, label in CORRECTION_POINTS.items()],
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    correction_details = TextAreaField(_l("What should it say instead?"), filters=STRIPPED, render_kw={"rows": 3}, validators=[
        Optional(), Length(max=5000, message=_l("Use at most 5,000 characters.")), plain_text])
    correction_document = FileField(_l("A document that supports the correction (optional)"), description=_l(
        "A PDF, PNG or JPEG file, such as a letter, a bill or a form that shows the right information. Attach it "
        "now: after you send this form, our privacy team asks you for documents only if it needs more."))
    declaration = BooleanField(_l("I declare under penalty of perjury under the laws of the State of California "
                                  "that I am the person whose personal information is the subject of this request, "
                                  "and that the information I have given is true and correct."))
    declaration_signature = StringField(_l("Type your full name as your signature"), filters=STRIPPED,
                                        render_kw={"autocomplete": "name"}, validators=[
        Optional(), Length(max=200, message=_l("Use at most 200 characters.")), NAME])

    def validate_correction_points(self, field):
        if any(p not in CORRECTION_POINTS for p in field.data or []):
            raise ValidationError(_l("Choose from the details listed."))

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
            if not self.declaration_signature.data:
                self.declaration_signature.errors.append(_l("Type your full name to sign."))
            elif not normalize.signature_matches(self.declaration_signature.data, self.first_name.data,
                                                 self.last_name.data):
                self.declaration_signature.errors.append(_l("The signature must match the first and last name above."))
        return ok and not any(f.errors for f in self)

    def needs_declaration(self) -> bool:
        kind = self.request_type.data
        return kind in REQUEST_TYPES and tiers.declaration_required(kind, self.access_scope.data)

    def new_upload(self):
        """The correction's document sent with this submission, if any (stream, filename, declared type)."""
        return upload_of(self.correction_document) if self.request_type.data == "correct" else None

    def to_new_request(self, language: str = "en", kept_documents: tuple[int, ...] = ()) -> NewRequest:
        kind = self.request_type.data
        # §7026(c)-(d), §7027(e): an opt-out or limit request asks nothing to verify; whatever was sent anyway is dropped.
        matching = kind not in UNVERIFIED_TYPES
        return NewRequest(
            request_type=kind, first_name=self.first_name.data, last_name=self.last_name.data,
            email=self.email.data, phone=self.phone.data if matching else None,
            claim_number=self.claim_number.data if matching else None,
            date_of_birth=date.fromisoformat(self.date_of_birth.data) if matching and self.date_of_birth.data else None,
            date_of_injury=date.fromisoformat(self.date_of_injury.data) if matching and self.date_of_injury.data else None,
            employer=(self.employer.data or None) if matching else None,
            postal_code=(self.postal_code.data or None) if matching else None,
            correction_points=",".join(self.correction_points.data or []) if kind == "correct" else None,
            details=self.details.data, correction_current=self.correction_current.data if kind == "correct" else None,
            correction_details=self.correction_details.data if kind == "correct" else None,
            access_scope=self.access_scope.data if kind == "access" else None,
            lookback=self.lookback.data or "12_months",
            declaration_signature=self.declaration_signature.data if self.needs_declaration() else None,
            language=language,
            documents=tuple(d for d in [upload_of(self.correction_document)] if d) if kind == "correct" else (),
            kept_documents=kept_documents if kind == "correct" and not upload_of(self.correction_document) else ())


UNVERIFIED_TYPES = ("opt_out", "limit")  # §7060(b): no verification, so no details asked to match


class IdentityDetailsForm(EmptyForm):
    """Data points for matching a person against the business's records, and the declaration where
    the tier needs it: given later from the status page, or by the consumer confirming an agent."""

    phone = phone_field(_l("Phone (optional)"))
    date_of_birth = dob_field()
    claim_number = claim_field()
    date_of_injury = injury_field()
    employer = employer_field()
    postal_code = postal_code_field()
    declaration = BooleanField(_l("I declare under penalty of perjury under the laws of the State of California "
                                  "that I am the person whose personal information is the subject of this request, "
                                  "and that the information I have given is true and correct."))
    declaration_signature = StringField(_l("Type your full name as your signature"), filters=STRIPPED,
                                        render_kw={"autocomplete": "name"}, validators=[
        Optional(), Length(max=200, message=_l("Use at most 200 characters.")), NAME])

    def values(self) -> dict:
        """The data points given, dates as dates."""
        out = {name: self[name].data for name in ("phone", "claim_number", "employer", "postal_code") if self[name].data}
        for name in ("date_of_birth", "date_of_injury"):
            if self[name].data:
                out[name] = date.fromisoformat(self[name].data)
        return out

    def signature(self) -> str | None:
        return self.declaration_signature.data if self.declaration.data and self.declaration_signature.data else None
