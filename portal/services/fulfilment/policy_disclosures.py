"""What the privacy policy discloses from the data map (§1798.100(a)(3), §1798.130(a)(5), §7011(e)(1)).

For every CCPA category of personal information the map's systems hold: the systems, the categories
of sources, the purposes, how long each system keeps it, and the categories of recipients it is
disclosed to for a business purpose (and, when SELLS_OR_SHARES, sold or shared to). The words are the
business's own, from its `systems:` entries (`sources`, `purposes`, `retention`, `disclosed_to`,
`sold_or_shared_to`); where a system says nothing, the policy says nothing for it and `datamap
check` names what the business must add (`gaps`), instead of the portal inventing it.
The map is read again only when one of its files changes.
"""
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from . import ccpa_categories, datamap_loader
from .connectors.package import CATEGORY_LABELS
from .datamap import DataMap, Finding, LocalText, System, in_language

# The regulation's place for each thing the policy says of a category, for the check's messages.
_WHY = {"sources": ("§7011(e)(1)(B)", "the categories of sources"),
        "purposes": ("§7011(e)(1)(C)", "the business or commercial purposes"),
        "retention": ("§1798.100(a)(3)", "how long it keeps each category")}


@dataclass(frozen=True)
class CategoryDisclosure:
    key: str  # a key of ccpa_categories.CATEGORIES
    sensitive: bool
    systems: tuple[str, ...]
    sources: tuple[str, ...]
    purposes: tuple[str, ...]
    retention: tuple[tuple[str, str], ...]  # (system, how long it keeps it)
    disclosed_to: tuple[str, ...]
    sold_or_shared_to: tuple[str, ...]


@dataclass(frozen=True)
class PolicyDisclosures:
    categories: tuple[CategoryDisclosure, ...]

    @property
    def disclosed(self) -> tuple[CategoryDisclosure, ...]:
        return tuple(c for c in self.categories if c.disclosed_to)

    @property
    def sold_or_shared(self) -> tuple[CategoryDisclosure, ...]:
        return tuple(c for c in self.categories if c.sold_or_shared_to)

    @property
    def sensitive(self) -> tuple[CategoryDisclosure, ...]:
        return tuple(c for c in self.categories if c.sensitive)


def _held(datamap: DataMap) -> dict[str, list[System]]:
    """CCPA category key -> the systems whose dataset holds it, in the statute's order."""
    held: dict[str, list[System]] = {}
    for system in datamap.systems:
        dataset = datamap.dataset(system.dataset)
        if dataset is None:
            continue
        keys = {c.key for collection in dataset.collections for field in collection.fields
                for c in field.ccpa_categories}
        for key in keys:
            held.setdefault(key, []).append(system)
    order = list(ccpa_categories.CATEGORIES)
    return dict(sorted(held.items(), key=lambda item: order.index(item[0])))


def _words(texts: list[LocalText], language: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(in_language(text, language) for text in texts))


def disclosures(datamap: DataMap, *, language: str, sells_or_shares: bool) -> PolicyDisclosures:
    """The policy's category table, in `language` (texts the map gives only in another are shown as written)."""
    found = []
    for key, systems in _held(datamap).items():
        found.append(CategoryDisclosure(
            key=key, sensitive=ccpa_categories.CATEGORIES[key].sensitive,
            systems=tuple(s.name for s in systems),
            sources=_words([t for s in systems for t in s.sources], language),
            purposes=_words([t for s in systems for t in s.purposes], language),
            retention=tuple((s.name, in_language(s.retention, language)) for s in systems if s.retention),
            disclosed_to=_words([t for s in systems for t in s.disclosed_to], language),
            sold_or_shared_to=(_words([t for s in systems for t in s.sold_or_shared_to], language)
                               if sells_or_shares else ())))
    return PolicyDisclosures(tuple(found))


def gaps(datamap: DataMap, *, languages: list[str], sells_or_shares: bool) -> list[Finding]:
    """What the policy cannot say until the business adds it to `systems:`: warnings for `datamap check`."""
    found = []
    holding = {s.dataset for systems in _held(datamap).values() for s in systems}
    for system in datamap.systems:
        if system.dataset not in holding:
            continue
        where = (system.label,)
        for key, (citation, what) in _WHY.items():
            if not getattr(system, key):
                found.append(Finding("warning", system.file, where, f"no {key}: the privacy policy must say {what} "
                                     f"({citation}) of the personal information it holds; add {key}: in the "
                                     "business's own words"))
        if system.sold_or_shared_to and not sells_or_shares:
            found.append(Finding("warning", system.file, where, "sold_or_shared_to is given but SELLS_OR_SHARES is "
                                 "off: the privacy policy says nothing is sold or shared"))
        texts = [t for key in ("sources", "purposes", "disclosed_to", "sold_or_shared_to") for t in getattr(system, key)]
        texts += [system.retention] if system.retention else []
        for language in languages[1:]:
            if any(language not in dict(text) and "" not in dict(text) for text in texts):  # plain text: every language
                found.append(Finding("warning", system.file, where, f"a policy text has no {language!r} version: "
                                     f"the {language} policy shows it as written"))
    return found


def _stamp(folder: Path) -> tuple:
    files = datamap_loader.map_files(folder) if folder.is_dir() else []
    return tuple((str(p), p.stat().st_mtime_ns) for p in files)


def configured(language: str) -> PolicyDisclosures | None:
    """The disclosures of the map at DATAMAP_PATH in `language`; None when there is no map there."""
    folder = Path(current_app.config["DATAMAP_PATH"])
    stamp = _stamp(folder)
    if not stamp:
        return None
    cache = current_app.extensions.setdefault("policy_disclosures", {})
    if cache.get("stamp") != stamp:
        cache.clear()
        cache["stamp"], cache["map"] = stamp, datamap_loader.load(folder).datamap
    key = (language, bool(current_app.config.get("SELLS_OR_SHARES")))
    if key not in cache:
        cache[key] = disclosures(cache["map"], language=language, sells_or_shares=key[1])
    return cache[key]


def category_labels() -> dict:
    """The CCPA categories' names as the requester's language says them (the access report's words)."""
    return CATEGORY_LABELS
