"""A tour of every page a person can see, rendered through the test client with real data.

Used by the HTML validity and translation tests: each function walks the real forms and mailed
links and returns {page name: full HTML document}. htmx fragments are left out: they are not
documents, and the page that includes them is checked instead."""
import io

from portal import db
from portal.lifecycle import IN_PROGRESS, ON_HOLD

from . import files
from .support import csrf_from, link_in, make_staff, new_case, post_action, post_form, request_form, sign_in

AGENT = {"agent_kind": "business", "agent_name": "Maria Lopez", "agent_email": "maria@lienpartners.example",
         "agent_business_name": "Lien Partners LLC", "agent_sos_number": "2019-1234-5678",
         "consumer_first_name": "Ana", "consumer_last_name": "Ruiz", "consumer_email": "ana.ruiz@example.org",
         "consumer_phone": "", "request_type": "delete", "authorization_kind": "signed_permission",
         "declaration": "y"}
INQUIRY = {"kind": "baa", "name": "Dana Park", "email": "dana@clinic.example", "organization": "Valley Clinic",
           "message": "Do you sign Business Associate Agreements?"}


class Tour:
    """Collects pages; every GET must answer with a full HTML page."""

    def __init__(self, client, lang: str | None = None):
        self.client, self.lang, self.pages = client, lang, {}

    def url(self, path: str) -> str:
        if not self.lang:
            return path
        return path + ("&" if "?" in path else "?") + f"lang={self.lang}"

    def get(self, path: str, name: str | None = None, status: int = 200) -> str:
        resp = self.client.get(self.url(path))
        assert resp.status_code == status, f"GET {path}: {resp.status_code}"
        return self.keep(name or path, resp)

    def keep(self, name: str, resp) -> str:
        html = resp.get_data(as_text=True)
        assert resp.mimetype == "text/html" and html.lstrip().lower().startswith("<!doctype html>"), name
        self.pages[name] = html
        return html


def public_pages(app, client, lang: str | None = None) -> dict[str, str]:
    """Every public page, in the language asked for (None: the visitor's default)."""
    mailbox = _mailbox(app)
    tour = Tour(client, lang)
    me = f"ana.ruiz.{lang or 'any'}@example.org"
    agent = {**AGENT, "consumer_email": me, "agent_email": f"maria.{lang or 'any'}@lienpartners.example"}
    inquiry = {**INQUIRY, "email": f"dana.{lang or 'any'}@clinic.example"}
    tour.get("/")
    tour.get("/requests/new")
    for kind in ("access", "delete", "correct", "opt_out", "limit"):
        tour.get(f"/requests/new?type={kind}")
    tour.keep("/requests/new (errors)", post_form(client, "/requests/new", {"request_type": "correct", "email": "no"}))
    tour.keep("/requests/new (access, specific, errors)", post_form(
        client, "/requests/new", request_form("access", access_scope="specific", email="x")))
    tour.get("/requests/sent?next=confirm_email&type=access")
    tour.get("/requests/sent?next=in_effect&type=opt_out")

    post_form(client, "/requests/new", request_form("delete", email=me))
    verify = link_in(mailbox.last(me), "/verify/")
    page = tour.get(verify, "/verify/<token>")
    resp = client.post(verify, data={"csrf_token": csrf_from(page)})
    reference = resp.headers["Location"].rsplit("/", 1)[1]
    tour.get(resp.headers["Location"], "/requests/<reference>")
    tour.get(verify, "/verify/<token> (used)", status=410)
    tour.get("/verify/not-a-token", "/verify/<token> (invalid)", status=404)

    tour.get("/status")
    tour.keep("/status (errors)", post_form(client, "/status", {"reference": "", "email": "x"}))
    post_form(client, "/status", {"reference": reference, "email": me})
    tour.get("/status/sent")
    status_link = link_in(mailbox.last(me), "/status/")
    page = tour.get(status_link, "/status/<token>")
    client.post(status_link, data={"csrf_token": csrf_from(page)})
    tour.get(status_link, "/status/<token> (used)", status=410)
    tour.get(f"/requests/{reference}", "/requests/<reference> (status session)")

    tour.get("/agent/requests/new")
    tour.keep("/agent/requests/new (errors)", post_form(client, "/agent/requests/new", {"agent_kind": "business"}))
    form = {"csrf_token": csrf_from(client.get("/agent/requests/new").get_data(as_text=True)), **agent,
            "authorization": (io.BytesIO(files.pdf()), "letter.pdf", "application/pdf")}
    resp = client.post("/agent/requests/new", data=form, content_type="multipart/form-data")
    tour.get(resp.headers["Location"], "/agent/requests/sent")
    agent_verify = link_in(mailbox.last(agent["agent_email"]), "/verify/")
    page = client.get(agent_verify).get_data(as_text=True)
    client.post(agent_verify, data={"csrf_token": csrf_from(page)})
    confirm = link_in(mailbox.last(me), "/agent/confirm/")
    page = tour.get(confirm, "/agent/confirm/<token>")
    resp = client.post(confirm, data={"csrf_token": csrf_from(page), "decision": "confirm"})
    if resp.status_code == 200:
        tour.keep("/agent/confirm/<token> (decided)", resp)
    elif resp.status_code == 303:
        tour.get(resp.headers["Location"], "/agent/confirm/<token> (decided)")
    tour.get("/agent/confirm/not-a-token", "/agent/confirm/<token> (invalid)", status=404)

    tour.get("/inquiries/new")
    tour.get("/inquiries/new?kind=security")
    tour.keep("/inquiries/new (errors)", post_form(client, "/inquiries/new", {"kind": "question", "email": "x"}))
    resp = post_form(client, "/inquiries/new", inquiry)
    tour.get(resp.headers["Location"], "/inquiries/sent")
    inquiry_ack = mailbox.last(inquiry["email"])
    inquiry_ref = inquiry_ack["Subject"].rsplit(" ", 1)[1]
    post_form(client, "/status", {"reference": inquiry_ref, "email": inquiry["email"]})
    link = link_in(mailbox.last(inquiry["email"]), "/status/")
    client.post(link, data={"csrf_token": csrf_from(client.get(link).get_data(as_text=True))})
    tour.get(f"/requests/{inquiry_ref}", "/requests/<inquiry reference>")

    tour.get("/privacy")
    tour.get("/preferences")
    tour.keep("/preferences (saved)", client.post(tour.url("/preferences"), data={
        "csrf_token": csrf_from(client.get("/preferences").get_data(as_text=True)), "action": "reject_all"},
        follow_redirects=True))
    tour.get("/preferences/history")
    tour.get("/no-such-page", "404", status=404)
    return tour.pages


def console_pages(app, client) -> dict[str, str]:
    """Every console page, signed in as an admin, with a case in each kind of state."""
    tour = Tour(client)
    tour.get("/staff/login")
    tour.keep("/staff/login (errors)", post_form(client, "/staff/login", {"email": "", "password": ""}))
    admin = make_staff(app, "admin")
    sign_in(client, admin)
    waiting = new_case(app, "access")
    held = new_case(app, "delete", status=ON_HOLD, email="bo@example.org", hold_reason="data_mismatch")
    tour.get("/staff/")
    tour.get("/staff/?status=all")
    tour.get(f"/staff/requests/{waiting.reference}", "/staff/requests/<verifying>")
    tour.get(f"/staff/requests/{held.reference}", "/staff/requests/<on hold>")
    answering = new_case(app, "delete", status=IN_PROGRESS, email="rev@example.org")
    tour.get(f"/staff/requests/{answering.reference}", "/staff/requests/<in progress>")
    tour.keep("/staff/requests/<reference>/actions/deny (review)", post_action(
        client, answering.reference, "deny", {"basis": "legal_obligation", "categories": "Claim file",
                                              "explanation": "We keep the claim file.\nThe law says so."}, review=True))
    form = {"csrf_token": csrf_from(client.get("/agent/requests/new").get_data(as_text=True)),
            **{**AGENT, "authorization_kind": "power_of_attorney"},
            "authorization": (io.BytesIO(files.pdf()), "poa.pdf", "application/pdf")}
    client.post("/agent/requests/new", data=form, content_type="multipart/form-data")
    mailbox = _mailbox(app)
    agent_verify = link_in(mailbox.last(AGENT["agent_email"]), "/verify/")
    client.post(agent_verify, data={"csrf_token": csrf_from(client.get(agent_verify).get_data(as_text=True))})
    with app.app_context():
        from sqlalchemy import select

        from portal.models import PrivacyRequest
        agent_case = db.session().execute(
            select(PrivacyRequest).where(PrivacyRequest.email == AGENT["agent_email"])).scalars().first()
    if agent_case is not None:
        tour.get(f"/staff/requests/{agent_case.reference}", "/staff/requests/<agent review>")
    tour.get("/staff/requests/new")
    tour.get("/staff/metrics")
    post_form(client, "/inquiries/new", INQUIRY)
    tour.get("/staff/inquiries")
    inquiry_ref = mailbox.last(INQUIRY["email"])["Subject"].rsplit(" ", 1)[1]
    tour.get(f"/staff/inquiries/{inquiry_ref}", "/staff/inquiries/<reference>")
    tour.get("/staff/account")
    tour.get("/staff/admin/staff")
    tour.get(f"/staff/admin/staff/{admin.id}", "/staff/admin/staff/<id>")
    tour.get("/staff/consent")
    post_form(client, "/staff/admin/staff", {"email": "bo@staff.example", "name": "Bo Chen", "role": "support"})
    invite = link_in(mailbox.last("bo@staff.example"), "/staff/invite/")
    other = app.test_client()
    tour.keep("/staff/invite/<token>", other.get(invite))
    tour.keep("/staff/invite/<token> (invalid)", other.get(invite[:-3] + "abc"))
    _client_pages(app, client, tour, mailbox, admin)
    return tour.pages


def _client_pages(app, client, tour, mailbox, admin):
    """The clients' console pages, a case with a client found, and the client's answer page."""
    from .clients_support import add_client, import_index, verified_case

    add_client(app)
    tour.get("/staff/clients")
    tour.get("/staff/clients/new")
    tour.get("/staff/clients/clinic", "/staff/clients/<key>")
    import_index(app, [{"subject_id": "S-PAGES", "email": "luz.pages@example.org", "client": "clinic"}])
    found = verified_case(app, "S-PAGES", email="luz.pages@example.org")
    tour.get(f"/staff/requests/{found.reference}", "/staff/requests/<held for a client>")
    with app.app_context():
        from portal.services.cases import submission
        from portal.services.clients import referrals
        s = db.session()
        case = submission.get_by_reference(s, found.reference)
        referral = referrals.for_case(s, case)[0][0]
        referrals.choose(s, req=case, referral_id=referral.id, outcome="forward", staff=admin)
    answer = link_in(mailbox.last("privacy@clinic.example"), "/clients/answers/")
    tour.keep("/clients/answers/<referral>/<token>", app.test_client().get(answer))


def _mailbox(app):
    from .support import Mailbox
    return Mailbox(app)
