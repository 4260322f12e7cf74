"""PostalLetter: a requester message owed by post to a requester without an email address
(§1798.130(a)(2), §7021(b)): the same words as the mail, in the request's language, for staff to print,
send and record (day and method)."""
from datetime import date, datetime

from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _request_fk, _text, _ts


class PostalLetter(SQLModel, table=True):
    __tablename__ = "postal_letter"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = _request_fk()
    template: str = Field(max_length=64)  # the mail it stands for (templates/mail/<template>)
    subject: str = Field(max_length=300)
    body: str = _text(nullable=False)  # rendered in the request's language when it was owed
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)
    sent_on: date | None = None
    sent_method: str | None = Field(default=None, max_length=200)
    recorded_by: str | None = Field(default=None, max_length=64)
