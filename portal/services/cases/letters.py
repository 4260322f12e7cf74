"""Letters (§1798.130(a)(2), §7021(b), §7022-§7024): a requester without an email address (a phone or
mail intake) is owed every message a requester with one is mailed. Each is recorded as a letter owed,
in the same words as the mail and in the request's language, for staff to print and send by post and
then record as sent (day and method). A case with a letter owed is not denied automatically."""
import logging
from datetime import date

from flask_babel import format_date
from sqlalchemy import exists, select
from sqlmodel import Session

from ... import clock, i18n
from ...db import atomic
from ...lifecycle import local_date
from ...models import PostalLetter, PrivacyRequest
from .. import audit
from ..delivery import mail
from ..documents import printed

log = logging.getLogger(__name__)


class LetterError(Exception):
    """A letter cannot be recorded as sent as given; the message is for staff."""


def owe(session: Session, req: PrivacyRequest, *, template: str, subject, context: dict) -> PostalLetter:
    """Record a letter owed, rendered now from the mail's own templates in the request's language, in
    the caller's transaction."""
    with i18n.language(req.language):
        subject = str(subject)
        text, _html = mail.render(template=template, subject=subject, context=context)
    letter = PostalLetter(request_id=req.id, template=template, subject=subject[:300], body=text, created_at=clock.now())
    session.add(letter)
    session.flush()
    audit.record(session, action="letter_owed", actor="system", request_id=req.id, detail=f"letter {letter.id} ({template})")
    log.info("request %s has no email address: letter %s (%s) owed by post", req.reference, letter.id, template)
    return letter


def owed(session: Session) -> list[tuple[PostalLetter, PrivacyRequest]]:
    """Every letter not yet recorded as sent, oldest first (the console's list)."""
    return [(letter, req) for letter, req in session.execute(
        select(PostalLetter, PrivacyRequest).join(PrivacyRequest, PrivacyRequest.id == PostalLetter.request_id)
        .where(PostalLetter.sent_on.is_(None)).order_by(PostalLetter.id)).all()]


def for_request(session: Session, req: PrivacyRequest) -> list[PostalLetter]:
    return list(session.execute(select(PostalLetter).where(PostalLetter.request_id == req.id)
                                .order_by(PostalLetter.id)).scalars())


def unsent_exists(request_id):
    """A condition: the case has a letter owed and not yet recorded as sent."""
    return exists().where(PostalLetter.request_id == request_id, PostalLetter.sent_on.is_(None))


@atomic
def record_sent(session: Session, *, letter_id: int, sent_on: date, method: str, actor: str) -> PostalLetter:
    """Staff sent the letter: on which day and how (first-class mail, certified mail, hand delivery)."""
    letter = session.get(PostalLetter, letter_id)
    if letter is None:
        raise LookupError(letter_id)
    if letter.sent_on is not None:
        raise LetterError("This letter is already recorded as sent.")
    method = (method or "").strip()
    if not method:
        raise LetterError("Say how the letter was sent.")
    req = session.get(PrivacyRequest, letter.request_id)
    if sent_on > clock.today() or sent_on < local_date(letter.created_at):
        raise LetterError("Give the day the letter was sent: not in the future, not before it was owed.")
    letter.sent_on, letter.sent_method, letter.recorded_by = sent_on, method[:200], actor
    audit.record(session, action="letter_sent", actor=actor, request_id=req.id, detail=f"letter {letter.id}")
    session.commit()
    return letter


def recipient_lines(req: PrivacyRequest) -> list[str]:
    """The requester's name and postal address, as a window envelope shows them."""
    address = [line.strip() for line in (req.postal_address or "").splitlines() if line.strip()]
    return [f"{req.first_name} {req.last_name}".strip(), *address]


def printable(req: PrivacyRequest, *, subject: str, body: str, sections=()) -> bytes:
    """A PDF on the business's letterhead, in the request's language, dated today."""
    with i18n.language(req.language):
        return printed.letter_pdf(head=printed.letterhead(), recipient=recipient_lines(req),
                                  dated=format_date(clock.today(), format="long"), subject=subject, body=body,
                                  reference=req.reference, language=req.language, created=clock.now(),
                                  sections=sections)


def letter_pdf(session: Session, letter: PostalLetter) -> bytes:
    """The letter owed, as the PDF staff print and post."""
    return printable(session.get(PrivacyRequest, letter.request_id), subject=letter.subject, body=letter.body)
