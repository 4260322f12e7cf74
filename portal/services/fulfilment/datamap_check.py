"""`datamap check`: everything that can be known about the map before a request arrives.

Errors (exit 1): what the loader found, a reference to a dataset, collection or field that does not
exist, a collection no identity reaches (references followed both ways from collections with an
`email`, `phone_number` or `subject_id` identity field; `fides_meta.skip_processing` collections
aside), a data category no rule covers or with no CCPA category, a rule that excludes or retains
without a basis or names a basis that is not one of the portal's denial-basis codes (or does not
apply to that right), two rules governing one category alike, a rule naming a collection that does
not exist, a collection that deletes whole rows while retaining a field, a system whose dataset is
missing, a dataset no system names, and a system whose connection cannot be opened
(`datamap_live_check`).

Warnings (exit 0 unless --strict): keys fideslang ignores, an identity the portal cannot seed from,
a turned-off basis, a rule that governs nothing, a missing index in the live database, a CCPA
category the map holds that the privacy policy does not name, and a system holding personal
information that does not say for the policy where it comes from, why, or how long it is kept
(`policy_disclosures.gaps`). The policy check reads the policy in
force (the instance's file or the shipped default, in the default language) as plain text, folded
(compatibility forms, lower case, straight apostrophes, single spaces), and looks for the statute's
own words for each category as whole words: §1798.130(c) has the policy name the categories
"by reference to the enumerated category" of §1798.140(v), so a policy that says "contact details"
but never "identifiers" does not name it. Sensitive categories also need the words "sensitive
personal information".
"""
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect, select

from ... import db, i18n, policy
from ...models import Client
from ..cases import outcomes
from . import ccpa_categories, datamap_live_check, datamap_loader, policy_disclosures
from .datamap import SEED_IDENTITIES, DataMap, Finding, MappedField, Rule

POLICY_FILE = "privacy policy"


@dataclass(frozen=True)
class CheckReport:
    datamap: DataMap
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level != "error")


def _registered_clients() -> set[str] | None:
    """The registered clients' keys; None before `db upgrade` made their table (a map checked on a
    fresh install, as CI does with the example): a system's `client:` is then not checked."""
    with db.read_session() as session:
        if not inspect(session.connection()).has_table(Client.__tablename__):
            return None
        return set(session.execute(select(Client.key).where(Client.removed_at.is_(None))).scalars())


def check_configured_map(*, probe_connections: bool = True) -> CheckReport:
    """The findings on the map at DATAMAP_PATH, against this portal's bases, privacy policy and clients."""
    loaded = datamap_loader.load(Path(current_app.config["DATAMAP_PATH"]))
    findings = check(loaded, bases=outcomes.all_bases(), policy_text=policy_text(),
                     instance_path=current_app.instance_path, probe_connections=probe_connections,
                     client_keys=_registered_clients())
    findings += policy_disclosures.gaps(loaded.datamap, languages=list(current_app.config["LANGUAGES"]),
                                        sells_or_shares=bool(current_app.config.get("SELLS_OR_SHARES")))
    return CheckReport(loaded.datamap, tuple(findings))


def check(loaded: datamap_loader.LoadedMap, *, bases: dict[str, dict], policy_text: str | None,
          instance_path: Path | str, probe_connections: bool = True,
          client_keys: set[str] | None = None) -> list[Finding]:
    """Every finding on a loaded map: the loader's, then the checks', errors before warnings.
    `client_keys`: the registered clients a system may be held for (None: not checked)."""
    datamap = loaded.datamap
    findings = list(loaded.findings)
    findings += _duplicate_datasets(datamap)
    findings += _references(datamap)
    findings += _reachability(datamap)
    findings += _coverage(datamap)
    findings += _rules(datamap, bases)
    findings += _row_deletion(datamap)
    findings += _systems(datamap)
    if client_keys is not None:
        findings += [Finding("error", s.file, (s.label,), f"client {s.client} is not a registered client "
                                                          f"(flask clients add {s.client} ...)")
                     for s in datamap.systems if s.client and s.client not in client_keys]
    if probe_connections:
        findings += datamap_live_check.check_systems(datamap, instance_path=instance_path)
    if policy_text is not None:
        findings += _policy(datamap, policy_text)
    return [f for f in findings if f.level == "error"] + [f for f in findings if f.level != "error"]


def _field_where(dataset, collection, field: MappedField | None = None) -> tuple[str, ...]:
    place = (f"dataset {dataset.fides_key}", f"collection {collection.name}")
    return place + ((f"field {field.name}",) if field is not None else ())


def _every_field(datamap: DataMap):
    for dataset in datamap.datasets:
        for collection in dataset.collections:
            for field in collection.fields:
                yield dataset, collection, field


def _duplicate_datasets(datamap: DataMap) -> list[Finding]:
    seen: dict[str, str] = {}
    found = []
    for dataset in datamap.datasets:
        if dataset.fides_key in seen:
            found.append(Finding("error", dataset.file, (f"dataset {dataset.fides_key}",),
                                 f"fides_key {dataset.fides_key} is also used in {seen[dataset.fides_key]}"))
        seen.setdefault(dataset.fides_key, dataset.file)
    return found


def _references(datamap: DataMap) -> list[Finding]:
    found = []
    for dataset, collection, field in _every_field(datamap):
        for reference in field.references:
            if datamap.resolve(reference) is not None:
                continue
            target = datamap.dataset(reference.dataset)
            why = (f" (no dataset {reference.dataset})" if target is None else
                   f" (no collection {reference.collection} in {reference.dataset})"
                   if target.collection(reference.collection) is None else "")
            found.append(Finding("error", dataset.file, _field_where(dataset, collection, field),
                                 f"references {reference}, which does not exist{why}"))
    return found


def _reachability(datamap: DataMap) -> list[Finding]:
    """Collections reached from identity fields, following references both ways."""
    neighbours: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    roots, found = [], []
    for dataset, collection, field in _every_field(datamap):
        here = (dataset.fides_key, collection.name)
        if field.identity in SEED_IDENTITIES:
            roots.append(here)
        elif field.identity:
            found.append(Finding("warning", dataset.file, _field_where(dataset, collection, field),
                                 f"identity {field.identity} is not one a request is seeded with "
                                 f"({', '.join(SEED_IDENTITIES)}): it reaches nothing"))
        for reference in field.references:
            if datamap.resolve(reference) is not None:
                there = (reference.dataset, reference.collection)
                neighbours[here].add(there)
                neighbours[there].add(here)
    reached, queue = set(roots), list(roots)
    while queue:
        for there in neighbours[queue.pop()]:
            if there not in reached:
                reached.add(there)
                queue.append(there)
    for dataset in datamap.datasets:
        for collection in dataset.collections:
            if (dataset.fides_key, collection.name) not in reached and not collection.skip_processing:
                found.append(Finding("error", dataset.file, _field_where(dataset, collection),
                                     "no identity reaches it: it has no email, phone_number or subject_id "
                                     "identity field, and no reference links it to a collection that has one"))
    return found


def _coverage(datamap: DataMap) -> list[Finding]:
    """Every data category of every field: a rule, a CCPA category where it is about a person, no tie."""
    found, tied = [], set()
    for dataset, collection, field in _every_field(datamap):
        where = _field_where(dataset, collection, field)
        for resolution in field.resolutions:
            if resolution.rule is None:
                found.append(Finding("error", dataset.file, where,
                                     f"no rule covers data category {resolution.category}"))
                continue
            if resolution.ccpa is None and ccpa_categories.is_personal(resolution.category):
                found.append(Finding("error", dataset.file, where,
                                     f"data category {resolution.category} has no CCPA category: give its rule "
                                     f"({resolution.rule.label}) a ccpa_category"))
            rivals = _equal_rules(datamap.rules, resolution.rule, resolution.category,
                                  f"{dataset.fides_key}:{collection.name}")
            key = (resolution.category, resolution.rule, rivals)
            if rivals and key not in tied:
                tied.add(key)
                rule = resolution.rule
                named = [r.label if r.file == rule.file else f"{r.file}'s {r.label}" for r in rivals]
                found.append(Finding("error", rule.file, (rule.label,), f"governs data category "
                                     f"{resolution.category} exactly as {', '.join(named)} does: say it once"))
    return found


def _equal_rules(rules: tuple[Rule, ...], winner: Rule, category: str, collection_key: str) -> tuple[Rule, ...]:
    """Other rules that match the category as specifically as the winner, with the same scope."""
    rank = (winner.match_length(category), bool(winner.collections))
    return tuple(r for r in rules if r is not winner and r.applies_to(collection_key)
                 and (r.match_length(category), bool(r.collections)) == rank)


def _rules(datamap: DataMap, bases: dict[str, dict]) -> list[Finding]:
    """Bases and collections named by each rule; rules that govern nothing."""
    found = []
    used = {r.rule for _d, _c, f in _every_field(datamap) for r in f.resolutions if r.rule is not None}
    for rule in datamap.rules:
        where = (rule.label,)
        # The right is also the request type whose basis it needs.
        needs = [(right, action) for right, action in (("access", "exclude"), ("delete", "retain"))
                 if getattr(rule, right) == action]
        if needs and not rule.basis:
            found.append(Finding("error", rule.file, where,
                                 f"{' and '.join(a for _r, a in needs)} without a basis: give the denial-basis code "
                                 f"the data is kept or withheld under (one of {', '.join(bases)})"))
        if rule.basis and rule.basis not in bases:
            found.append(Finding("error", rule.file, where, f"basis {rule.basis} is not a denial-basis code "
                                                             f"(known: {', '.join(bases)})"))
        elif rule.basis:
            basis = bases[rule.basis]
            if not basis.get("enabled", True):
                found.append(Finding("warning", rule.file, where, f"basis {rule.basis} is turned off "
                                     "(DENIAL_BASIS_OVERRIDES turns it on): staff cannot cite it"))
            types = basis.get("types")
            for right, action in needs:
                if types is not None and right not in types:
                    found.append(Finding("error", rule.file, where, f"basis {rule.basis} does not apply to "
                                         f"{right} requests, so it cannot justify {action}"))
        for name in rule.collections:
            dataset_key, _, collection = name.partition(":")
            dataset = datamap.dataset(dataset_key)
            if dataset is None or dataset.collection(collection) is None:
                found.append(Finding("error", rule.file, where, f"names collection {name}, which does not exist"))
        if rule not in used:
            found.append(Finding("warning", rule.file, where, "governs no field of the map"))
    return found


def _row_deletion(datamap: DataMap) -> list[Finding]:
    """A collection cannot delete whole rows and keep one of their fields."""
    found = []
    for dataset in datamap.datasets:
        for collection in dataset.collections:
            rules = [(f, f.rule) for f in collection.fields if f.rule is not None]
            deleting = [r for _f, r in rules if r.delete == "delete_row"]
            kept = [f for f, r in rules if r.delete == "retain"]
            if deleting and kept:
                found.append(Finding("error", dataset.file, _field_where(dataset, collection),
                                     f"{deleting[0].label} deletes whole rows, but "
                                     + ", ".join(f.name for f in kept) + " must be retained"))
    return found


def _systems(datamap: DataMap) -> list[Finding]:
    found, seen = [], set()
    for system in datamap.systems:
        where = (system.label,)
        if system.dataset in seen:
            found.append(Finding("error", system.file, where, f"dataset {system.dataset} has another system entry"))
        seen.add(system.dataset)
        if datamap.dataset(system.dataset) is None:
            found.append(Finding("error", system.file, where, f"dataset {system.dataset} does not exist"))
        if not (system.connection or system.write_connection or system.owner or system.recipient):
            found.append(Finding("error", system.file, where, "nobody can act on it: give it a connection, "
                                                              "an owner (staff email) or a recipient"))
    for dataset in datamap.datasets:
        if dataset.fides_key not in seen:
            found.append(Finding("error", dataset.file, (f"dataset {dataset.fides_key}",),
                                 "no entry in systems: names it (its connection, or the staff owner who searches it)"))
    return found


def _policy(datamap: DataMap, text: str) -> list[Finding]:
    """Each CCPA category the map holds, named in the privacy policy (see the module docstring)."""
    held: dict[str, list[str]] = defaultdict(list)
    for dataset, collection, field in _every_field(datamap):
        for ccpa in field.ccpa_categories:
            held[ccpa.key].append(f"{dataset.fides_key}:{collection.name}.{field.name}")
    normalised = ccpa_categories.normalised(text)
    found = []
    for key, fields in held.items():
        category = ccpa_categories.CATEGORIES[key]
        if not ccpa_categories.named_in(category, normalised):
            more = f" and {len(fields) - 1} more" if len(fields) > 1 else ""
            need = " as sensitive personal information" if category.sensitive else ""
            found.append(Finding("warning", POLICY_FILE, (), f"does not name \"{category.label}\"{need} "
                                 f"({category.citation}), which the map holds ({fields[0]}{more})"))
    return found


class _TextOnly(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def policy_text() -> str:
    """The privacy policy in force, in the default language, as plain text: the business's own text
    and the categories the page lists from the map (`policy_disclosures`)."""
    parser = _TextOnly()
    parser.feed(str(policy.current().html))
    parser.close()
    language = current_app.config["LANGUAGES"][0]
    listed = policy_disclosures.configured(language)
    if listed is not None:
        labels = policy_disclosures.category_labels()
        with i18n.language(language):
            parser.parts += [str(labels[c.key]) for c in listed.categories]
            parser.parts += ["sensitive personal information"] if listed.sensitive else []
    return " ".join(parser.parts)
