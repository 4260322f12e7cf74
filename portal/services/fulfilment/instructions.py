"""What the map says about one system for one request type: whether its rules touch it, the
instructions staff (or a processor) follow, and the structured detail the drafts are written from.

The instructions name tables and fields, what to do with each and why (a retained field with its
basis and citation); the detail names CCPA categories and bases only, never a person's data.
"""
from dataclasses import dataclass, field

from .ccpa_categories import CATEGORIES
from .datamap import MappedCollection, MappedDataset, MappedField, System

# What each right does, per action of the rules; an action not listed here does nothing.
RIGHT = {"access": "access", "delete": "delete", "correct": "correct"}
DOING = {
    "access": {"include": "copy into the access package", "summarize": "describe in the access package, without copying"},
    "delete": {"erase": "erase (set to empty)", "anonymize": "replace with a keyed hash (anonymize)",
               "delete_row": "delete the whole row (children before parents)", "retain": "keep"},
    "correct": {"update": "correct it if it is what the requester says is wrong",
                "refer": "do not change it here: refer the correction to where the data comes from"},
}
IDENTITY_WORDS = {"email": "the confirmed email address", "phone_number": "the phone number",
                  "subject_id": "the identity index's subject id (shown with the verification)"}


@dataclass
class SystemWork:
    """The touched fields of one system for one request type, as instructions and detail."""

    lines: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # CCPA keys of the fields touched
    retained: list[dict] = field(default_factory=list)  # {"ccpa", "basis", "fields"}
    erased: list[str] = field(default_factory=list)  # CCPA keys erased, anonymized or deleted

    @property
    def touched(self) -> bool:
        return bool(self.categories) or bool(self.retained) or bool(self.erased) or len(self.lines) > 1

    def detail(self) -> dict:
        return {"categories": self.categories, "retained": self.retained, "erased": self.erased}


def _action(f: MappedField, right: str) -> str | None:
    rule = f.rule
    if rule is None:
        return None
    action = getattr(rule, right)
    if right == "delete" and f.is_structure:
        return None  # keys and references are structure: never erased
    return action if action in DOING[right] else None


def _add(seq: list, value) -> None:
    if value not in seq:
        seq.append(value)


def for_system(system: System, dataset: MappedDataset, request_type: str, bases: dict[str, dict]) -> SystemWork:
    """The work the map gives this system for a request type (`bases`: code -> label and citation)."""
    right = RIGHT.get(request_type)
    work = SystemWork()
    if right is None:
        return work
    seeds = sorted({f.identity for c in dataset.collections for f in c.identity_fields if f.identity in IDENTITY_WORDS})
    work.lines.append(f"Find the person in {system.name} by "
                      + (", ".join(IDENTITY_WORDS[s] for s in seeds) if seeds else "the links from other systems")
                      + "; record whether they were found.")
    for collection in dataset.collections:
        if not collection.skip_processing:
            _collection(work, collection, right, bases)
    return work


def _keeps(right: str, action: str) -> bool:
    """A deletion's `retain`, and a correction's `refer` (the data stays as it is here, corrected
    where its rule sends it, if at all): what the answer lists as kept, with the rule's basis."""
    return action == "retain" or (right == "correct" and action == "refer")


def _collection(work: SystemWork, collection: MappedCollection, right: str, bases: dict[str, dict]) -> None:
    groups: dict[tuple[str, str | None], list[MappedField]] = {}
    for f in collection.fields:
        action = _action(f, right)
        if action is not None:
            groups.setdefault((action, f.rule.basis if _keeps(right, action) else None), []).append(f)
    if not groups:
        return
    parts = []
    for (action, basis), fields in groups.items():
        names = ", ".join(f.name for f in fields)
        ccpa = [c.key for f in fields for c in f.ccpa_categories]
        labels = ", ".join(dict.fromkeys(CATEGORIES[k].label for k in ccpa)) or "not personal information"
        why = ""
        if _keeps(right, action) and basis:
            b = bases.get(basis, {})
            why = f" under {b.get('label', basis)} ({b.get('citation', 'no citation configured')})"
            for key in dict.fromkeys(ccpa):
                entry = next((r for r in work.retained if r["ccpa"] == key and r["basis"] == basis), None)
                if entry is None:
                    entry = {"ccpa": key, "basis": basis, "fields": []}
                    work.retained.append(entry)
                entry["fields"] += [f"{collection.name}.{f.name}" for f in fields if key in {c.key for c in f.ccpa_categories}]
        elif right == "delete":
            for key in ccpa:
                _add(work.erased, key)
        for key in ccpa:
            _add(work.categories, key)
        parts.append(f"{DOING[right][action]}{why}: {names} ({labels})")
    work.lines.append(f"Table {collection.name}: " + "; ".join(parts) + ".")
