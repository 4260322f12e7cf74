"""The case page's form for a plan item's outcome."""
from flask_wtf.file import FileField
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from ..forms import EmptyForm, plain_text, strip_filter
from ..i18n import lazy_gettext as _l

OUTCOMES = [("done", _l("Found and done")), ("not_found", _l("Searched: not found")),
            ("not_held", _l("This system does not hold such data")), ("in_progress", _l("Started, not finished")),
            ("failed", _l("Could not be done"))]


class PlanItemForm(EmptyForm):
    """Staff record what happened in one system: found or not, what was done, an optional file."""

    state = RadioField(_l("Outcome"), validate_choice=False, choices=[SelectChoice(c, label) for c, label in OUTCOMES])
    note = TextAreaField(_l("What was done"), filters=[strip_filter], render_kw={"rows": 3}, description=_l(
        "Which records, what you erased, kept or sent; no personal data beyond what the record needs."),
        validators=[Optional(), Length(max=5000, message=_l("Use at most %(n)s characters.", n=5000)), plain_text])
    evidence = FileField(_l("Evidence file (optional: PDF, PNG or JPEG)"))


def item_form(item_id: int, *, submitted: bool = False) -> PlanItemForm:
    """The form of one item: blank for the page, or read from the request that posted it."""
    if submitted:
        return PlanItemForm(prefix=f"item{item_id}")
    return PlanItemForm(prefix=f"item{item_id}", formdata=None)
