"""The privacy policy: a Markdown file with a small header (version, effective date).

`<instance>/privacy_policy.md` when present, otherwise the default shipped in portal/content/. A
translation sits beside it as `privacy_policy.<language>.md` (e.g. `privacy_policy.es.md`) with the
same version; a language without one is shown the policy in the default language."""
import os
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app
from markupsafe import Markup

DEFAULT = Path(__file__).resolve().parent / "content" / "privacy_policy.md"
# The shipped default when SELLS_OR_SHARES is on: the same policy, disclosing the sale/sharing.
DEFAULT_SELLS = Path(__file__).resolve().parent / "content" / "privacy_policy_sells.md"


@dataclass(frozen=True)
class Policy:
    version: str
    effective: date
    html: Markup
    sells_or_shares: bool = False  # header `sells_or_shares: yes`: the text discloses a sale or sharing


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


def _families(language: str | None) -> tuple[tuple[str, str | None], ...]:
    """(file, its translation into `language` or None) for the instance's policy, then the shipped
    one: computed once per language (building paths cost more than the stat calls themselves)."""
    cache = current_app.extensions.setdefault("privacy_policy_paths", {})
    found = cache.get(language)
    if found is None:
        instance = Path(current_app.instance_path) / current_app.config["PRIVACY_POLICY_FILE"]
        shipped = DEFAULT_SELLS if current_app.config.get("SELLS_OR_SHARES") else DEFAULT
        translated = bool(language) and language != current_app.config["LANGUAGES"][0]
        found = cache[language] = tuple(
            (str(path), str(path.with_name(f"{path.stem}.{language}{path.suffix}")) if translated else None)
            for path in (instance, shipped))
    return found


def _stat(path: str) -> os.stat_result | None:
    try:
        result = os.stat(path)
    except OSError:
        return None
    return result if stat.S_ISREG(result.st_mode) else None


def _source(language: str | None) -> tuple[str, os.stat_result]:
    """The instance's policy (or else the shipped one), in `language` when translated, and its stat."""
    (instance, instance_translated), (shipped, shipped_translated) = _families(language)
    base, translated = instance, instance_translated
    found = _stat(instance)
    if found is None:
        base, translated = shipped, shipped_translated
        found = _stat(shipped)
        if found is None:
            raise FileNotFoundError(shipped)
    if translated:
        found_translated = _stat(translated)
        if found_translated is not None:
            return translated, found_translated
    return base, found


def current(language: str | None = None) -> Policy:
    """The policy in force, read from the instance folder or the shipped default, in `language`
    (None: the default language, whose version is the one consent records cite).

    Cached until the file changes: the consent API asks for the version on every call (one or
    two stat calls, so an edited policy is in force at the next request)."""
    name, found = _source(language)
    stamp = (name, found.st_mtime_ns)
    cache = current_app.extensions.setdefault("privacy_policy", {})
    cached = cache.get(name)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    path = Path(name)
    header, body = _split(path.read_text(encoding="utf-8"))
    # The file is the business's own text; raw HTML in it is not rendered, only Markdown.
    from markdown_it import MarkdownIt  # here: commands that never show the policy do not import it
    html = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").render(body)
    policy = Policy(version=header.get("version", "1"), effective=date.fromisoformat(header["effective"]),
                    html=Markup(html), sells_or_shares=header.get("sells_or_shares", "no").lower() in ("yes", "true"))
    cache[name] = (stamp, policy)
    return policy


def statement(text, language: str) -> str | None:
    """A statement the business configured for the policy: text, or a mapping of language codes to
    text (shown in `language`, or else in the default language, or else as first given)."""
    if not text:
        return None
    if isinstance(text, dict):
        default = current_app.config["LANGUAGES"][0]
        return text.get(language) or text.get(default) or next(iter(text.values()))
    return str(text)


class PolicyMismatch(RuntimeError):
    """The configuration sells or shares, and the policy in force does not say so (or the reverse)."""


def check_agreement() -> None:
    """The consent categories and the policy must agree: a sale/sharing category only beside a
    policy that discloses it, and a policy that discloses one only with the category configured."""
    sells = bool(current_app.config.get("SELLS_OR_SHARES")) or any(
        c.get("sale_or_sharing") for c in current_app.config["CONSENT_CATEGORIES"])
    if sells != current().sells_or_shares:
        raise PolicyMismatch(
            "SELLS_OR_SHARES (or a sale/sharing consent category) and the privacy policy's "
            "`sells_or_shares:` header disagree: the policy must disclose a sale or sharing exactly when "
            "one is configured")
