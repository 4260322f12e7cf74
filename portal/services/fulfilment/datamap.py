"""The data map as the portal reads it: immutable, typed, every field with its rule and CCPA category.

`datamap_loader.load` builds it from the YAML folder; nothing here reads files or databases.
A field with several data categories is governed by the rule that keeps the most (`MappedField.rule`):
a basis to retain one of them outweighs an instruction to erase another.
"""
from dataclasses import dataclass
from pathlib import Path

from .ccpa_categories import CcpaCategory, prefix_length

ACCESS_ACTIONS = ("include", "summarize", "exclude")
DELETE_ACTIONS = ("erase", "anonymize", "delete_row", "retain")
CORRECT_ACTIONS = ("update", "refer")
# The identities a request can seed a traversal with: the confirmed email, the phone number, and the
# identity index's subject_id.
SEED_IDENTITIES = ("email", "phone_number", "subject_id")

# What keeps the most, first: the order in which a field's rules govern it.
_KEEPS_MOST = {"retain": 0, "anonymize": 1, "erase": 2, "delete_row": 3}
_SHOWS_LEAST = {"exclude": 0, "summarize": 1, "include": 2}


@dataclass(frozen=True)
class Finding:
    """One problem (`error`) or `warning` of the map, with where it is."""

    level: str
    file: str
    where: tuple[str, ...]
    message: str

    def line(self) -> str:
        """The line `datamap check` prints: `error: FILE: dataset D, collection C, field F: message`."""
        place = ", ".join(self.where)
        return f"{self.level}: {self.file}: " + (f"{place}: " if place else "") + self.message


@dataclass(frozen=True)
class Rule:
    file: str
    number: int  # its position in the file's `rules:` list, from 1
    categories: tuple[str, ...]
    access: str
    delete: str
    correct: str
    basis: str | None = None
    ccpa_category: str | None = None
    collections: tuple[str, ...] = ()  # "dataset:collection"; empty: every collection

    @property
    def label(self) -> str:
        return f"rule {self.number} ({', '.join(self.categories)})"

    def applies_to(self, collection_key: str) -> bool:
        """Whether the rule is in force in that collection ("dataset:collection")."""
        return not self.collections or collection_key in self.collections

    def match_length(self, category: str) -> int:
        """How specific the rule is for a data category: its longest matching prefix (0: none)."""
        return max(prefix_length(prefix, category) for prefix in self.categories)


@dataclass(frozen=True)
class Resolution:
    """A field's data category, the rule that governs it (None: no rule covers it) and its CCPA category."""

    category: str
    rule: Rule | None
    ccpa: CcpaCategory | None


@dataclass(frozen=True)
class FieldReference:
    dataset: str
    collection: str
    field: str
    direction: str | None  # "to", "from" or None, as Fides writes it

    def __str__(self) -> str:
        return f"{self.dataset}:{self.collection}.{self.field}"


@dataclass(frozen=True)
class MappedField:
    name: str  # a nested field's path joined with "."
    data_categories: tuple[str, ...]
    identity: str | None
    primary_key: bool
    data_type: str | None
    read_only: bool
    references: tuple[FieldReference, ...]
    resolutions: tuple[Resolution, ...]

    @property
    def rule(self) -> Rule | None:
        """The governing rule: of the field's categories' rules, the one that keeps the most."""
        rules = [r.rule for r in self.resolutions if r.rule is not None]
        if not rules:
            return None
        return min(rules, key=lambda rule: (_KEEPS_MOST[rule.delete], _SHOWS_LEAST[rule.access]))

    @property
    def ccpa_categories(self) -> tuple[CcpaCategory, ...]:
        return tuple(dict.fromkeys(r.ccpa for r in self.resolutions if r.ccpa is not None))

    @property
    def is_structure(self) -> bool:
        """Keys and references are structure: never erased, whatever the rule says."""
        return self.primary_key or bool(self.references)


@dataclass(frozen=True)
class MappedCollection:
    name: str
    fields: tuple[MappedField, ...]
    skip_processing: bool = False  # fides_meta.skip_processing: Fides and the portal leave it alone

    def field(self, name: str) -> MappedField | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def identity_fields(self) -> tuple[MappedField, ...]:
        return tuple(f for f in self.fields if f.identity)

    @property
    def primary_key(self) -> tuple[MappedField, ...]:
        return tuple(f for f in self.fields if f.primary_key)


@dataclass(frozen=True)
class MappedDataset:
    fides_key: str
    name: str | None
    description: str | None
    file: str
    collections: tuple[MappedCollection, ...]

    def collection(self, name: str) -> MappedCollection | None:
        return next((c for c in self.collections if c.name == name), None)


# The business's own words in one or more languages: ((language, text), ...), the first as written.
LocalText = tuple[tuple[str, str], ...]
# What a `systems:` entry may say for the privacy policy (§7011(e)(1)): each a list of texts but
# retention, one text.
POLICY_KEYS = ("sources", "purposes", "retention", "disclosed_to", "sold_or_shared_to")


def in_language(text: LocalText, language: str) -> str:
    """The text in `language`, or else as first written."""
    return dict(text).get(language, text[0][1])


@dataclass(frozen=True)
class System:
    file: str
    number: int
    dataset: str
    name: str
    connection: str | None = None  # a SQLAlchemy URL or env:NAME; None: staff search by hand
    write_connection: str | None = None  # None: erasure and correction are staff tasks
    owner: str | None = None
    recipient: str | None = None
    health_data: bool = False
    client: str | None = None  # the client's key when the business holds this system's data for a client
    # For the privacy policy: where the data comes from, why it is collected, how long it is kept,
    # and the categories of recipients it is disclosed to for a business purpose, or sold or shared to.
    sources: tuple[LocalText, ...] = ()
    purposes: tuple[LocalText, ...] = ()
    retention: LocalText | None = None
    disclosed_to: tuple[LocalText, ...] = ()
    sold_or_shared_to: tuple[LocalText, ...] = ()

    @property
    def label(self) -> str:
        return f"system {self.dataset}"


@dataclass(frozen=True)
class DataMap:
    folder: Path
    datasets: tuple[MappedDataset, ...]
    systems: tuple[System, ...]
    rules: tuple[Rule, ...]

    def dataset(self, fides_key: str) -> MappedDataset | None:
        return next((d for d in self.datasets if d.fides_key == fides_key), None)

    def system_for(self, fides_key: str) -> System | None:
        return next((s for s in self.systems if s.dataset == fides_key), None)

    def resolve(self, field: FieldReference) -> MappedField | None:
        """The field a reference names, or None when it does not exist."""
        dataset = self.dataset(field.dataset)
        collection = dataset.collection(field.collection) if dataset else None
        return collection.field(field.field) if collection else None


def governing_rule(rules: tuple[Rule, ...], category: str, collection_key: str) -> Rule | None:
    """The rule for a data category in a collection: the longest matching prefix; at equal length, a
    rule naming the collection beats one for every collection (the loader reports true ties)."""
    candidates = [r for r in rules if r.applies_to(collection_key) and r.match_length(category)]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.match_length(category), bool(r.collections)))
