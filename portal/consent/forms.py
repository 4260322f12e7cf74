"""The preference form: one switch per optional category, and the button that was pressed."""
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import AnyOf, Length, Optional

from ..forms import EmptyForm
from ..i18n import lazy_gettext as _l
from ..services.consent.choices import ACTIONS, Category, ConsentState


class PreferencesForm(EmptyForm):
    # The submit button's value: accept_all, reject_all or save (Enter in the form means save).
    action = StringField(filters=[lambda v: v.strip() if isinstance(v, str) else v],
                         validators=[Optional(), AnyOf(ACTIONS, message=_l("Choose one of the buttons."))])
    source = HiddenField(default="center", validators=[AnyOf(("banner", "center"))])
    next = HiddenField(validators=[Optional(), Length(max=500)])

    @property
    def chosen_action(self) -> str:
        return self.action.data or "save"

    def selected(self, categories: tuple[Category, ...]) -> dict:
        return {c.key: bool(self[c.key].data) for c in categories if not c.required}


def preferences_form(categories: tuple[Category, ...], state: ConsentState, **kwargs) -> PreferencesForm:
    """The form for the configured categories, switched as the visitor's current state."""
    fields = {c.key: BooleanField(c.label, description=c.description, default=state.choices[c.key])
              for c in categories if not c.required}
    form_class = type("ConfiguredPreferencesForm", (PreferencesForm,), fields)
    return form_class(**kwargs)
