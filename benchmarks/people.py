"""Generated people for the identity-index benchmarks: records the way the business holds them, and
requests the way people really type them. Deterministic for a given seed."""
import random
from datetime import date, timedelta

FIRST = ["José", "María", "Ana", "Luis", "Zoë", "Wei", "Aisha", "John", "Renée", "Nguyễn", "Sofía", "Ángel",
         "Jean-Luc", "Mary Ann", "Björn", "Chloé", "Ramón", "Lucía", "Dmitri", "Fatima", "Inés", "Óscar",
         "María Elena", "José Luis", "Siobhan", "Ana Sofía"]
LAST = ["García", "López", "Martínez", "Hernández", "Nguyen", "O'Neil", "Smith", "Kowalski", "Müller", "Pérez",
        "Ruiz", "Núñez", "Chávez", "Lee", "Ibáñez", "Kim", "Johnson", "Rodríguez", "Fernández", "Gómez",
        "O'Brien", "D'Angelo", "de la Cruz"]
SUFFIXES = ["Jr.", "Sr.", "III"]
EMPLOYERS = ["Acme Roofing, Inc.", "Sunrise Packing LLC", "Golden State Logistics", "Inland Empire Builders Corp.",
             "Pacific Care Home", "Valley Farms Co.", "Bay Area Transit", "Desert Sun Hotels", "Coastal Dairy"]
AREA_CODES = ["909", "951", "213", "310", "415", "619", "714", "818", "916", "559", "760", "626"]
EXCHANGES = [e for e in range(201, 990) if e % 100 != 11 and e != 555]
ZIPS = ["92373", "92501", "90012", "94103", "95814", "93721", "92101", "91710", "92335", "90210"]


def strip_accents(text: str) -> str:
    import unicodedata
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def person(rng: random.Random, i: int) -> dict:
    two = rng.random() < 0.35
    last = rng.choice(LAST) + (("-" if rng.random() < 0.5 else " ") + rng.choice(LAST) if two else "")
    if rng.random() < 0.06:
        last += " " + rng.choice(SUFFIXES)
    dob = date(1945, 1, 1) + timedelta(days=rng.randrange(365 * 60))
    injury = date(2018, 1, 1) + timedelta(days=rng.randrange(365 * 8))
    return {
        "subject_id": f"S{i:08d}",
        "email": f"person{i}@example.org",
        "phone": f"({rng.choice(AREA_CODES)}) {rng.choice(EXCHANGES)}-{rng.randint(0, 9999):04d}",
        "first_name": rng.choice(FIRST), "last_name": last, "date_of_birth": dob.isoformat(),
        "claim_number": f"WC-{injury.year}-{i:07d}", "date_of_injury": injury.isoformat(),
        "employer": rng.choice(EMPLOYERS), "postal_code": rng.choice(ZIPS),
    }


COLUMNS = ["subject_id", "email", "phone", "first_name", "last_name", "date_of_birth", "claim_number",
           "date_of_injury", "employer", "postal_code"]


def csv_line(p: dict) -> str:
    return ",".join('"' + p[c].replace('"', '""') + '"' for c in COLUMNS) + "\n"


def phone_as_typed(rng: random.Random, phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return rng.choice([f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"{a}{b}{c}", f"+1 {a} {b} {c}",
                       f"1-{a}-{b}-{c}", f"{a} {b} {c}"])


def name_as_typed(rng: random.Random, first: str, last: str) -> tuple[str, str]:
    """A name the way its owner types it: the suffix sometimes dropped, two surnames in either order or
    only one of them, one of two given names, the apostrophe left out, accents and case anyhow."""
    words = last.split()
    if words[-1] in SUFFIXES and rng.random() < 0.6:
        last = " ".join(words[:-1])  # "Smith" for "Smith Jr."
    parts = last.replace("-", " ").split()
    if len(parts) == 2 and parts[1] not in SUFFIXES:
        last = rng.choice([" ".join(parts), "-".join(parts), " ".join(reversed(parts)), parts[0], parts[0],
                           parts[1]])  # "Ramirez" for "Ramírez Gómez"
    if "'" in last and rng.random() < 0.5:
        last = last.replace("'", rng.choice(["", "", "’", " "]))  # "OBrien", "O’Brien", "O Brien"
    given = first.replace("-", " ").split()
    if len(given) == 2 and rng.random() < 0.5:
        first = rng.choice(given[:1] * 3 + given[1:])  # "Maria" for "María Elena"
    if rng.random() < 0.5:
        first, last = strip_accents(first), strip_accents(last)
    if rng.random() < 0.3:
        first, last = first.lower(), last.upper()
    return first, last


def genuine_request(rng: random.Random, p: dict) -> dict:
    """What the real person types: not everything, in their own formats, sometimes an old email."""
    first, last = name_as_typed(rng, p["first_name"], p["last_name"])
    out = {"first_name": first, "last_name": last,
           "email": p["email"] if rng.random() < 0.6 else f"old.{p['subject_id'].lower()}@mail.example"}
    if rng.random() < 0.8:
        out["phone"] = phone_as_typed(rng, p["phone"])
    if rng.random() < 0.85:
        out["date_of_birth"] = date.fromisoformat(p["date_of_birth"])
    if rng.random() < 0.6:
        claim = p["claim_number"]
        out["claim_number"] = rng.choice([claim, claim.replace("-", ""), claim.replace("-", " "), claim.lower()])
    if rng.random() < 0.5:
        out["employer"] = rng.choice([p["employer"], p["employer"].upper().replace(",", "").replace(".", "")])
    if rng.random() < 0.6:
        out["postal_code"] = p["postal_code"]
    if rng.random() < 0.4:
        out["date_of_injury"] = date.fromisoformat(p["date_of_injury"])
    return out


def impostor_request(rng: random.Random, p: dict, i: int) -> dict:
    """Someone who knows some of the person's facts (name, employer, ZIP, sometimes the injury date)
    but not their phone, date of birth, claim number or mailbox: they give their own."""
    first, last = name_as_typed(rng, p["first_name"], p["last_name"])
    out = {"first_name": first, "last_name": last, "email": f"impostor{i}@mail.example",
           "employer": p["employer"], "postal_code": p["postal_code"],
           "phone": f"(213) 555-{rng.randint(0, 9999):04d}"}
    if rng.random() < 0.5:
        out["date_of_injury"] = date.fromisoformat(p["date_of_injury"])
    if rng.random() < 0.5:
        out["date_of_birth"] = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 50))  # a guess
    return out
