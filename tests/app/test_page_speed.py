"""Page speed (issue 16) without changing a page: fragments the same for everyone are rendered once
per language and never carry anyone's data, and the status page reads in few queries."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event

from portal import db, formatting
from portal.models import PrivacyRequest
from portal.services.cases import submission
from portal.template_languages import LanguageEnvironment
from portal.warmup import prepare_worker

from .. import support


def _without_tokens(html: str) -> str:
    # The CSRF token may differ from one rendering to the next; everything else must not.
    return re.sub(r'(name="csrf_token"(?: type="hidden")? value=|"X-CSRFToken": )"[^"]*"', r"\1-", html)


def _page(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, url
    return _without_tokens(resp.get_data(as_text=True))


@pytest.mark.parametrize("lang", ["en", "es"])
def test_pages_are_the_same_with_the_shared_fragments_kept_or_not(app, lang):
    ana = support.new_case(app, "delete", email="ana@example.org")
    for url, client in (("/", app.test_client()), (f"/requests/{ana.reference}", support.status_client(app, ana.reference))):
        url = f"{url}?lang={lang}"
        first = _page(client, url)  # renders the fragments and keeps them
        assert app.jinja_env.shared_fragments
        kept = _page(client, url)
        app.jinja_env.shared_fragments.clear()
        assert kept == first == _page(client, url)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_pages_are_the_same_with_texts_translated_when_compiled_or_when_shown(app, lang):
    """template_languages: each language's templates are compiled with their fixed texts translated;
    the pages read exactly as when every text is translated at each showing."""
    ana = support.new_case(app, "access", email="ana@example.org")
    status = support.status_client(app, ana.reference)
    visitor = app.test_client()
    pages = [(visitor, "/"), (visitor, "/requests/new"), (visitor, "/status"), (visitor, "/preferences"),
             (visitor, "/privacy"), (visitor, "/inquiries/new"), (status, f"/requests/{ana.reference}")]
    compiled = {url: _page(client, f"{url}?lang={lang}") for client, url in pages}
    overlay = app.jinja_env.language_overlays[lang]
    assert overlay.language == lang and "public/request_detail.html" in {key[1] for key in overlay.cache.keys()}
    app.jinja_env.by_language = False
    app.jinja_env.shared_fragments.clear()
    shown = {url: _page(client, f"{url}?lang={lang}") for client, url in pages}
    assert compiled == shown
    assert ("Retirar la solicitud" if lang == "es" else "Withdraw this request") in shown[f"/requests/{ana.reference}"]


def test_only_fixed_texts_are_translated_when_compiled(app):
    with app.test_request_context("/?lang=es"):
        spanish = app.jinja_env.for_language()
        assert spanish.language == "es" and spanish.for_language() is spanish
        code = spanish.compile('<h2>{{ _("Status") }}</h2>{{ _("Request %(reference)s", reference=ref) }}', raw=True)
        assert "<h2>Estado</h2>" in code and "Request %(reference)s" in code  # the second is still a call
        named = spanish.compile('{% set _ = gettext %}<h2>{{ _("Status") }}</h2>', raw=True)
        assert "Estado" not in named  # a template that names `_` itself is compiled as written
        texts = '{{ _("Status") }}|{{ _("A & B") }}|{{ _("100%%") }}|{{ _("Request %(reference)s", reference="<b>") }}'
        folded = spanish.from_string(texts).render()
        app.jinja_env.by_language = False
        assert app.jinja_env.for_language() is app.jinja_env
        assert folded == app.jinja_env.from_string(texts).render() == "Estado|A & B|100%|Solicitud &lt;b&gt;"


def test_the_status_statement_is_short_enough_for_psycopg_to_keep_its_conversion():
    """psycopg converts a statement's %(name)s placeholders to PostgreSQL's $1 at every execution
    unless it is at most MAX_CACHED_STATEMENT_LENGTH long (then it keeps the conversion)."""
    from psycopg import _queries
    from sqlalchemy.dialects import postgresql

    from portal.services.cases import status_access as status
    sql = str(status._REQUEST.compile(dialect=postgresql.psycopg.dialect()))
    assert len(sql) <= _queries.MAX_CACHED_STATEMENT_LENGTH, len(sql)


def test_the_status_statement_is_compiled_once_per_engine_and_found_by_identity(app):
    from portal.db import IdentityCompiledCache
    from portal.services.cases import status_access as status
    cache = status._REQUEST_OPTIONS["compiled_cache"]
    dialect = app.extensions["db_engine"].dialect
    ana = support.new_case(app, "delete", email="ana@example.org")
    client = support.status_client(app, ana.reference)
    for _ in range(3):
        assert ana.reference in _page(client, f"/requests/{ana.reference}")
    assert len([key for key in cache if key[0] is dialect]) == 1
    bounded = IdentityCompiledCache()
    for n in range(IdentityCompiledCache.MAX_ENTRIES + 4):
        bounded[(object(), (n,), (), False, False)] = n
    assert len(bounded) == IdentityCompiledCache.MAX_ENTRIES and bounded.get((dialect, (0,), (), False, False)) is None
    same_key, other_rest = (dialect, (99,)), ((), True, False)
    bounded[(*same_key, (), False, False)] = "kept"
    bounded[(*same_key, *other_rest)] = "other"
    del bounded[(*same_key, (), False, False)]  # deleted as found: the whole key, not only its first two parts
    assert bounded.get((*same_key, (), False, False)) is None and bounded[(*same_key, *other_rest)] == "other"
    with pytest.raises(KeyError):
        del bounded[(*same_key, (), False, False)]


def test_the_status_page_reads_the_same_from_its_columns_as_from_the_whole_request(app):
    """The page reads only status.PAGE_COLUMNS of a request: in each state it is shown in, the
    page reads exactly as when rendered from the whole request (the path a failed form takes)."""
    from portal.public import status as status_pages

    staff = support.make_staff(app, "support")
    console = app.test_client()
    support.sign_in(console, staff)

    def acted(case, action, data):
        assert support.post_action(console, case.reference, action, data).status_code == 303
        return case

    cases = [
        support.new_case(app, "delete", "awaiting_email", email="new@example.org"),
        support.new_case(app, "access", "on_hold", email="held@example.org", hold_reason="data_mismatch"),
        support.new_case(app, "access", "on_hold", email="sure@example.org", access_scope="specific",
                         hold_reason="high_certainty_required"),
        acted(support.new_case(app, "access", email="asked@example.org"), "request_info", {"message": "Which claim?"}),
        acted(support.new_case(app, "delete", "in_progress", email="late@example.org"), "extend",
              {"days": "30", "reason": "Records are in storage"}),
        acted(support.new_case(app, "correct", "in_progress", email="denied@example.org"), "deny", {
            "basis": "legal_obligation", "explanation": "The record reflects the adjuster's finding.",
            "categories": "Claim file: injury date", "assessment": "The adjuster's report."}),
        acted(support.new_case(app, "opt_out", "in_progress", email="out@example.org"), "complete",
              {"outcome": "completed", "message": "Done."}),
    ]
    for case in cases:
        for lang in ("en", "es"):
            url = f"/requests/{case.reference}?lang={lang}"
            read = _page(support.status_client(app, case.reference), url)
            with app.test_request_context(url):
                app.preprocess_request()  # the banner, as for the page
                whole = support.get_case(app, case.reference)
                html, _status = status_pages._render_detail(whole)
            assert _without_tokens(html) == read, (case.request_type, case.status, lang)


def test_blank_forms_kept_read_as_built_and_a_failed_one_shows_its_own(app):
    """The answer, contest and withdraw forms, shown blank from kept fragments, read as when built
    afresh; a failed withdrawal shows its own error, and the next view a blank form again."""
    staff = support.make_staff(app, "support")
    console = app.test_client()
    support.sign_in(console, staff)
    asked = support.new_case(app, "access", email="asked@example.org")
    assert support.post_action(console, asked.reference, "request_info",
                               {"message": "Which claim number?"}).status_code == 303
    denied = support.new_case(app, "correct", "in_progress", email="denied@example.org")
    assert support.post_action(console, denied.reference, "deny", {
        "basis": "legal_obligation", "explanation": "The record reflects the adjuster's finding.",
        "categories": "Claim file: injury date", "assessment": "The adjuster's report."}).status_code == 303
    for case, shows in ((asked, ('name="body"', 'name="attachment"')), (denied, ('name="statement"',))):
        client = support.status_client(app, case.reference)
        for lang in ("en", "es"):
            url = f"/requests/{case.reference}?lang={lang}"
            first = _page(client, url)
            kept = _page(client, url)
            app.jinja_env.shared_fragments.clear()
            assert kept == first == _page(client, url) and all(name in first for name in shows)
    withdrawn = support.new_case(app, "delete", email="withdraw@example.org")
    client = support.status_client(app, withdrawn.reference)
    page = client.get(f"/requests/{withdrawn.reference}").get_data(as_text=True)
    refused = client.post(f"/requests/{withdrawn.reference}/withdraw", data={"csrf_token": support.csrf_from(page)})
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.get_data(as_text=True) and "Tick the box" in refused.get_data(as_text=True)
    assert 'aria-invalid' not in client.get(f"/requests/{withdrawn.reference}").get_data(as_text=True)


def test_a_prepared_worker_compiles_no_template_for_its_first_pages(app, monkeypatch):
    """wsgi.py prepares each worker (warmup.prepare_worker): every template is compiled in each
    language before the first request, so a new worker's first pages and mails compile nothing."""
    compiled = []
    compile_as_written = LanguageEnvironment.compile

    def compile_and_count(environment, source, name=None, *args, **kwargs):
        compiled.append((environment.language, name))
        return compile_as_written(environment, source, name, *args, **kwargs)

    monkeypatch.setattr(LanguageEnvironment, "compile", compile_and_count)
    languages, templates = app.config["LANGUAGES"], app.jinja_env.list_templates()
    assert prepare_worker(app) == len(languages) * len(templates)
    assert sorted(compiled) == sorted((code, name) for code in languages for name in templates)
    # kept for good, in plain dicts (Jinja's LRU scans its whole queue at each lookup)
    assert all(type(overlay.cache) is dict for overlay in app.jinja_env.language_overlays.values())
    compiled.clear()
    for code in languages:
        ana = support.new_case(app, "delete", email="ana@example.org", language=code)  # mails the link
        assert ana.reference in _page(support.status_client(app, ana.reference), f"/requests/{ana.reference}?lang={code}")
        assert _page(app.test_client(), f"/?lang={code}")
    assert compiled == []


def test_the_wsgi_entry_point_prepares_its_worker(app_config, tmp_path):
    """gunicorn's entry point (wsgi.py), in a process of its own as a worker runs it: the templates
    are compiled in every language, then frozen out of the garbage collector's sight."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_INSTANCE_PATH=str(tmp_path), PORTAL_DATABASE_URL=app_config["DATABASE_URL"],
               PORTAL_MAIL_BACKGROUND_DELIVERY="false")
    report = ("import gc, json, wsgi; e = wsgi.app.jinja_env; print(json.dumps({'templates': len(e.list_templates()), "
              "'languages': wsgi.app.config['LANGUAGES'], 'kept': {code: len(o.cache) for code, o in e.language_overlays.items()}, 'frozen': gc.get_freeze_count()}))")
    run = subprocess.run([sys.executable, "-c", report], env=env, cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["kept"] == {code: found["templates"] for code in found["languages"]}
    assert found["frozen"] > 100_000


def test_each_language_gets_its_own_fragments(client):
    assert "Make a request" in client.get("/").get_data(as_text=True)
    spanish = client.get("/?lang=es").get_data(as_text=True)
    assert "Hacer una solicitud" in spanish and "Make a request" not in spanish
    assert "Make a request" in client.get("/?lang=en").get_data(as_text=True)


def test_one_persons_page_shows_nothing_of_another(app):
    ana = support.new_case(app, "delete", email="ana@example.org", first_name="Ana", last_name="Ruiz")
    ben = support.new_case(app, "access", email="ben@example.org", first_name="Ben", last_name="Okafor")
    ana_page = _page(support.status_client(app, ana.reference), f"/requests/{ana.reference}")
    ben_page = _page(support.status_client(app, ben.reference), f"/requests/{ben.reference}")
    assert ana.reference in ana_page and ana.reference not in ben_page
    assert ben.reference in ben_page and ben.reference not in ana_page


def _statements(app, client, url) -> tuple[list[str], str]:
    """The SQL a page view sends, and the page."""
    statements = []
    listener = lambda _conn, _cursor, statement, *_rest: statements.append(statement)  # noqa: E731
    event.listen(app.extensions["db_engine"], "before_cursor_execute", listener)
    try:
        resp = client.get(url)
    finally:
        event.remove(app.extensions["db_engine"], "before_cursor_execute", listener)
    assert resp.status_code == 200
    return statements, resp.get_data(as_text=True)


def _selects(app, client, url) -> tuple[list[str], str]:
    statements, html = _statements(app, client, url)
    return [s for s in statements if s.lstrip().upper().startswith(("SELECT", "(SELECT"))], html


def test_the_status_page_reads_in_one_query_two_with_an_outcome(app):
    ana = support.new_case(app, "delete", email="ana@example.org")
    client = support.status_client(app, ana.reference)
    client.get(f"/requests/{ana.reference}")  # the session's first page
    # The request, whether it has an outcome, a contested statement or files, and its timeline.
    selects, html = _selects(app, client, f"/requests/{ana.reference}")
    assert len(selects) == 1, selects
    with app.test_request_context():  # the same entries the timeline's own query reads, and due date
        stored = db.session().get(PrivacyRequest, ana.id)
        expected, due = submission.timeline(db.session(), stored), formatting.local_date(stored.due)
    assert len(expected) >= 2 and html.count('<li class="timeline-') == len(expected)
    assert f"<dd>{due}</dd>" in html  # the model's due date, read from the columns alone
    # Asked, then answered: the messages too, oldest first.
    console = app.test_client()
    support.sign_in(console, support.make_staff(app, "support"))
    asked = support.new_case(app, "access", email="asked@example.org")
    assert support.post_action(console, asked.reference, "request_info",
                               {"message": "Which claim number?"}).status_code == 303
    client = support.status_client(app, asked.reference)
    page = client.get(f"/requests/{asked.reference}").get_data(as_text=True)
    assert client.post(f"/requests/{asked.reference}/answer", data={
        "csrf_token": support.csrf_from(page), "body": "Claim 4471."}).status_code == 303
    selects, html = _selects(app, client, f"/requests/{asked.reference}")
    timeline = html[html.index('<ol class="timeline">'):html.index("</ol>")]
    assert len(selects) == 1 and timeline.index("Which claim number?") < timeline.index("Claim 4471.")
    # Denied: the outcome (and any statement or files) is read too, and shown.
    denied = support.new_case(app, "correct", "in_progress", email="denied@example.org")
    assert support.post_action(console, denied.reference, "deny", {
        "basis": "legal_obligation", "explanation": "The record reflects the adjuster's finding.",
        "categories": "Claim file: injury date", "assessment": "The adjuster's report."}).status_code == 303
    client = support.status_client(app, denied.reference)
    client.get(f"/requests/{denied.reference}")
    selects, html = _selects(app, client, f"/requests/{denied.reference}")
    assert len(selects) == 2, selects
    assert "Claim file: injury date" in html and 'name="statement"' in html  # the outcome's categories; contest
    timeline = html[html.index('<ol class="timeline">'):html.index("</ol>")]
    assert timeline.rindex("<span>") == timeline.index("<span>Denied</span>")  # the latest status, last


def test_the_home_page_reads_nothing(app, client):
    client.get("/")  # the consent cookie's first visit is the one that may read
    statements, _html = _statements(app, client, "/")
    assert statements == []


def test_a_visitor_who_only_reads_the_home_page_gets_no_session(app):
    """The home page posts nothing through htmx, so it carries no CSRF token and mints no session
    for a visitor who has made their cookie choices; the banner, while shown, carries its own."""
    session_cookie = app.config["SESSION_COOKIE_NAME"]
    browser = app.test_client()
    first = browser.get("/")
    home = first.get_data(as_text=True)
    assert 'id="consent-banner"' in home and session_cookie in first.headers.get("Set-Cookie", "")
    assert browser.post("/preferences", data={"csrf_token": support.csrf_from(home), "action": "reject_all",
                                              "source": "banner", "next": "/"}).status_code == 303
    reader = app.test_client()  # the same choices, and no session yet
    for name in (app.config["CONSENT_COOKIE_NAME"], app.config["CONSENT_STATE_COOKIE_NAME"]):
        reader.set_cookie(name, browser.get_cookie(name).value)
    resp = reader.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="consent-banner"' not in html
    assert "csrf" not in html.lower() and session_cookie not in resp.headers.get("Set-Cookie", "")
    # A page with a form still gives htmx the token (STYLE: hx-headers on <body>).
    form_page = reader.get("/requests/new").get_data(as_text=True)
    assert f'data-hx-headers=\'{{"X-CSRFToken": "{support.csrf_from(form_page)}"}}\'' in form_page
