"""Templates compiled once per language, their fixed texts already translated.

`{{ _("Status") }}` is a call at every rendering (Jinja's call, the catalog, Markup), though its
result depends only on the language: a status page makes two dozen. So each language has its own
environment, an overlay of the app's, where a template is compiled with each `_("...")` or
`gettext("...")` of one literal and no variables replaced by its translation, as the call would
have returned it (Markup when autoescaping). Calls with variables stay calls, as do all of a
template that names `_` or `gettext` itself (`{% set _ = ... %}`). With no app context there is
no language to choose: templates are compiled as written. A catalog changes only with a restart,
as with Flask-Babel's own cache of them."""
from flask import has_app_context
from flask.templating import Environment
from jinja2 import nodes
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from .i18n import catalog, current_locale

GETTEXT_NAMES = frozenset({"_", "gettext"})


class LanguageEnvironment(Environment):
    """The app's Jinja environment (Flask's), handing each template to its language's overlay."""

    language: str | None = None  # an overlay's language; None for the app's own environment
    translations = None  # an overlay's catalog (Flask-Babel's, for its language)
    by_language = True  # False: every template is compiled as written (the tests compare both)

    def __init__(self, app, **options):
        # Every template kept once compiled, in a plain dict (the overlays copy the kind): the portal's
        # templates are a fixed set of files, and Jinja's default, an LRU of 400, scans a queue of
        # all those kept at each lookup (three or four a page), under a lock.
        options.setdefault("cache_size", -1)
        super().__init__(app, **options)
        self.language_overlays: dict[str, LanguageEnvironment] = {}

    def get_template(self, name, parent=None, globals=None):
        return super(LanguageEnvironment, self.for_language()).get_template(name, parent, globals)

    def select_template(self, names, parent=None, globals=None):
        return super(LanguageEnvironment, self.for_language()).select_template(names, parent, globals)

    def for_language(self) -> "LanguageEnvironment":
        """The environment for the current language (itself when it is an overlay already)."""
        if self.language is not None or not self.by_language or not has_app_context():
            return self
        code = str(current_locale())
        overlay = self.language_overlays.get(code)
        if overlay is None:
            overlay = self.overlay()
            overlay.language, overlay.translations = code, catalog()
            self.language_overlays[code] = overlay
        return overlay

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        if self.language is not None and isinstance(source, str):
            source = translate_fixed_texts(self.parse(source, name, filename), self)
        return super().compile(source, name, filename, raw, defer_init)


def translate_fixed_texts(tree: nodes.Template, env: LanguageEnvironment) -> nodes.Template:
    """`tree` with its gettext calls of one literal replaced by their translation in `env.translations`."""
    if any(n.name in GETTEXT_NAMES and n.ctx in ("store", "param") for n in tree.find_all(nodes.Name)):
        return tree
    tree = _Translate(env.translations).visit(tree)
    tree.set_environment(env)
    return tree


class _Translate(NodeTransformer):
    def __init__(self, translations):
        self.translations = translations

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        node = self.generic_visit(node)
        if not (isinstance(node.node, nodes.Name) and node.node.name in GETTEXT_NAMES and len(node.args) == 1
                and isinstance(node.args[0], nodes.Const) and isinstance(node.args[0].value, str)
                and not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None):
            return node
        # As i18n._template_gettext returns it: a "%" is formatted even with no variables ("%%" -> "%").
        text = self.translations.ugettext(node.args[0].value)
        if "%" in text:
            text = str(Markup(text) % {})
        return nodes.MarkSafeIfAutoescape(nodes.Const(text, lineno=node.lineno), lineno=node.lineno)
