"""The review step: an action that sends the requester a message (a denial, a completion, a request for
information, an extension, an agent's rejection or request for documents) first shows the exact mail,
rendered from the real mail templates in the requester's language, with one "Send" that says where
it goes: an email address, or a letter owed to the postal address (services/cases/letters.py).
Nothing is stored between the two steps: the page carries the form's values back, with the case
version it was loaded at, so the version check still applies when "Send" is pressed."""
from flask import render_template
from flask_babel import gettext as _

from .. import db
from ..services.cases import agents, casework, notices, outcomes, submission
from ..services.cases.transitions import MailSpec, RequesterMail, agent_of, render_requester_mail

TITLES = {
    "deny": "Check the denial before it goes",
    "complete": "Check the response before it goes",
    "request_info": "Check the request for information before it goes",
    "extend": "Check the extension notice before it goes",
    "reject_agent": "Check the rejection before it goes",
    "ask_agent": "Check the request to the agent before it goes",
}
WHAT_HAPPENS = {
    "deny": "The case closes as denied.",
    "complete": "The case closes as answered.",
    "request_info": "The case goes on hold until the requester answers.",
    "extend": "The due date moves to the extended date.",
    "reject_agent": "The request is denied: the agent's authorization was not accepted.",
    "ask_agent": "The review waits for the agent's answer.",
}


def _complete_spec(session, req, form) -> MailSpec:
    return outcomes.completion_mail(req, form.completion(), untold=notices.explained_to_requester(session, req))


def _deny_spec(session, req, form) -> MailSpec:
    statement = (form.contested_statement.data or "").strip() if req.request_type == "correct" else ""
    return outcomes.denial_mail(req, basis=outcomes.applicable_bases(session, req)[form.basis.data],
                                explanation=form.explanation.data, categories=form.categories.data,
                                contested=bool(statement),
                                source=form.source.data if req.request_type == "correct" else None)


REVIEWED = {
    "deny": _deny_spec,
    "complete": _complete_spec,
    "request_info": lambda session, req, form: casework.information_mail(req, form.message.data),
    "extend": lambda session, req, form: submission.extension_mail(req, form.reason.data),
    "reject_agent": lambda session, req, form: agents.rejection_mail(req, agent_of(session, req), form.reason.data),
    "ask_agent": lambda session, req, form: casework.information_mail(req, form.message.data),
}


def requester_mail(req, action: str, form) -> RequesterMail:
    """The mail (or letter) this action sends, as the requester will receive it."""
    session = db.session()
    return render_requester_mail(session, req, REVIEWED[action](session, req, form))


def render(req, action: str, form):
    """The review page: the mail as it will go, the form's values carried, one "Send"."""
    if action == "complete":
        form.carry_files()
    mail = requester_mail(req, action, form)
    return render_template("staff/review.html", req=req, action=action, form=form, mail=mail,
                           title=TITLES[action], what_happens=WHAT_HAPPENS[action],
                           files=sorted(form.completion().files) if action == "complete" else [])


def done_message(done, sent: RequesterMail | None) -> str:
    """What the member of staff reads once the action is applied: where the message went, truly."""
    if sent is None:
        return str(done)
    if sent.by_letter:
        return _("%(done)s No email was sent: this requester has no email address. A letter to the postal address "
                 "is recorded as owed: print it from Letters owed, post it, and record the day.", done=done)
    return _("%(done)s The message to %(to)s is queued and goes out within a minute.", done=done, to=sent.to)
