"""The privacy policy: a Markdown file with a small header (version, effective date).

`<instance>/privacy_policy.md` when present, otherwise the default shipped in portal/content/. A
translation sits beside it as `privacy_policy.<language>.md` (e.g. `privacy_policy.es.md`) with the
same version; a language without one is shown the policy in the default language."""
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app
from markdown_it import MarkdownIt
from markupsafe import Markup

DEFAULT = Path(__file__).resolve().parent / "content" / "privacy_policy.md"


@dataclass(frozen=True)
class Policy:
    version: str
    effective: date
    html: Markup


def _split(text: str) -> tuple[dict[str, str], str]:
    """'---' header lines of 'key: value', then the Markdown body."""
    header: dict[str, str] = {}
    if text.startswith("---\n"):
        head, _, text = text[4:].partition("\n---\n")
        for line in head.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                header[key.strip().lower()] = value.strip()
    return header, text


def _source(language: str | None) -> Path:
    """The instance's policy (or else the shipped one), in `language` when translated."""
    path = Path(current_app.instance_path) / current_app.config["PRIVACY_POLICY_FILE"]
    if not path.is_file():
        path = DEFAULT
    if language and language != current_app.config["LANGUAGES"][0]:
        translated = path.with_name(f"{path.stem}.{language}{path.suffix}")
        if translated.is_file():
            return translated
    return path


def current(language: str | None = None) -> Policy:
    """The policy in force, read from the instance folder or the shipped default, in `language`
    (None: the default language, whose version is the one consent records cite).

    Cached until the file changes: the consent API asks for the version on every call."""
    path = _source(language)
    stamp = (str(path), path.stat().st_mtime_ns)
    cache = current_app.extensions.setdefault("privacy_policy", {})
    cached = cache.get(str(path))
    if cached is not None and cached[0] == stamp:
        return cached[1]
    header, body = _split(path.read_text(encoding="utf-8"))
    # The file is the business's own text; raw HTML in it is not rendered, only Markdown.
    html = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").render(body)
    policy = Policy(version=header.get("version", "1"), effective=date.fromisoformat(header["effective"]),
                    html=Markup(html))
    cache[str(path)] = (stamp, policy)
    return policy
