"""The client's answer form."""
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from ..forms import EmptyForm, plain_text, strip_filter
from ..services.clients.referrals import ANSWERS


class ClientAnswerForm(EmptyForm):
    answer = RadioField("Your answer", validate_choice=False,
                        choices=[SelectChoice(code, label) for code, label in ANSWERS.items()])
    note = TextAreaField("Note for us (optional): what you will do or did, or why the person is not yours",
                         filters=[strip_filter], render_kw={"rows": 4},
                         validators=[Optional(), Length(max=5000), plain_text])
