"""The identity index: the business's records of people, as keyed hashes only (§7060(a),(c)).

`import_csv` streams a CSV in batches (bounded memory), normalizes each value (portal.normalize),
and stores HMAC-SHA256 hashes under the subject hash key; no value is ever stored in clear. Beside
each row go the keyed hashes of the forms of the person's name that still name them
(`normalize.name_variants`, with the date of birth: `IdentityNameKey`), so "OBrien", "Ramirez" for
"Ramírez Gómez" and "Smith" for "Smith Jr." match as the whole name does. A
structurally malformed file (unknown or missing columns, a row with the wrong number of fields,
bytes that are not UTF-8) imports nothing; a row whose values cannot be read is rejected with its
line number and reason, and the others are imported.

A row may name the client (`client`: a registered client's key) the business holds that person's
data for, as its service provider or business associate: a person may have one row the business holds
for itself and one per client. A row naming a client that is not registered is rejected by name.
"""
import codecs
import csv
import hashlib
import hmac
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from flask import current_app
from sqlalchemy import and_, delete, func, insert, or_, select
from sqlmodel import Session

from ... import clock, normalize
from ...db import atomic
from ...models import Client, IdentityNameKey, IdentitySubject, SubjectImport

log = logging.getLogger(__name__)

COLUMNS = ("subject_id", "email", "phone", "first_name", "last_name", "date_of_birth", "claim_number",
           "date_of_injury", "employer", "postal_code", "client")
# The points a request can match, each a column of the index.
POINTS = ("email", "phone", "name_dob", "claim_number", "date_of_injury", "employer", "postal_code")
# The points that identify a person on their own: a subject is a candidate only when one of these
# matches; the others (date of injury, employer, postal code) count only beside them.
STRONG_POINTS = ("email", "phone", "name_dob", "claim_number")
# The message prefix of a name key's hash (never equal to a whole name's, which is "name_dob").
NAME_KEY_POINT = "name_form_dob"
BATCH_ROWS = 2000
MAX_SUBJECT_KEY = 100


class MalformedFile(ValueError):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass
class Rejection:
    line: int
    reason: str


@dataclass
class ImportSummary:
    rows_read: int = 0
    rows_imported: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    dry_run: bool = False


def hash_key() -> bytes:
    return current_app.config["SUBJECT_HASH_KEY"].encode()


@lru_cache(maxsize=8)
def _keyed(key: bytes):
    return hmac.new(key, digestmod=hashlib.sha256)


def point_hash(point: str, canonical: str, key: bytes | None = None) -> str:
    """The keyed hash of one point's canonical value; the point's name is part of the message, so
    equal text under two points (a date of birth and a date of injury) never hashes alike."""
    mac = _keyed(key or hash_key()).copy()  # the key's inner and outer pads are computed once
    mac.update(f"{point}\x1f{canonical}".encode())
    return mac.hexdigest()


def canonical_points(values: dict) -> tuple[dict[str, str], list[str]]:
    """The canonical value of every point present in `values` (CSV columns or request fields), and the
    names of the values that were given but cannot be read."""
    out: dict[str, str] = {}
    bad: list[str] = []

    def put(point, raw, rule, label=None):
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return
        value = rule(raw)
        if value is None:
            bad.append(label or point)
        else:
            out[point] = value

    put("email", values.get("email"), lambda v: normalize.email(v) if "@" in normalize.email(v) else None)
    put("phone", values.get("phone"), normalize.phone)
    put("claim_number", values.get("claim_number"), normalize.claim_number)
    put("date_of_injury", values.get("date_of_injury"), normalize.iso_date)
    put("employer", values.get("employer"), normalize.employer)
    put("postal_code", values.get("postal_code"), normalize.postal_code)
    dob_raw = values.get("date_of_birth")
    dob = normalize.iso_date(dob_raw) if dob_raw not in (None, "") else None
    if dob_raw not in (None, "") and dob is None:
        bad.append("date_of_birth")
    person = normalize.name(values.get("first_name"), values.get("last_name"))
    if person and dob:
        out["name_dob"] = person + "|" + dob
    return out, bad


def name_keys(values: dict, key: bytes | None = None) -> frozenset[str]:
    """The keyed hashes of every form of the name in `values` that still names the person, each with
    the date of birth (none without both)."""
    raw = values.get("date_of_birth")
    dob = normalize.iso_date(raw) if raw not in (None, "") else None
    if dob is None:
        return frozenset()
    key = key or hash_key()
    variants = normalize.name_variants(values.get("first_name"), values.get("last_name"))
    return frozenset(point_hash(NAME_KEY_POINT, f"{variant}|{dob}", key) for variant in variants)


def hashes(values: dict, key: bytes | None = None) -> tuple[dict[str, str], list[str]]:
    """The keyed hash of every readable point in `values`, and the names of the unreadable ones."""
    key = key or hash_key()
    canon, bad = canonical_points(values)
    return {p: point_hash(p, v, key) for p, v in canon.items()}, bad


def _lines(stream, progress: Callable[[int], None] | None) -> Iterator[str]:
    """Decode a binary stream line by line, reporting the bytes read; MalformedFile on bad UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for number, raw in enumerate(stream, start=1):
        if progress:
            progress(len(raw))
        try:
            yield decoder.decode(raw)
        except UnicodeDecodeError:
            raise MalformedFile(f"line {number}: the file is not UTF-8 text") from None


def _check_header(header: list[str] | None) -> list[str]:
    if not header:
        raise MalformedFile("the file is empty: it needs a header row")
    names = [h.strip().lower() for h in header]
    unknown = [h for h in names if h not in COLUMNS]
    if unknown:
        raise MalformedFile("unknown columns: " + ", ".join(unknown) + " (known: " + ", ".join(COLUMNS) + ")")
    if "subject_id" not in names:
        raise MalformedFile("the subject_id column is required")
    doubled = sorted({h for h in names if names.count(h) > 1})
    if doubled:
        raise MalformedFile("columns given twice: " + ", ".join(doubled))
    return names


def client_keys(session: Session) -> set[str]:
    """The keys of the registered clients (rows may be held for them)."""
    return set(session.execute(select(Client.key).where(Client.removed_at.is_(None))).scalars())


def read_rows(stream, *, key: bytes, progress: Callable[[int], None] | None = None,
              summary: ImportSummary, clients: set[str] = frozenset()) -> Iterator[dict]:
    """Rows of the index (subject_key, client_key and hashes) from a CSV byte stream; rejections go to
    `summary`. `clients`: the registered clients' keys."""
    reader = csv.reader(_lines(stream, progress), strict=True)
    try:
        names = _check_header(next(reader, None))
        for raw in reader:
            if not raw:
                continue  # a blank line
            if len(raw) != len(names):
                raise MalformedFile(f"line {reader.line_num}: {len(raw)} fields where the header has {len(names)}")
            summary.rows_read += 1
            values = dict(zip(names, raw))
            subject = values["subject_id"].strip()
            if not subject:
                summary.rejections.append(Rejection(reader.line_num, "subject_id is empty"))
                continue
            if len(subject) > MAX_SUBJECT_KEY:
                summary.rejections.append(Rejection(reader.line_num, f"subject_id is longer than {MAX_SUBJECT_KEY}"))
                continue
            client = (values.get("client") or "").strip()
            if client and client not in clients:
                summary.rejections.append(Rejection(
                    reader.line_num, f"client {client[:64]!r} is not a registered client (flask clients add {client[:64]})"))
                continue
            point_hashes, bad = hashes(values, key)
            if bad:
                summary.rejections.append(Rejection(reader.line_num, "cannot read " + ", ".join(bad)))
                continue
            if not point_hashes:
                summary.rejections.append(Rejection(reader.line_num, "no data points"))
                continue
            yield {"subject_key": subject, "client_key": client, **{f"{p}_hash": point_hashes.get(p) for p in POINTS},
                   "name_keys": name_keys(values, key)}
    except csv.Error as exc:
        raise MalformedFile(f"line {reader.line_num}: {exc}") from None


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch: dict[tuple[str, str], dict] = {}
    for row in rows:
        batch[(row["subject_key"], row["client_key"])] = row  # the same row twice in a batch: the later wins
        if len(batch) >= size:
            yield list(batch.values())
            batch = {}
    if batch:
        yield list(batch.values())


@atomic
def import_csv(session: Session, *, stream, dry_run: bool = False, progress: Callable[[int], None] | None = None,
               batch_rows: int = BATCH_ROWS) -> ImportSummary:
    """Import (or with dry_run, only check) a CSV of subjects in one transaction. A re-imported
    subject_id replaces its row (the row held for the same client). MalformedFile: nothing is written."""
    started = clock.now()
    summary = ImportSummary(dry_run=dry_run)
    key = hash_key()
    table, names = IdentitySubject.__table__, IdentityNameKey.__table__
    rows = read_rows(stream, key=key, progress=progress, summary=summary, clients=client_keys(session))
    for batch in _batches(rows, batch_rows):
        if dry_run:
            summary.rows_imported += len(batch)
            continue
        for client in {row["client_key"] for row in batch}:
            keys = [row["subject_key"] for row in batch if row["client_key"] == client]
            session.execute(delete(names).where(names.c.client_key == client, names.c.subject_key.in_(keys)))
            session.execute(delete(table).where(table.c.client_key == client, table.c.subject_key.in_(keys)))
        now = clock.now()
        session.execute(insert(table), [{k: v for k, v in row.items() if k != "name_keys"} | {"imported_at": now}
                                        for row in batch])
        forms = [{"subject_key": row["subject_key"], "client_key": row["client_key"], "name_dob_hash": h}
                 for row in batch for h in row["name_keys"]]
        if forms:
            session.execute(insert(names), forms)
        summary.rows_imported += len(batch)
    if dry_run:
        session.rollback()
        return summary
    session.add(SubjectImport(started_at=started, finished_at=clock.now(), rows_imported=summary.rows_imported,
                              rows_rejected=len(summary.rejections)))
    session.commit()
    log.info("identity index import: %d rows imported, %d rejected", summary.rows_imported, len(summary.rejections))
    return summary


@dataclass(frozen=True)
class IndexStatus:
    subjects: int
    per_point: dict[str, int]
    last_import: datetime | None
    last_imported: int | None
    last_rejected: int | None
    name_forms: int = 0


def status(session: Session) -> IndexStatus:
    """How many subjects (people) the index holds, how many rows have each point, and the last import."""
    table = IdentitySubject.__table__
    # People, not rows: a person held for the business and for clients has a row for each.
    counts = session.execute(select(func.count(func.distinct(table.c.subject_key)),
                                    *[func.count(table.c[f"{p}_hash"]) for p in POINTS])).one()
    last = session.execute(select(SubjectImport).order_by(SubjectImport.id.desc()).limit(1)).scalar()
    forms = session.execute(select(func.count()).select_from(IdentityNameKey)).scalar_one()
    return IndexStatus(subjects=counts[0], per_point=dict(zip(POINTS, counts[1:])),
                       last_import=last.finished_at if last else None,
                       last_imported=last.rows_imported if last else None,
                       last_rejected=last.rows_rejected if last else None, name_forms=forms)


@atomic
def forget(session: Session, *, subject_key: str) -> bool:
    """Remove one subject (every row of it, whoever it is held for, and its name keys); False when
    there was none."""
    session.execute(delete(IdentityNameKey.__table__).where(IdentityNameKey.__table__.c.subject_key == subject_key.strip()))
    result = session.execute(delete(IdentitySubject.__table__).where(
        IdentitySubject.__table__.c.subject_key == subject_key.strip()))
    session.commit()
    return result.rowcount > 0


def remove(session: Session, *, subject_keys: Iterable[str], client_key: str = "") -> int:
    """Remove these subjects' rows held for the business (or, with `client_key`, for that client) from
    the index in the caller's transaction; how many rows went."""
    keys = sorted({k.strip() for k in subject_keys if k})
    if not keys:
        return 0
    table, names = IdentitySubject.__table__, IdentityNameKey.__table__
    session.execute(delete(names).where(names.c.subject_key.in_(keys), names.c.client_key == client_key))
    return session.execute(delete(table).where(table.c.subject_key.in_(keys), table.c.client_key == client_key)).rowcount


@dataclass(frozen=True)
class Match:
    """The best match of a request's points in the index: the subject, and the points that matched.
    `email_elsewhere`: the given email is held for a different subject than the best match (a
    warning sign: another person's details given with this address)."""

    subject_key: str | None
    matched: tuple[str, ...]
    unmatched: tuple[str, ...]
    email_elsewhere: bool = False


def best_match(session: Session, given: dict[str, str], name_forms: frozenset[str] = frozenset(), *,
               client_key: str | None = None) -> Match:
    """The subject whose row matches most of the `given` point hashes. A point counts only against
    the same row, and a subject is a candidate only through a strong point. The name and date of
    birth match through the whole name's hash or through any of `name_forms` (`name_keys`) of that
    row; on a tie, the subject the email belongs to wins. `client_key`: only the rows held for that
    client (a client's own request names a person it holds)."""
    table, names = IdentitySubject.__table__, IdentityNameKey.__table__
    named: set[tuple[str, str]] = set()  # (subject_key, client_key) of the rows a name form matched
    if name_forms and "name_dob" in given:
        query = select(names.c.subject_key, names.c.client_key).where(names.c.name_dob_hash.in_(sorted(name_forms)))
        if client_key is not None:
            query = query.where(names.c.client_key == client_key)
        named = {tuple(row) for row in session.execute(query.limit(50)).all()}
    conditions = [table.c[f"{p}_hash"] == given[p] for p in STRONG_POINTS if p in given]
    if named:
        conditions.append(table.c.subject_key.in_(sorted({subject for subject, _client in named})))
    if not conditions:
        return Match(None, (), tuple(sorted(given)))
    query = select(table).where(or_(*conditions))
    if client_key is not None:
        query = query.where(table.c.client_key == client_key)
    candidates = session.execute(query.limit(50)).mappings().all()
    best: Match = Match(None, (), tuple(sorted(given)))
    email_owners = set()
    for row in candidates:
        matched = tuple(p for p in POINTS if p in given and (
            row[f"{p}_hash"] == given[p] or (p == "name_dob" and (row["subject_key"], row["client_key"]) in named)))
        if "email" in matched:
            email_owners.add(row["subject_key"])
        better = len(matched) > len(best.matched) or (len(matched) == len(best.matched) and (
            best.subject_key is None or ("email" in matched and "email" not in best.matched)))
        if better:
            best = Match(row["subject_key"], matched, tuple(p for p in POINTS if p in given and p not in matched))
    if email_owners and best.subject_key not in email_owners:
        best = Match(best.subject_key, best.matched, best.unmatched, email_elsewhere=True)
    return best


def holders(session: Session, subject_key: str) -> list[str]:
    """Whom the business holds this subject's rows for: "" for itself, a client's key for each client."""
    table = IdentitySubject.__table__
    return sorted(set(session.execute(select(table.c.client_key).where(table.c.subject_key == subject_key)).scalars()))


def held_for(session: Session, *, subject_key: str, client_key: str) -> bool:
    """Whether the index holds this subject for this client."""
    table = IdentitySubject.__table__
    return session.execute(select(table.c.id).where(and_(table.c.subject_key == subject_key,
                                                         table.c.client_key == client_key)).limit(1)).first() is not None
