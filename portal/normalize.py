"""How identifiers are compared: one rule for each, used wherever they are stored or looked up.

Each normalizer returns the canonical text of a value, or None when there is nothing usable (an
empty value, or one that cannot be read: a phone number that is not one, a date that is not a date).
The identity index hashes exactly these canonical forms, so the same rule applies to the business's
records and to what a requester types.
"""
import re
import unicodedata
from datetime import date, datetime

import phonenumbers

DEFAULT_PHONE_REGION = "US"
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—_.,'’`/]+")
_NOT_WORD = re.compile(r"[^\w ]+")
_CLAIM_NOISE = re.compile(r"[\s\-‐‑‒–—_./#]+")
_COMPANY_SUFFIXES = frozenset({"inc", "incorporated", "llc", "llp", "lp", "ltd", "co", "corp", "corporation",
                               "company", "pc", "the"})
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y")


def email(value: str | None) -> str:
    """Email addresses are compared without surrounding spaces and case."""
    return (value or "").strip().lower()


def fold(value: str | None) -> str:
    """Text compared consistently: Unicode NFKD with the accents taken off, casefolded, punctuation
    and hyphens as spaces, spaces collapsed ("José-Luis  O'Neil" -> "jose luis o neil")."""
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _SEPARATORS.sub(" ", text)
    return " ".join(_NOT_WORD.sub(" ", text).split())


def name(first: str | None, last: str | None) -> str | None:
    """A person's name as one comparable key: each part folded, its words sorted, so accents, hyphens
    and two surnames in either order ("García-López", "lopez garcia") compare equal."""
    first_words, last_words = sorted(fold(first).split()), sorted(fold(last).split())
    if not first_words or not last_words:
        return None
    return " ".join(first_words) + "|" + " ".join(last_words)


# Words after a surname that are not part of it ("Smith Jr.", "King III"), and the particles of
# compound surnames that identify no one on their own ("de la Cruz").
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "2nd", "3rd", "esq", "md", "phd"})
_NAME_PARTICLES = frozenset({"de", "del", "la", "las", "los", "da", "das", "do", "dos", "di", "du", "van", "von",
                             "der", "den", "le", "y", "e", "st"})
_NAME_JOINERS = re.compile(r"['’`ʼ.]")


def name_words(value: str | None) -> list[str]:
    """The words of one part of a name as people write it: accents off, casefolded, apostrophes and
    periods joined ("O'Brien" and "OBrien" -> "obrien"), hyphens and spaces apart, a trailing suffix
    dropped ("Smith Jr." -> "smith")."""
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    words = fold(_NAME_JOINERS.sub("", text)).split()
    while len(words) > 1 and words[-1] in NAME_SUFFIXES:
        words.pop()
    return words


def _part_variants(value: str | None) -> set[str]:
    """Every way one part of a name is written by its owner: whole (in any order), run together
    ("O Brien" -> "obrien"), or one of its words alone ("Ramírez Gómez" -> "ramirez", "gomez")."""
    words = name_words(value)
    if not words:
        return set()
    out = {" ".join(sorted(words)), "".join(words)}
    out.update(w for w in words if len(w) > 1 and w not in _NAME_PARTICLES)
    return out


def name_variants(first: str | None, last: str | None) -> set[str]:
    """Every form of a person's name that still names them: a given name and a surname, each whole or
    one of its words, apostrophes, accents and suffixes forgiven. A record and a request name the same
    person when their sets meet; both halves must meet, so a shared surname alone never does."""
    givens, surnames = _part_variants(first), _part_variants(last)
    return {f"{g}|{s}" for g in givens for s in surnames}


def signature_matches(signature: str | None, first: str | None, last: str | None) -> bool:
    """A typed signature names the person above as loosely as matching does: "Siobhan O'Brien" signs
    for "Siobhan" "OBrien", "María Ramírez" for "María Elena" "Ramírez Gómez". It needs a given name
    and a surname of theirs, and no word of someone else's."""
    words = name_words(signature)
    givens, surnames = name_words(first), name_words(last)
    if not words or not givens or not surnames:
        return False
    if "".join(words) == "".join(givens + surnames):
        return True
    given_forms, surname_forms = _part_variants(first), _part_variants(last)
    for cut in range(1, len(words)):
        head, tail = words[:cut], words[cut:]
        if (" ".join(sorted(head)) in given_forms or "".join(head) in given_forms) and \
                (" ".join(sorted(tail)) in surname_forms or "".join(tail) in surname_forms):
            return True
    return False


def phone(value: str | None, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """A phone number in E.164 ("+19096988120"), read as a US number unless it says otherwise."""
    if not value or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def iso_date(value: str | date | None) -> str | None:
    """A date as YYYY-MM-DD, from a date or from YYYY-MM-DD, MM/DD/YYYY or MM-DD-YYYY text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    text = value.strip()
    if len(text) == 10 and text[4] == "-":
        try:
            return date.fromisoformat(text).isoformat()  # the common case, without strptime's cost
        except ValueError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def claim_number(value: str | None) -> str | None:
    """A claim or account number without spaces, dashes or dots, in capitals ("wc-2024 0017" -> "WC20240017")."""
    text = _CLAIM_NOISE.sub("", (value or "").strip()).upper()
    return text or None


def employer(value: str | None) -> str | None:
    """An employer's name folded, without the legal-form words ("Acme Roofing, Inc." -> "acme roofing")."""
    words = [w for w in fold(value).split() if w not in _COMPANY_SUFFIXES]
    return " ".join(words) or None


def postal_code(value: str | None) -> str | None:
    """A US ZIP code: its first five digits ("92373-1234" -> "92373"); None when it is not one."""
    digits = re.sub(r"[\s\-]", "", value or "")
    if not re.fullmatch(r"\d{5}(\d{4})?", digits):
        return None
    return digits[:5]
