"""Reading the data map folder: every `*.yml`/`*.yaml` under it, three kinds of top-level keys.

- `dataset:` fideslang Datasets exactly as Fides writes them, validated with fideslang's own model
  (its errors become one line each, with the collection and field they are about);
- `systems:` how to reach each dataset's system, who owns it, who is asked to act;
- `rules:` what each right does to each data category, and on what basis.

`load` never raises on bad input: a YAML syntax error, a document that is not a mapping or an
unknown key is a `Finding` naming the file. Whether references resolve, collections are reachable
and systems answer is `datamap_check`'s business; this module checks each document's shape and
resolves every field's rule and CCPA category.
"""
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from email_validator import EmailNotValidError, validate_email
from fideslang.models import Dataset, DatasetCollection, DatasetField, FidesMeta
from fideslang.validation import FidesValidationError
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from . import ccpa_categories
from .datamap import (
    ACCESS_ACTIONS,
    CORRECT_ACTIONS,
    DELETE_ACTIONS,
    POLICY_KEYS,
    DataMap,
    FieldReference,
    Finding,
    LocalText,
    MappedCollection,
    MappedDataset,
    MappedField,
    Resolution,
    Rule,
    System,
    governing_rule,
)

TOP_LEVEL_KEYS = ("dataset", "systems", "rules")
SYSTEM_KEYS = ("dataset", "name", "connection", "write_connection", "owner", "recipient", "health_data",
               "client") + POLICY_KEYS
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
RULE_KEYS = ("categories", "access", "delete", "correct", "basis", "ccpa_category", "collections")
_CATEGORY_KEY = re.compile(r"^[A-Za-z0-9_.<>-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Keys fideslang's models read, per level; any other key is ignored by fideslang, and said so.
_MODEL_KEYS = {"dataset": set(Dataset.model_fields) | {"fidesops_meta"},
               "collection": set(DatasetCollection.model_fields) | {"fidesops_meta"},
               "field": set(DatasetField.model_fields) | {"fidesops_meta"},
               "fides_meta": set(FidesMeta.model_fields)}


@dataclass(frozen=True)
class LoadedMap:
    datamap: DataMap
    findings: tuple[Finding, ...]


class _Reader:
    """Collects the documents of every file and what is wrong with them."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.findings: list[Finding] = []
        self.datasets: list[tuple[str, Dataset, dict]] = []
        self.systems: list[System] = []
        self.rules: list[Rule] = []

    def error(self, file: str, where: tuple[str, ...], message: str) -> None:
        self.findings.append(Finding("error", file, where, message))

    def warning(self, file: str, where: tuple[str, ...], message: str) -> None:
        self.findings.append(Finding("warning", file, where, message))

    def read_file(self, path: Path) -> None:
        """One YAML file: its top-level keys, each read by its own reader."""
        file = path.relative_to(self.folder).as_posix()
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            self.error(file, (), f"{place}not valid YAML: {exc.problem or exc.context}")
            return
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            self.error(file, (), f"not valid YAML: {exc}")
            return
        if document is None:
            self.warning(file, (), "the file is empty")
            return
        if not isinstance(document, dict):
            self.error(file, (), "the file must be a mapping with dataset:, systems: or rules: at the top, "
                                 f"not a {_kind(document)}")
            return
        for key, value in document.items():
            if key == "dataset":
                self.read_datasets(file, value)
            elif key == "systems":
                self.read_systems(file, value)
            elif key == "rules":
                self.read_rules(file, value)
            else:
                hint = " (the portal reads a system's connection and owner from systems:)" if key == "system" else ""
                self.error(file, (), f"unknown top-level key {key!r}: expected one of {', '.join(TOP_LEVEL_KEYS)}{hint}")

    def read_datasets(self, file: str, value) -> None:
        """fideslang Datasets, validated by fideslang's model."""
        if not isinstance(value, list):
            self.error(file, (), f"dataset: must be a list of datasets, not a {_kind(value)}")
            return
        for number, raw in enumerate(value, start=1):
            if not isinstance(raw, dict):
                self.error(file, (f"dataset {number}",), f"a dataset must be a mapping, not a {_kind(raw)}")
                continue
            where = (f"dataset {raw['fides_key']}" if isinstance(raw.get("fides_key"), str) else f"dataset {number}",)
            try:
                dataset = Dataset(**{str(k): v for k, v in raw.items()})
            except ValidationError as exc:
                for place, message in _validation_lines(exc, raw):
                    self.error(file, where + place, message)
                continue
            except (FidesValidationError, TypeError, ValueError) as exc:
                self.error(file, where, str(exc))
                continue
            self.warn_ignored_keys(file, where, raw)
            self.datasets.append((file, dataset, raw))

    def warn_ignored_keys(self, file: str, where: tuple[str, ...], raw: dict) -> None:
        """Keys fideslang does not read (a typo such as `refrences` would silently drop an edge)."""
        self._ignored(file, where, raw, "dataset")
        for collection in raw.get("collections") or []:
            if isinstance(collection, dict):
                here = where + (f"collection {collection.get('name')}",)
                self._ignored(file, here, collection, "collection")
                for path, field in _raw_fields(collection.get("fields") or []):
                    self._ignored(file, here + (f"field {path}",), field, "field")
                    meta = field.get("fides_meta") or field.get("fidesops_meta")
                    if isinstance(meta, dict):
                        self._ignored(file, here + (f"field {path}",), meta, "fides_meta")

    def _ignored(self, file: str, where: tuple[str, ...], raw: dict, level: str) -> None:
        unknown = [str(k) for k in raw if str(k) not in _MODEL_KEYS[level]]
        if unknown:
            self.warning(file, where, f"fideslang ignores {', '.join(unknown)}")

    def read_systems(self, file: str, value) -> None:
        """`systems:` a list of mappings with SYSTEM_KEYS."""
        for number, raw in self._entries(file, "systems", value):
            where = (f"system {raw['dataset']}" if isinstance(raw.get("dataset"), str) else f"system {number}",)
            if not self._known_keys(file, where, raw, SYSTEM_KEYS):
                continue
            texts = {key: raw.get(key) for key in SYSTEM_KEYS if key != "health_data" and key not in POLICY_KEYS}
            wrong = [key for key, text in texts.items() if text is not None and not isinstance(text, str)]
            for key in wrong:
                self.error(file, where, f"{key} must be text, not a {_kind(raw[key])}")
            if not isinstance(raw.get("dataset"), str) or not raw["dataset"].strip():
                self.error(file, where, "dataset is missing: the fides_key of the dataset this system holds")
                continue
            if not isinstance(raw.get("health_data", False), bool):
                self.error(file, where, "health_data must be true or false")
                continue
            problems = [self._connection_problem(key, texts[key]) for key in ("connection", "write_connection")
                        if isinstance(texts[key], str)]
            problems.append(self._owner_problem(texts["owner"]) if isinstance(texts["owner"], str) else None)
            for problem in filter(None, problems):
                self.error(file, where, problem)
            if wrong or any(problems):
                continue
            # A policy text of the wrong shape is an error of the map, but the system still works: the
            # policy just says nothing from it.
            policy = {key: self._policy_texts(file, where, key, raw[key]) for key in POLICY_KEYS if key in raw}
            policy = {key: texts for key, texts in policy.items() if texts is not None}
            if "retention" in policy:
                policy["retention"] = policy["retention"][0]
            self.systems.append(System(**policy, file=file, number=number, dataset=raw["dataset"].strip(),
                                       name=(raw.get("name") or raw["dataset"]).strip(),
                                       connection=texts["connection"], write_connection=texts["write_connection"],
                                       owner=texts["owner"], recipient=texts["recipient"],
                                       health_data=bool(raw.get("health_data", False)),
                                       client=(texts["client"] or "").strip() or None))

    def _policy_texts(self, file: str, where: tuple[str, ...], key: str, value) -> tuple[LocalText, ...] | None:
        """A policy key's texts: text, or a mapping of language codes to text, or (but retention) a
        list of these. None: reported."""
        items = value if isinstance(value, list) and key != "retention" else [value]
        texts = []
        for item in items:
            if isinstance(item, str) and item.strip():
                texts.append((("", item.strip()),))
            elif (isinstance(item, dict) and item and all(isinstance(k, str) and _LANGUAGE.match(k) for k in item)
                  and all(isinstance(v, str) and v.strip() for v in item.values())):
                texts.append(tuple((k, v.strip()) for k, v in item.items()))
            else:
                shape = "text or a mapping of language codes to text" + ("" if key == "retention" else ", or a list of these")
                self.error(file, where, f"{key} must be {shape}, not a {_kind(item)}")
                return None
        return tuple(texts)

    @staticmethod
    def _connection_problem(key: str, spec: str) -> str | None:
        """A connection is `env:NAME`, `enc:TOKEN` (read with the instance keys when used) or a SQLAlchemy URL."""
        if spec.startswith("enc:"):
            return None if len(spec) > 4 and " " not in spec else f"{key}: enc: holds no token"
        if spec.startswith("env:"):
            return None if _ENV_NAME.match(spec[4:]) else f"{key}: {spec!r} does not name an environment variable"
        try:
            make_url(spec)
        except (ArgumentError, ValueError):
            return f"{key}: not a SQLAlchemy URL (dialect://...) or env:NAME"
        return None

    @staticmethod
    def _owner_problem(owner: str) -> str | None:
        try:
            validate_email(owner, check_deliverability=False)
        except EmailNotValidError:
            return f"owner {owner!r} is not an email address (the staff member who does the system's tasks)"
        return None

    def read_rules(self, file: str, value) -> None:
        """`rules:` a list of mappings with RULE_KEYS."""
        for number, raw in self._entries(file, "rules", value):
            where = (f"rule {number}",)
            if not self._known_keys(file, where, raw, RULE_KEYS):
                continue
            categories = raw.get("categories")
            if isinstance(categories, str):
                categories = [categories]
            problems = []
            if not categories or not isinstance(categories, list) or not all(
                    isinstance(c, str) and _CATEGORY_KEY.match(c) for c in categories):
                problems.append("categories must be a list of fideslang data category keys (e.g. user.contact)")
            for key, allowed in (("access", ACCESS_ACTIONS), ("delete", DELETE_ACTIONS), ("correct", CORRECT_ACTIONS)):
                if raw.get(key) not in allowed:
                    said = "is missing" if raw.get(key) is None else f"is {raw.get(key)!r}"
                    problems.append(f"{key} {said}: expected one of {', '.join(allowed)}")
            for key in ("basis", "ccpa_category"):
                if raw.get(key) is not None and not isinstance(raw[key], str):
                    problems.append(f"{key} must be text, not a {_kind(raw[key])}")
            ccpa = raw.get("ccpa_category")
            if isinstance(ccpa, str) and ccpa not in ccpa_categories.CATEGORIES:
                problems.append(f"ccpa_category {ccpa!r} is not a CCPA category (known: "
                                + ", ".join(ccpa_categories.CATEGORIES) + ")")
            collections = raw.get("collections") or []
            if isinstance(collections, str):
                collections = [collections]
            if not isinstance(collections, list) or not all(
                    isinstance(c, str) and re.fullmatch(r"[^:\s]+:[^:\s]+", c) for c in collections):
                problems.append('collections must be a list of "dataset:collection"')
            for problem in problems:
                self.error(file, where, problem)
            if problems:
                continue
            self.rules.append(Rule(file=file, number=number, categories=tuple(categories), access=raw["access"],
                                   delete=raw["delete"], correct=raw["correct"], basis=raw.get("basis"),
                                   ccpa_category=ccpa, collections=tuple(collections)))

    def _entries(self, file: str, key: str, value):
        """The mappings of a `systems:` or `rules:` list, numbered from 1; anything else reported."""
        if not isinstance(value, list):
            self.error(file, (), f"{key}: must be a list, not a {_kind(value)}")
            return
        for number, raw in enumerate(value, start=1):
            if isinstance(raw, dict):
                yield number, raw
            else:
                self.error(file, (f"{key[:-1]} {number}",), f"must be a mapping, not a {_kind(raw)}")

    def _known_keys(self, file: str, where: tuple[str, ...], raw: dict, known: tuple[str, ...]) -> bool:
        unknown = [str(k) for k in raw if k not in known]
        for key in unknown:
            self.error(file, where, f"unknown key {key!r}: expected {', '.join(known)}")
        return not unknown


def load(folder: Path | str) -> LoadedMap:
    """The data map in `folder`, and what is wrong with its files (never an exception for bad input)."""
    folder = Path(folder)
    reader = _Reader(folder)
    if not folder.is_dir():
        reader.error(str(folder), (), "the data map folder does not exist (PORTAL_DATAMAP_PATH)")
        return LoadedMap(DataMap(folder, (), (), ()), tuple(reader.findings))
    files = map_files(folder)
    if not files:
        reader.error(str(folder), (), "the data map folder holds no *.yml or *.yaml file")
    for path in files:
        reader.read_file(path)
    rules = tuple(reader.rules)
    datasets = tuple(_mapped_dataset(file, dataset, rules) for file, dataset, _raw in reader.datasets)
    datamap = DataMap(folder=folder, datasets=datasets, systems=tuple(reader.systems), rules=rules)
    return LoadedMap(datamap, tuple(reader.findings))


def map_files(folder: Path) -> list[Path]:
    """Every *.yml and *.yaml under the folder, hidden ones aside, in a stable order."""
    found = [p for pattern in ("*.yml", "*.yaml") for p in folder.rglob(pattern)
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _mapped_dataset(file: str, dataset: Dataset, rules: tuple[Rule, ...]) -> MappedDataset:
    collections = tuple(
        MappedCollection(name=c.name, fields=tuple(
            _mapped_field(path, field, rules, f"{dataset.fides_key}:{c.name}")
            for path, field in _model_fields(c.fields)),
            skip_processing=bool(c.fides_meta and c.fides_meta.skip_processing))
        for c in dataset.collections)
    return MappedDataset(fides_key=dataset.fides_key, name=dataset.name, description=dataset.description,
                         file=file, collections=collections)


def _mapped_field(path: str, field: DatasetField, rules: tuple[Rule, ...], collection_key: str) -> MappedField:
    meta = field.fides_meta or FidesMeta()
    references = tuple(_reference(r.dataset, r.field, r.direction.value if r.direction else None)
                       for r in meta.references or [])
    categories = tuple(field.data_categories or ())
    return MappedField(name=path, data_categories=categories, identity=meta.identity,
                       primary_key=bool(meta.primary_key), data_type=meta.data_type, read_only=bool(meta.read_only),
                       references=references,
                       resolutions=tuple(resolve_category(rules, category, collection_key) for category in categories))


def resolve_category(rules: tuple[Rule, ...], category: str, collection_key: str) -> Resolution:
    """A data category's rule in a collection and its CCPA category (the rule's override first)."""
    rule = governing_rule(rules, category, collection_key)
    if rule is not None and rule.ccpa_category:
        ccpa = ccpa_categories.CATEGORIES[rule.ccpa_category]
    elif ccpa_categories.is_personal(category):
        ccpa = ccpa_categories.for_fideslang_category(category)
    else:
        ccpa = None
    return Resolution(category=category, rule=rule, ccpa=ccpa)


def _reference(dataset: str, field: str, direction: str | None) -> FieldReference:
    """A Fides reference: `field` is `collection.field` (a nested field: `collection.parent.child`)."""
    collection, _, name = field.partition(".")
    return FieldReference(dataset=dataset, collection=collection, field=name, direction=direction)


def _model_fields(fields, prefix: str = ""):
    """Every field of a collection, nested ones as `parent.child`, in the file's order."""
    for field in fields or []:
        path = f"{prefix}{field.name}"
        yield path, field
        yield from _model_fields(field.fields, path + ".")


def _raw_fields(fields, prefix: str = ""):
    for field in fields:
        if isinstance(field, dict):
            path = f"{prefix}{field.get('name')}"
            yield path, field
            yield from _raw_fields(field.get("fields") or [], path + ".")


def _validation_lines(exc: ValidationError, raw: dict) -> list[tuple[tuple[str, ...], str]]:
    """fideslang's (pydantic's) errors, one per line: where (collection, field) and what, in words."""
    lines = []
    for error in exc.errors():
        place, rest, node, field_path = [], [], raw, []
        loc = list(error["loc"])
        while loc:
            part = loc.pop(0)
            if part in ("collections", "fields") and loc and isinstance(loc[0], int) and isinstance(node, dict):
                index = loc.pop(0)
                items = node.get(part) or []
                node = items[index] if index < len(items) else {}
                name = node.get("name") if isinstance(node, dict) else None
                label = name if name is not None else f"#{index + 1}"
                if part == "collections":
                    place.append(f"collection {label}")
                else:
                    field_path.append(str(label))
            else:
                rest.append(str(part))
                node = node.get(part) if isinstance(node, dict) else None
        if field_path:
            place.append("field " + ".".join(field_path))
        message = str(error["msg"]).removeprefix("Value error, ")
        key = ".".join(rest)
        if error["type"] == "missing":
            message = f"{key} is missing"
        elif key:
            message = f"{key}: {message}"
        lines.append((tuple(place), message))
    return lines


def _kind(value) -> str:
    """What a YAML value is, in words."""
    return {dict: "mapping", list: "list", str: "text", bool: "true/false", int: "number",
            float: "number", type(None): "empty value"}.get(type(value), type(value).__name__)
