"""Languages: which one a page is shown in, the switcher's links, and mail in a request's language.

A page's language is `?lang=` (remembered in a strictly necessary cookie), then the cookie, then
Accept-Language, then the first of LANGUAGES. The staff console stays in the default language."""
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlencode

from babel import Locale
from flask import current_app, g, has_app_context, has_request_context, request
from flask_babel import force_locale, get_locale, get_translations
from flask_babel import gettext as babel_gettext
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from markupsafe import Markup

from .security import add_vary

# Each language's name in itself, for the switcher.
NATIVE_NAMES = {"en": "English", "es": "Español"}


def default_language() -> str:
    return current_app.config["LANGUAGES"][0]


def supported(code: str | None) -> str | None:
    """The language code if the portal speaks it, else None."""
    return code if code in current_app.config["LANGUAGES"] else None


def select_locale() -> Locale:
    """Flask-Babel's locale selector: a Locale kept per language (parsing one cost as much as choosing it)."""
    code = _page_language()
    locale = _LOCALES.get(code)
    if locale is None:
        locale = _LOCALES[code] = Locale.parse(code)
    return locale


_LOCALES: dict[str, Locale] = {}


def _page_language() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return languages[0]
    req = request._get_current_object()
    if req.blueprint == "staff":
        return languages[0]
    chosen = req.args.get("lang") if req.query_string else None
    if chosen not in languages:
        chosen = req.cookies.get(current_app.config["LANGUAGE_COOKIE_NAME"])
    if chosen not in languages and "HTTP_ACCEPT_LANGUAGE" in req.environ:
        chosen = req.accept_languages.best_match(languages)
    return chosen if chosen in languages else languages[0]


def current_locale():
    """Flask-Babel's get_locale(), read straight from where it keeps the request's locale once
    chosen (force_locale swaps it there too): a page asks a dozen times, each a chain of lookups."""
    locale = getattr(g.get("_flask_babel"), "babel_locale", None) if has_app_context() else None
    return locale if locale is not None else get_locale()


def remember_choice(response):
    """`?lang=` on a page sets the language cookie: strictly necessary, it keeps the visitor's choice."""
    if response.mimetype != "text/html":
        return response
    cfg = current_app.config
    chosen = supported(request.args.get("lang")) if request.query_string else None
    if chosen and request.cookies.get(cfg["LANGUAGE_COOKIE_NAME"]) != chosen:
        response.set_cookie(cfg["LANGUAGE_COOKIE_NAME"], chosen, max_age=timedelta(days=cfg["LANGUAGE_COOKIE_DAYS"]),
                            secure=cfg["SESSION_COOKIE_SECURE"], httponly=True, samesite="Lax")
    add_vary(response, "Accept-Language", "Cookie")
    return response


def switch_links() -> list[dict]:
    """The switcher: this page in each other language (a plain link, so it works without JavaScript)."""
    current = str(current_locale())
    page = request._get_current_object()
    args = [(k, v) for k, v in page.args.items(multi=True) if k != "lang"] if page.query_string else []
    links = []
    for code in current_app.config["LANGUAGES"]:
        if code != current:
            query = urlencode([*args, ("lang", code)])
            links.append({"code": code, "name": NATIVE_NAMES.get(code, code), "url": f"{page.path}?{query}"})
    return links


@contextmanager
def language(code: str | None):
    """Render in `code` (a request's language), whatever the page or process is in."""
    with force_locale(supported(code) or default_language()):
        yield


def catalog():
    """The catalog for the current locale, looked up once per locale per request: a page calls
    gettext dozens of times, and Flask-Babel's own lookup (context, locale, domain, cache key)
    was about a third of a page's rendering time. Keyed by the locale object, so `language()`
    (force_locale) inside a request still switches catalogs. Flask-Babel keeps each catalog
    once loaded, for the process; so does the app here, by locale, without its lookup."""
    namespace = g._get_current_object()
    # Flask-Babel keeps the request's locale here once chosen (force_locale swaps it, refresh drops it).
    locale = getattr(getattr(namespace, "_flask_babel", None), "babel_locale", None)
    memo = getattr(namespace, "_i18n_catalog", None)
    if locale is None or memo is None or memo[0] is not locale:
        locale = get_locale()
        loaded = current_app.extensions.setdefault("i18n_catalogs", {})
        translations = loaded.get(locale)
        if translations is None:
            translations = loaded[locale] = get_translations()
        memo = namespace._i18n_catalog = (locale, translations)
    return memo[1]


def lazy_gettext(string: str, **variables) -> LazyString:
    """Flask-Babel's lazy_gettext (a label or message defined at import, translated when shown),
    translated through the request's catalog: Flask-Babel's own lookup, at each showing, cost
    about fifteen times the translation itself."""
    return LazyString(_gettext_now, string, **variables)


def _gettext_now(string: str, **variables) -> str:
    if not has_app_context():
        return babel_gettext(string, **variables)
    rv = catalog().ugettext(string)
    return rv % variables if variables else rv


@pass_context
def _template_gettext(context, string: str, **variables) -> str:
    """Jinja's newstyle gettext (the translation, Markup under autoescape, always %-formatted) in
    one call: `_()` otherwise goes through an alias and two context calls, about half the cost of
    a page's text. A string with no "%" formats to itself, so that step is left out for it. A
    template compiled for one language (template_languages) has that language's catalog at hand."""
    translations = getattr(context.environment, "translations", None)
    rv = (catalog() if translations is None else translations).ugettext(string)
    if context.eval_ctx.autoescape:
        rv = Markup(rv)
    return rv % variables if variables or "%" in rv else rv


def register(app):
    app.after_request(remember_choice)
    app.jinja_env.globals["language_switch_links"] = switch_links
    # Flask-Babel installed the same callables; these only look the catalog up faster.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: catalog().ugettext(s),
        ngettext=lambda s, p, n: catalog().ungettext(s, p, n),
        pgettext=lambda c, s: catalog().upgettext(c, s),
        npgettext=lambda c, s, p, n: catalog().unpgettext(c, s, p, n),
        newstyle=True)
    app.jinja_env.globals.update(gettext=_template_gettext, _=_template_gettext)
