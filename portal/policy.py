"""The privacy policy: a Markdown file with a small header (version, effective date).

`<instance>/privacy_policy.md` when present, otherwise the default shipped in portal/content/."""
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


def current() -> Policy:
    """The policy in force, read from the instance folder or the shipped default.

    Cached until the file changes: the consent API asks for the version on every call."""
    path = Path(current_app.instance_path) / current_app.config["PRIVACY_POLICY_FILE"]
    if not path.is_file():
        path = DEFAULT
    stamp = (str(path), path.stat().st_mtime_ns)
    cached = current_app.extensions.get("privacy_policy")
    if cached is not None and cached[0] == stamp:
        return cached[1]
    header, body = _split(path.read_text(encoding="utf-8"))
    # The file is the business's own text; raw HTML in it is not rendered, only Markdown.
    html = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").render(body)
    policy = Policy(version=header.get("version", "1"), effective=date.fromisoformat(header["effective"]),
                    html=Markup(html))
    current_app.extensions["privacy_policy"] = (stamp, policy)
    return policy
