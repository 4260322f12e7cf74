"""Template fragments that are the same for every visitor, rendered once per language.

    {% same_for_everyone "site-footer" %} ... {% endsame_for_everyone %}

The site's header links, its footer and the home page's list of rights read only the language,
the configuration and the URL map, yet each costs dozens of gettext and url_for calls on every
page. The first rendering in a language (and mount point) is kept and served to everyone after.

Only for what is the same for everyone (a blank form's fields are: `fields_of` in _macros.html
keeps them, the CSRF token outside): never around a form's token, a form brought back with its
values or errors, a flash message, the consent banner, the language switch (it carries the page's
own query) or anything about the person or the request. The tag renders with the whole page's
context, so nothing stops a careless edit: a test renders each fragment for two people and compares.
"""
from flask import has_request_context, request
from jinja2 import nodes
from jinja2.ext import Extension
from markupsafe import Markup

from .i18n import current_locale

# Fragments are few (a handful of names, each per language and mount point); the bound only
# guards against a mount point that changes per request.
MAX_FRAGMENTS = 256


class SameForEveryone(Extension):
    tags = {"same_for_everyone"}

    def __init__(self, environment):
        super().__init__(environment)
        environment.extend(shared_fragments={})

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        name = parser.parse_expression()
        body = parser.parse_statements(("name:endsame_for_everyone",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", [name]), [], [], body).set_lineno(lineno)

    def _render(self, name: str, caller) -> Markup:
        if not has_request_context():  # mail and other renderings outside a request: as written
            return caller()
        env = self.environment
        cache = env.shared_fragments
        # A language's own environment (template_languages) knows its language without asking.
        key = (name, getattr(env, "language", None) or str(current_locale()), request.script_root)
        html = cache.get(key)
        if html is None:
            html = caller()
            if len(cache) >= MAX_FRAGMENTS:
                cache.clear()
            cache[key] = html
        return html
