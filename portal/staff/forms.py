"""Console forms: queue filters, one form per case action, staff intake, records and metrics."""
import base64
import binascii
from datetime import date

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    Form,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Email, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import clock, db, lifecycle
from ..forms import EmptyForm, RequestForm, plain_text, strip_filter
from ..i18n import lazy_gettext as _l
from ..input_guards import MAX_ID
from ..lifecycle import (
    HOLD_REASONS,
    INQUIRY_KINDS,
    INQUIRY_STATUS_LABELS,
    MAX_EXTENSION_DAYS,
    REQUEST_TYPES,
    STATUS_LABELS,
)
from ..services.cases import agents, casework, outcomes, work_queue
from ..services.cases.outcomes import Completion
from ..services.cases.submission import Intake
from ..services.cases.work_queue import QueueFilters
from ..services.fulfilment.access_package import released_files as released_package
from ..services.identity import tiers

F = [strip_filter]


def _text(label, *, required=True, max_length=5000, rows=4, description=None):
    checks = [DataRequired(message=_l("Please fill this in."))] if required else [Optional()]
    return TextAreaField(label, filters=F, description=description, render_kw={"rows": rows}, validators=[
        *checks, Length(max=max_length, message=_l("Use at most %(n)s characters.", n=max_length)), plain_text])


def _bases(request_type: str | None = None, req=None):
    """The bases as choices: for a case, only those that can be true for it (outcomes.applicable_bases)."""
    bases = outcomes.applicable_bases(db.session(), req) if req is not None else outcomes.denial_bases(request_type)
    return [SelectChoice(b["code"], f'{b["label"]} ({b["citation"]})') for b in bases.values()]


def _categories_field(label, required=False):
    field = _text(label, required=False, rows=2, max_length=2000, description=_l(
        "The categories of personal information this covers, in plain words (for example: medical "
        "reports from your claim file). The requester receives them."))
    if required:
        field.kwargs["validators"][0] = DataRequired(
            message=_l("Name the categories of personal information the denial covers."))
    return field


class QueueFilterForm(Form):
    """The queue's filters and search: a plain GET form (no CSRF: it changes nothing)."""

    q = StringField(_l("Search by reference, email or name"), filters=F, render_kw={"type": "search"},
                    description=_l("Any case, open or closed: an email finds the request and an agent's request "
                                   "for that person; a name matches without its accents (Jose finds José)."))
    status = SelectField(_l("Status"), validate_choice=False, choices=[
        SelectChoice("open", _l("All open")), SelectChoice("closed", _l("All closed")), SelectChoice("all", _l("Any status")),
        *[SelectChoice(code, label) for code, label in STATUS_LABELS.items()]], default="open")
    request_type = SelectField(_l("Type"), validate_choice=False, choices=[
        SelectChoice("", _l("Any type")), *[SelectChoice(c, t.label) for c, t in REQUEST_TYPES.items()]], default="")
    hold_reason = SelectField(_l("Hold reason"), validate_choice=False, choices=[
        SelectChoice("", _l("Any hold reason")), *[SelectChoice(c, label) for c, label in HOLD_REASONS.items()]], default="")
    band = SelectField(_l("Deadline"), validate_choice=False, choices=[
        SelectChoice("", _l("Any deadline")), *[SelectChoice(c, label) for c, label in work_queue.DEADLINE_BANDS.items()]],
        default="")
    manner = SelectField(_l("Received by"), validate_choice=False, choices=[
        SelectChoice("", _l("Any manner")), *[SelectChoice(c, label) for c, label in lifecycle.MANNERS.items()]], default="")
    assignee = SelectField(_l("Assigned to"), validate_choice=False, choices=[
        SelectChoice("", _l("Anyone")), SelectChoice("mine", _l("Mine")), SelectChoice("unassigned", _l("Unassigned"))],
        default="")
    items = SelectField(_l("Fulfilment plan"), validate_choice=False, choices=[
        SelectChoice("", _l("Any plan")), SelectChoice("overdue", _l("Plan items overdue"))], default="")
    after = HiddenField()

    def filters(self, *, staff_id: int | None = None) -> QueueFilters:
        assignee = self.assignee.data if self.assignee.data in ("mine", "unassigned") else ""
        return QueueFilters(status=self.status.data or "open", request_type=self.request_type.data or "",
                            assignee=assignee, staff_id=staff_id,
                            hold_reason=self.hold_reason.data or "", band=self.band.data or "",
                            manner=self.manner.data or "", q=(self.q.data or "")[:200], after=self.after.data or "",
                            items="overdue" if self.items.data == "overdue" else "")


class CaseActionForm(EmptyForm):
    """Every case action carries the version of the case the page showed (optimistic locking)."""

    version = HiddenField()

    def bind_case(self, req) -> "CaseActionForm":
        """The case the form acts on: some choices depend on it (the bases for its request type)."""
        self.case = req
        return self

    def version_number(self) -> int | None:
        try:
            version = int(self.version.data)
        except (TypeError, ValueError):
            return None
        return version if 0 <= version <= MAX_ID else None


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class VerifyForm(CaseActionForm):
    """Verification by hand: for each data point staff confirmed, where they confirmed it."""

    note = _text(_l("How you checked (optional)"), required=False, rows=2)

    def source_fields(self):
        return [self[f"source_{point}"] for point in casework.DATA_POINTS]

    def sources(self) -> dict[str, str]:
        return {point: self[f"source_{point}"].data for point in casework.DATA_POINTS if self[f"source_{point}"].data}

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        automatic = set(getattr(self, "automatic", ()))
        needed = tiers.points_required(self.case)
        disputed = set(tiers.excluded_points(self.case))  # §7060(h): a correction's disputed details never count
        counted = (set(self.sources()) - disputed) | automatic
        if ok and len(counted) < needed:
            message = _l("This request needs at least %(n)s matching data points, each with the source that confirmed "
                         "it; %(have)s count so far.", n=needed, have=len(counted))
            if disputed & set(self.sources()):
                message = _l("%(message)s The details the correction disputes (%(points)s) cannot verify it: check "
                             "other points, or ask the requester for more with “Ask the requester for information”.",
                             message=message, points=", ".join(sorted(disputed & set(self.sources()))))
            self.source_email.errors.append(message)
            return False
        return ok


for _point, _label in casework.DATA_POINTS.items():
    setattr(VerifyForm, f"source_{_point}", SelectField(
        _label, default="", validate_choice=True,
        choices=[SelectChoice("", _l("Not checked"))] + [SelectChoice(k, v) for k, v in casework.VERIFICATION_SOURCES.items()]))


class HoldForm(CaseActionForm):
    reason = _text(_l("Reason (internal, not sent to the requester)"), rows=2, max_length=1000)


class RequestInfoForm(CaseActionForm):
    message = _text(_l("What do you need from the requester?"),
                    description=_l("The requester receives this message by email and sees it on their status page."))


class ExtendForm(CaseActionForm):
    days = IntegerField(_l("Extra days"), default=MAX_EXTENSION_DAYS, description=_l("1 to 45 days."), validators=[
        InputRequired(message=_l("Enter the number of days.")),
        NumberRange(min=1, max=MAX_EXTENSION_DAYS, message=_l("Enter a number from 1 to 45."))])
    reason = _text(_l("Why more time is needed"), rows=3, max_length=2000,
                   description=_l("The requester receives this reason by email."))


class DenyForm(CaseActionForm):
    # The empty first choice makes staff pick a basis: HTML requires it on a required select.
    basis = SelectField(_l("Basis for the denial"), validate_choice=False,
                        choices=lambda: [SelectChoice("", _l("Choose a basis")), *_bases()], validators=[
        DataRequired(message=_l("Choose the basis."))])
    categories = _categories_field(_l("Categories of personal information the denial covers"), required=True)
    explanation = _text(_l("Explanation for the requester"), description=_l(
        "The requester receives this explanation by email and on their status page, with the basis and its citation. "
        "Use plain language and name the data and the exception. For a suspected fraud, write the documented reason."))

    def bind_case(self, req):
        super().bind_case(req)
        self.basis.choices = [SelectChoice("", _l("Choose a basis")), *_bases(req=req)]
        return self

    assessment = _text(_l("What you considered (corrections)"), required=False, rows=3, description=_l(
        "The documentation the requester sent, the source of the data, and anything else you weighed (§7023(b)). "
        "Kept with the record."))
    source = _text(_l("Where the information came from, when not from us (corrections, optional)"), required=False,
                   rows=2, description=_l("Told to the requester (§7023(i)): the source the inaccurate information came from."))
    contested_statement = _text(_l("The requester's statement that the data is contested (optional)"),
                                required=False, description=_l("Up to 250 words, kept with the record (§7023)."))

    def validate_basis(self, field):
        if field.data not in outcomes.applicable_bases(db.session(), self.case):
            raise ValidationError(_l("Choose one of the bases listed: only those that can be true for this case are offered."))

    def validate_assessment(self, field):
        if self.case.request_type == "correct" and not (field.data or "").strip():
            raise ValidationError(_l("Record what you considered: the documentation and the source of the data."))

    def validate_contested_statement(self, field):
        limit = outcomes.contested_word_limit(self.case)
        if field.data and outcomes.word_count(field.data) > limit:
            raise ValidationError(_l("Use at most %(n)s words.", n=limit))


class CompleteForm(CaseActionForm):
    # Nothing is chosen in advance: staff say whether they complied in whole or in part.
    outcome = RadioField(_l("Outcome"), validate_choice=False, choices=[
        SelectChoice("completed", _l("Complied in whole")), SelectChoice("partially_completed", _l("Complied in part"))])
    correction_result = RadioField(_l("Correction outcome"), validate_choice=False, choices=[
        SelectChoice("corrected", _l("Corrected as asked")), SelectChoice("partially_corrected", _l("Partly corrected"))])
    message = _text(_l("Response to the requester"), rows=5, description=_l(
        "The requester receives this response by email and sees it on their status page."))
    deleted_summary = _text(_l("What was deleted or deidentified"), required=False, rows=3)
    kept_summary = _text(_l("What was kept, and why"), required=False, rows=3)
    kept_basis = SelectField(_l("Exception for what was kept"), validate_choice=False,
                             choices=lambda: [SelectChoice("", _l("None")), *_bases()])
    covered_categories = _categories_field(_l("Categories of personal information the exception covers"))
    assessment = _text(_l("What you considered (corrections)"), required=False, rows=3, description=_l(
        "The documentation the requester sent, the source of the data, and anything else you weighed (§7023(b)). "
        "Kept with the record."))

    corrected_details = _text(_l("What was corrected (sent to the recipients of corrections)"), required=False, rows=3,
                              description=_l("Only what you corrected: the recipients are told to apply exactly this, "
                                             "identified by the identifiers they hold for the person."))
    source = _text(_l("Where the information came from, when not from us (corrections, optional)"), required=False,
                   rows=2, description=_l("Told to the requester (§7023(i)): the source the inaccurate information came from."))

    def bind_case(self, req):
        super().bind_case(req)
        self.kept_basis.choices = [SelectChoice("", _l("None")), *_bases(req=req)]
        return self

    def validate_corrected_details(self, field):
        if self.case.request_type != "correct" or self.correction_result.data not in ("corrected", "partially_corrected"):
            return
        if not (field.data or "").strip():
            raise ValidationError(_l("Say what was corrected: the recipients of corrections are told exactly this."))
        if self.correction_result.data == "partially_corrected" and field.data.strip() == (
                self.case.correction_details or "").strip():
            raise ValidationError(_l("A partial correction sends only what was corrected: keep here the parts you "
                                     "accepted, not the whole request."))
    carried_json = HiddenField()
    carried_csv = HiddenField()
    carried_pdf = HiddenField()
    response_json = FileField(_l("Response file, JSON"))
    response_csv = FileField(_l("Response file, CSV"))
    response_pdf = FileField(_l("Response file, PDF"), description=_l(
        "Checked as any upload (a real PDF, no scripts or embedded files). Its text is not scanned: make sure it "
        "holds none of the numbers listed above."))
    use_package = BooleanField(_l("Release the access package the connectors built (its JSON and a CSV sheet)"))
    sensitive = RadioField(_l("If a file holds data that must never be disclosed (§7024(d))"), default="refuse",
                           validate_choice=False, choices=[
                               SelectChoice("refuse", _l("Refuse the file and tell me which field")),
                               SelectChoice("mask", _l("Show such values as \u201ccollected: yes\u201d"))])
    answer_categories = _text(outcomes.CATEGORIES_RESPONSE_PARTS["categories"], required=False, rows=3,
                              description=_l("One per line."))
    answer_sources = _text(outcomes.CATEGORIES_RESPONSE_PARTS["sources"], required=False, rows=3,
                           description=_l("One per line."))
    answer_purposes = _text(outcomes.CATEGORIES_RESPONSE_PARTS["purposes"], required=False, rows=3,
                            description=_l("One per line."))
    answer_recipients = _text(outcomes.CATEGORIES_RESPONSE_PARTS["recipients"], required=False, rows=3,
                              description=_l("One per line; leave empty if none."))
    answer_sold_or_shared = _text(outcomes.CATEGORIES_RESPONSE_PARTS["sold_or_shared"], required=False, rows=3,
                                  description=_l("One per line, as “category: third parties”; leave empty if none "
                                                 "(the answer then says nothing was sold or shared)."))
    answer_disclosed = _text(outcomes.CATEGORIES_RESPONSE_PARTS["disclosed"], required=False, rows=3,
                             description=_l("One per line, as “category: recipients”; leave empty if none "
                                            "(the answer then says none was disclosed)."))

    def completion(self) -> Completion:
        """What was sent, read once (an uploaded file's stream can only be read once)."""
        if getattr(self, "_completion", None) is None:
            self._completion = self._read_completion()
        return self._completion

    def carry_files(self) -> None:
        """Keep the uploaded files through the review step: the page sends them back with "Send"."""
        completion = self.completion()
        for kind, f in (("json", self.response_json), ("csv", self.response_csv), ("pdf", self.response_pdf)):
            if kind in completion.files and ((f.data and getattr(f.data, "filename", "")) or self[f"carried_{kind}"].data):
                self[f"carried_{kind}"].data = base64.b64encode(completion.files[kind]).decode()

    def _read_completion(self) -> Completion:
        files = {}
        for kind, f in (("json", self.response_json), ("csv", self.response_csv), ("pdf", self.response_pdf)):
            if f.data and getattr(f.data, "filename", ""):
                files[kind] = f.data.read()
            elif self[f"carried_{kind}"].data:  # a file uploaded before the review step, carried through it
                try:
                    files[kind] = base64.b64decode(self[f"carried_{kind}"].data, validate=True)
                except (binascii.Error, ValueError):
                    self[f"response_{kind}"].errors.append(_l("Attach the file again."))
        if self.use_package.data and getattr(self, "case", None) is not None:
            files.update(released_package(self.case))
        return Completion(message=self.message.data or "", partial=self.outcome.data == "partially_completed",
                          deleted_summary=self.deleted_summary.data, kept_summary=self.kept_summary.data,
                          kept_basis=self.kept_basis.data or None, correction_result=self.correction_result.data,
                          covered_categories=self.covered_categories.data, sensitive=self.sensitive.data or "refuse",
                          assessment=self.assessment.data, corrected_details=self.corrected_details.data,
                          source=self.source.data,
                          categories_response={part: outcomes.lines(self[f"answer_{part}"].data)
                                               for part in outcomes.CATEGORIES_RESPONSE_PARTS},
                          files=files)

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if self.outcome.data not in ("completed", "partially_completed"):
            self.outcome.errors.append(_l("Choose the outcome: complied in whole, or in part."))
        waiting = outcomes.blocking_completion(db.session(), self.case)
        if waiting:
            self.outcome.errors.append(waiting)
        for name, problem in outcomes.completion_problems(self.case, self.completion()).items():
            target = self._fields.get(name) or (self.response_json if name == "files" else self.message)
            if problem not in target.errors:
                target.errors.append(problem)
        return ok and not any(f.errors for f in self)


class AgentAcceptForm(CaseActionForm):
    """Accept an agent's authorization: every checklist item must hold."""

    checklist = MultiCheckboxField(_l("What you checked on the document"), validate_choice=False,
                                   choices=[SelectChoice(c, label) for c, label in agents.REVIEW_CHECKLIST.items()])
    note = _text(_l("Note on the review (optional, internal)"), required=False, rows=2, max_length=2000)

    def validate_checklist(self, field):
        if sorted(set(field.data or [])) != sorted(agents.REVIEW_CHECKLIST):
            raise ValidationError(_l("Every item must hold to accept the authorization. If one does not, "
                                     "reject it with the reason."))


class AgentRejectForm(CaseActionForm):
    """Reject an agent's authorization: the request is denied and the agent receives the reason."""

    reason = _text(_l("Reason for the agent"), rows=3, max_length=2000, description=_l(
        "The agent receives this reason by email and on the request's status page. Say what is missing "
        "or wrong, so a corrected authorization can be sent with a new request."))


class AgentAskForm(CaseActionForm):
    """Ask the agent for more documents before deciding on the authorization."""

    message = _text(_l("What do you need from the agent?"), description=_l(
        "The agent receives this message by email and answers from the request's status page, with a document."))


class NoteForm(EmptyForm):
    body = _text(_l("Internal note"), rows=3, description=_l("Only staff see notes."))


class IntakeForm(RequestForm):
    """A phone or mail request typed in by staff: the request form plus manner and date received."""

    manner = RadioField(_l("How the request was received"), validate_choice=False, choices=[
        SelectChoice(c, lifecycle.MANNERS[c]) for c in lifecycle.INTAKE_MANNERS], validators=[
        DataRequired(message=_l("Choose how the request was received."))])
    # The language the requester used: every mail about the request goes out in it.
    language = RadioField(_l("Language of the requester's mail"), default="en", validate_choice=False, choices=[
        SelectChoice("en", "English"), SelectChoice("es", "Español")], validators=[
        AnyOf(("en", "es"), message=_l("Choose English or Spanish."))])
    received_on = StringField(_l("Date received"), filters=F, render_kw={"type": "date"},
                              description=_l("The day the call or letter came in, as YYYY-MM-DD. Deadlines count from it."),
                              validators=[DataRequired(message=_l("Enter the date the request was received."))])
    email = EmailField(_l("Email address (optional)"), filters=F, validators=[
        Optional(), Length(max=254, message=_l("Use at most 254 characters.")),
        Email(message=_l("Enter an email address like name@example.com."), check_deliverability=False)])
    postal_address = _text(_l("Postal address (where there is no email address)"), required=False, rows=3,
                           max_length=500)
    confirmed_by = RadioField(_l("How the requester's identity and intent were confirmed"), validate_choice=False,
                              choices=[SelectChoice(c, label) for c, label in lifecycle.INTAKE_CONFIRMATIONS.items()],
                              validators=[DataRequired(message=_l("Choose how identity and intent were confirmed."))])
    acknowledged_by = RadioField(_l("How receipt was acknowledged"), validate_choice=False,
                                 choices=[SelectChoice(c, label) for c, label in lifecycle.ACKNOWLEDGEMENT_MEANS.items()],
                                 validators=[DataRequired(message=_l("Choose how receipt was acknowledged."))])
    declaration = BooleanField(_l(
        "The requester made the declaration under penalty of perjury (signed on paper, or read back and agreed by phone)."))
    declaration_signature = StringField(_l("Requester's name as declared"), filters=F, validators=[
        Optional(), Length(max=200, message=_l("Use at most 200 characters."))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Staff type someone else's details: the browser must not fill in their own.
        for f in self:
            if f.render_kw and "autocomplete" in f.render_kw:
                f.render_kw = {**f.render_kw, "autocomplete": "off"}

    def validate_manner(self, field):
        if field.data not in lifecycle.INTAKE_MANNERS:
            raise ValidationError(_l("Choose phone, mail or email."))

    def validate_confirmed_by(self, field):
        if field.data not in lifecycle.INTAKE_CONFIRMATIONS:
            raise ValidationError(_l("Choose how identity and intent were confirmed."))

    def validate_acknowledged_by(self, field):
        if field.data not in lifecycle.ACKNOWLEDGEMENT_MEANS:
            raise ValidationError(_l("Choose how receipt was acknowledged."))
        if field.data == "email" and not self.email.data:
            raise ValidationError(_l("An acknowledgement by email needs the email address."))

    def validate_postal_address(self, field):
        if not field.data and not self.email.data:
            raise ValidationError(_l("Give an email address or a postal address."))

    def validate_received_on(self, field):
        try:
            value = date.fromisoformat(field.data)
        except ValueError:
            raise ValidationError(_l("Enter the date as YYYY-MM-DD.")) from None
        if value > clock.today():
            raise ValidationError(_l("The date received cannot be in the future."))
        if value < date(2020, 1, 1):
            raise ValidationError(_l("Enter a date from 2020 on."))

    def received_date(self) -> date:
        return date.fromisoformat(self.received_on.data)

    def intake(self, received_at) -> Intake:
        return Intake(manner=self.manner.data, received_at=received_at, confirmed_by=self.confirmed_by.data,
                      acknowledged_by=self.acknowledged_by.data, postal_address=self.postal_address.data or None)


class RecordsForm(Form):
    """§7101 records export: a date range (GET, changes nothing)."""

    start = StringField(_l("From"), filters=F, render_kw={"type": "date"},
                        validators=[DataRequired(message=_l("Enter the first date."))])
    end = StringField(_l("To"), filters=F, render_kw={"type": "date"},
                      validators=[DataRequired(message=_l("Enter the last date."))])

    def dates(self) -> tuple[date, date] | None:
        try:
            start, end = date.fromisoformat(self.start.data or ""), date.fromisoformat(self.end.data or "")
        except ValueError:
            self.start.errors = list(self.start.errors) + [_l("Enter dates as YYYY-MM-DD.")]
            return None
        if start > end:
            self.end.errors = list(self.end.errors) + [_l("The last date must not be before the first.")]
            return None
        return start, end


class InquiryFilterForm(Form):
    """The inquiries list's filters: a plain GET form."""

    status = SelectField(_l("Status"), validate_choice=False, default="open_or_answered", choices=[
        SelectChoice("open_or_answered", _l("Open or answered")), SelectChoice("all", _l("Any status")),
        *[SelectChoice(code, label) for code, label in INQUIRY_STATUS_LABELS.items()]])
    kind = SelectField(_l("About"), validate_choice=False, default="", choices=[
        SelectChoice("", _l("Any subject")), *[SelectChoice(code, label) for code, label in INQUIRY_KINDS.items()]])


class InquiryAnswerForm(CaseActionForm):
    body = _text(_l("Your answer"), rows=6, max_length=10000,
                 description=_l("The sender receives this by email and can read it on their status page."))


class InquiryCloseForm(CaseActionForm):
    """Close an inquiry: no more answers or follow-ups."""
