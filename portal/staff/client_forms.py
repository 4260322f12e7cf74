"""Forms for the client registry (admins) and the outcome chosen for a client on a case (case workers)."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..forms import plain_text, strip_filter
from ..services.clients import referrals, registry
from ..services.clients.registry import ClientData
from .forms import CaseActionForm

F = [strip_filter]


class ClientForm(FlaskForm):
    key = StringField("Key", filters=F, validators=[DataRequired(message="Give the client's key."), Length(max=64)],
                      description="What the identity index's client column and the data map's client: name. "
                                  "Letters, digits and _ . - only; it cannot change later.")
    name = StringField("Name", filters=F, validators=[
        DataRequired(message="Give the client's name."), Length(max=200), plain_text])
    kind = RadioField("Kind of client", choices=[SelectChoice(k, v) for k, v in registry.KINDS.items()],
                      validators=[InputRequired(message="Choose the kind of client.")])
    agreement = RadioField("The business holds its data under", validators=[
        InputRequired(message="Choose the agreement.")],
        choices=[SelectChoice(k, v) for k, v in registry.AGREEMENTS.items()])
    email = StringField("Privacy contact email", filters=F, validators=[
        DataRequired(message="Give the client's privacy contact email address."), Length(max=254)],
        description="Forwarded requests without a webhook go here, and consumers are told to write here.")
    days = IntegerField("Days it commits to answer a forwarded request in", default=registry.DEFAULT_DAYS,
                        validators=[InputRequired(message="Give a number of days."),
                                    NumberRange(min=1, max=registry.MAX_DAYS, message="Give 1 to 45 days.")])
    webhook_url = StringField("Webhook address (optional)", filters=F, validators=[Optional(), Length(max=500)],
                              description="An https:// address that receives forwarded requests and status "
                                          "callbacks as signed JSON. Empty: forwarded requests go by mail.")
    webhook_secret = PasswordField("Signing secret", validators=[Optional(), Length(max=200)],
                                   render_kw={"autocomplete": "new-password"},
                                   description="At least 32 characters, shared with the client, who checks the "
                                               "X-Portal-Signature header. Stored encrypted. Empty: the current one "
                                               "is kept (a new webhook gets one generated, shown once).")
    verify_key = StringField("API verify key (optional)", filters=F, validators=[Optional(), Length(max=64)],
                             description="The standard base64 of the client's Ed25519 public key: it may then send "
                                         "its own requests through the signed API (/clients/v1/requests).")

    def data_for_service(self) -> ClientData:
        return ClientData(key=self.key.data or "", name=self.name.data or "", kind=self.kind.data,
                          agreement=self.agreement.data, email=self.email.data or "", days=self.days.data,
                          webhook_url=self.webhook_url.data, webhook_secret=self.webhook_secret.data or None,
                          verify_key=self.verify_key.data or None)


class ClientOutcomeForm(CaseActionForm):
    outcome = RadioField("Outcome", choices=[SelectChoice(k, v) for k, v in referrals.OUTCOMES.items()],
                         validators=[InputRequired(message="Choose forward, explain or handle as the business.")])
