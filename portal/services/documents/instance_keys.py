"""The start-up check that the keys this process holds fit the database it is pointed at.

A web host started without the instance folder's keys (a restore that forgot them, a second host
not given the shared ones) would otherwise generate new keys on first start and carry on: every
stored document would then answer 404, webhook secrets could not be read, identity matches would
all fail and every emailed link would be refused. So a start that finds data made with keys it does
not have refuses, names what is missing and how to supply it, and removes the keys it has just
generated so that nothing half-configured is left behind. A fresh install (empty database) still
generates its keys as before, but keeps them only when the database answered and held nothing made
with other keys: a first start that cannot reach its database removes the keys it has just
generated and refuses, so that the next start does not run on keys the database never saw.
"""
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from ... import clock
from ...models import Document, IdentitySubject, KeyFingerprint, PrivacyRequest, Recipient, StaffUser, WebhookDelivery
from .keys import key_id

log = logging.getLogger(__name__)

SAMPLE = 50  # encrypted webhook secrets tried at start: enough to catch a wrong key, cheap at any size


class MissingKeys(RuntimeError):
    """The database holds data made with keys this process does not have; it must not start."""


@dataclass
class Findings:
    unknown_key_ids: dict[str, int] = field(default_factory=dict)  # fingerprint -> documents
    unreadable_secrets: int = 0
    identity_rows: bool = False
    has_records: bool = False
    fingerprints: dict[str, str] | None = None  # name -> recorded fingerprint; None: no table yet


def _inspect(conn, keys: list[str]) -> Findings:
    tables = set(inspect(conn).get_table_names())
    found = Findings()
    known = {key_id(k) for k in keys}
    if Document.__tablename__ in tables:
        counts = conn.execute(select(Document.key_id, func.count()).group_by(Document.key_id)).all()
        found.unknown_key_ids = {kid: n for kid, n in sorted(counts) if kid not in known}
    fernet = MultiFernet([Fernet(k.encode()) for k in keys]) if keys else None
    tokens: list[str] = []
    if Recipient.__tablename__ in tables:
        tokens += conn.execute(select(Recipient.webhook_secret).where(Recipient.webhook_secret.is_not(None))
                               .order_by(Recipient.id.desc()).limit(SAMPLE)).scalars().all()
    if WebhookDelivery.__tablename__ in tables:
        tokens += conn.execute(select(WebhookDelivery.secret).where(WebhookDelivery.status == "pending")
                               .order_by(WebhookDelivery.id.desc()).limit(SAMPLE)).scalars().all()
    for token in tokens:
        try:
            if fernet is None:
                raise InvalidToken
            fernet.decrypt(token.encode())
        except InvalidToken:
            found.unreadable_secrets += 1
    if IdentitySubject.__tablename__ in tables:
        found.identity_rows = conn.execute(select(IdentitySubject.id).limit(1)).first() is not None
    for model in (PrivacyRequest, StaffUser):
        if model.__tablename__ in tables and conn.execute(select(model.id).limit(1)).first() is not None:
            found.has_records = True
    if KeyFingerprint.__tablename__ in tables:
        found.fingerprints = dict(conn.execute(select(KeyFingerprint.name, KeyFingerprint.fingerprint)).all())
    return found


def fingerprint(name: str, key: str) -> str:
    """A fingerprint of one key: the same key always gives it, and it gives nothing of the key away."""
    return hmac.new(key.encode(), b"privacy-portal key fingerprint\0" + name.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass
class GivenKeys:
    """The keys this process signs and hashes with, and how an operator replaces them on purpose."""
    secret_key: str
    subject_hash_key: str
    secret_key_fallbacks: tuple[str, ...] = ()
    replaced: frozenset[str] = frozenset()  # KEYS_REPLACED: names adopted although they differ

    def current(self) -> dict[str, str]:
        return {"secret_key": fingerprint("secret_key", self.secret_key),
                "subject_hash_key": fingerprint("subject_hash_key", self.subject_hash_key)}


def fingerprint_problems(found: Findings, given: GivenKeys) -> tuple[list[str], dict[str, str]]:
    """What differs from the recorded fingerprints, in an operator's words, and the fingerprints to
    record (new, or replaced on purpose)."""
    if found.fingerprints is None:
        return [], {}
    out, to_record = [], {}
    for name, current in given.current().items():
        recorded = found.fingerprints.get(name)
        if recorded == current:
            continue
        if recorded is None or name in given.replaced:
            to_record[name] = current
        elif name == "secret_key" and recorded in {fingerprint(name, k) for k in given.secret_key_fallbacks}:
            to_record[name] = current  # rotated on purpose: the old key still checks what it signed
        elif name == "subject_hash_key" and not found.identity_rows:
            to_record[name] = current  # nothing hashed with the old key is left to miss
        elif name == "secret_key":
            out.append(f"SECRET_KEY is not the key this database's links and sessions were made with "
                       f"(recorded fingerprint {recorded[:8]}, this process has {current[:8]}). Give the same "
                       "PORTAL_SECRET_KEY as before (every host the same), or restore <instance>/secret_key. To "
                       "replace it on purpose, keep the old key in PORTAL_SECRET_KEY_FALLBACKS (links already "
                       "mailed keep working until they expire); if the old key is lost, start once with "
                       "PORTAL_KEYS_REPLACED=secret_key (every link mailed before is then refused).")
        else:
            out.append(f"SUBJECT_HASH_KEY is not the key the identity index was hashed with (recorded fingerprint "
                       f"{recorded[:8]}, this process has {current[:8]}): no identity would ever match. Give the "
                       "same PORTAL_SUBJECT_HASH_KEY as before, or restore <instance>/subject_hash_key. To replace "
                       "it on purpose, start once with PORTAL_KEYS_REPLACED=subject_hash_key and import the identity "
                       "index again (subjects import).")
    return out, to_record


def _record(engine: Engine, fingerprints: dict[str, str]) -> None:
    """Record (or replace) fingerprints; a process starting beside this one may have recorded the
    same ones first."""
    if not fingerprints:
        return
    try:
        with engine.begin() as conn:
            for name, value in fingerprints.items():
                updated = conn.execute(KeyFingerprint.__table__.update().where(KeyFingerprint.name == name)
                                       .values(fingerprint=value, recorded_at=clock.now())).rowcount
                if not updated:
                    conn.execute(KeyFingerprint.__table__.insert().values(name=name, fingerprint=value,
                                                                          recorded_at=clock.now()))
    except IntegrityError:
        log.info("key fingerprints recorded by a process starting alongside")
    for name in fingerprints:
        log.info("key fingerprint recorded for %s", name)


def problems(found: Findings, *, generated: list[str]) -> list[str]:
    """What is wrong, one line each, in words an operator can act on (no key material)."""
    out = []
    generated_names = {os.path.basename(p) for p in generated}
    if found.unknown_key_ids:
        listed = ", ".join(f"key {kid} ({n} documents)" for kid, n in found.unknown_key_ids.items())
        out.append(f"stored documents are encrypted with keys this process does not have: {listed}. "
                   "Give every key in use in PORTAL_ENCRYPTION_KEYS (newest first), or restore "
                   "<instance>/encryption_keys from the backup.")
    if found.unreadable_secrets:
        out.append(f"{found.unreadable_secrets} webhook secret(s) cannot be decrypted with ENCRYPTION_KEYS: "
                   "supply the keys they were encrypted with (PORTAL_ENCRYPTION_KEYS or <instance>/encryption_keys).")
    if found.identity_rows and "subject_hash_key" in generated_names:
        out.append("the identity index holds keyed hashes, but no SUBJECT_HASH_KEY was found, so a new one was "
                   "about to be generated and no identity would ever match: set PORTAL_SUBJECT_HASH_KEY or "
                   "restore <instance>/subject_hash_key.")
    if found.has_records and "secret_key" in generated_names:
        out.append("the database holds requests or staff accounts, but no SECRET_KEY was found, so a new one "
                   "was about to be generated and every emailed link and session would be refused: set "
                   "PORTAL_SECRET_KEY (the same on every host) or restore <instance>/secret_key. To replace "
                   "the key on purpose, set the new one explicitly.")
    return out


def _remove(generated: list[str]) -> None:
    for path in generated:  # the keys this start made up may be wrong for this database: leave none behind
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def check(engine: Engine, *, keys: list[str], generated: list[str], given: GivenKeys | None = None) -> None:
    """Raise MissingKeys when the database holds data made with keys this process lacks, or when
    this start generated keys and could not reach the database to see that it is empty.

    With every key given (nothing generated), an unreachable database is not this check's
    business: it logs and lets the process start (the health check and the first query report it).
    """
    try:
        with engine.connect() as conn:
            found = _inspect(conn, keys)
    except DBAPIError as exc:
        reason = type(exc.orig).__name__
        if not generated:
            log.warning("start-up key check skipped: the database could not be read (%s)", reason)
            return
        _remove(generated)
        names = ", ".join(os.path.basename(p) for p in generated)
        raise MissingKeys(
            f"Refusing to start: no key was found for {names}, and the database could not be reached "
            f"({reason}) to make sure it holds nothing made with other keys. The keys this start generated "
            "were removed again. Start once the database answers (a fresh install then generates its keys), "
            "or give the keys in PORTAL_SECRET_KEY, PORTAL_ENCRYPTION_KEYS and PORTAL_SUBJECT_HASH_KEY.") from None
    finally:
        engine.dispose()  # no connection opened here outlives the check (gunicorn may fork after it)
    issues = problems(found, generated=generated)
    to_record: dict[str, str] = {}
    if given is not None and not issues:
        issues, to_record = fingerprint_problems(found, given)
    if not issues:
        _record(engine, to_record)
        engine.dispose()
        return
    _remove(generated)
    raise MissingKeys("Refusing to start: this database was written with keys this process does not have.\n"
                      + "\n".join(f"  - {line}" for line in issues)
                      + "\nNo key was generated; see 'Backups' in docs/operations.md, and deploy/README.md for several web hosts.")
