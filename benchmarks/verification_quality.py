"""How well automatic verification separates real requesters from impostors. Generates a population
of records, genuine requests typed the way people type (accents dropped or kept, two-part and
hyphenated surnames in either order or only one of two, one of two given names, "OBrien" for
"O'Brien", a dropped suffix ("Smith" for "Smith Jr."), phone numbers in every common format, claim numbers with or
without dashes, sometimes an old email) and impostors who know some facts of a person (name,
employer, ZIP code, sometimes the injury date; they guess the birth date and use their own phone
and mailbox). Runs the real service (a case per request, email proven, matched as on confirmation)
and prints the share of each verified automatically. Goal: genuine >= 95 %, impostors exactly 0.

    .venv/bin/python benchmarks/verification_quality.py [--people 3000] [--requests 1000]
"""
import argparse
import io
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from people import COLUMNS, SUFFIXES, csv_line, genuine_request, impostor_request, person  # noqa: E402

from portal import clock, create_app, db  # noqa: E402
from portal.services.cases import (
    submission,  # noqa: E402
    verification,  # noqa: E402
)
from portal.services.cases.submission import NewRequest  # noqa: E402
from portal.services.cases.transitions import transition  # noqa: E402
from portal.services.identity import subjects, tiers


def run(session, values: dict, request_type: str, scope: str | None) -> str:
    signed = tiers.declaration_required(request_type, scope)
    new = NewRequest(request_type=request_type, access_scope=scope,
                     correction_current="x" if request_type == "correct" else None,
                     correction_details="y" if request_type == "correct" else None,
                     declaration_signature=f"{values['first_name']} {values['last_name']}" if signed else None,
                     **values)
    req = submission.submit(session, new=new).request
    req.email_confirmed_at = clock.now()
    transition(session, req, "verifying", actor="requester", action="email_confirmed")
    outcome = verification.match_identity(session, req).outcome
    session.commit()
    return outcome


def ways_typed(p: dict, typed: dict) -> list[str]:
    """How the typed name differs from the record's, in the ways the matching forgives."""
    record_last = p["last_name"].split()
    suffix = record_last[-1] in SUFFIXES
    surnames = (record_last[:-1] if suffix else record_last)
    ways = []
    if suffix and record_last[-1] not in typed["last_name"]:
        ways.append("suffix dropped")
    if len(" ".join(surnames).replace("-", " ").split()) == 2 and len(typed["last_name"].replace("-", " ").split()) == 1:
        ways.append("one of two surnames")
    if len(p["first_name"].replace("-", " ").split()) == 2 and len(typed["first_name"].split()) == 1:
        ways.append("one of two given names")
    if "'" in p["last_name"] and not any(a in typed["last_name"] for a in "'’"):
        ways.append("apostrophe left out")
    return ways or ["as recorded"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=1000, help="genuine requests, and as many impostors")
    parser.add_argument("--whole-names-only", action="store_true",
                        help="match the whole name only (no name keys): the figures before names were forgiven")
    args = parser.parse_args()
    if args.whole_names_only:
        verification.request_name_forms = lambda session, req: frozenset()
    tmp = Path(tempfile.mkdtemp(prefix="quality-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    db.upgrade(url)
    # The fraud thresholds stay at their defaults: impostors who fail are also counted as not verified.
    app = create_app({"INSTANCE_PATH": str(tmp), "DATABASE_URL": url, "MAIL_BACKGROUND_DELIVERY": False})
    rng = random.Random(2026)
    population = [person(rng, i) for i in range(args.people)]
    data = (",".join(COLUMNS) + "\n" + "".join(csv_line(p) for p in population)).encode()
    with app.app_context():
        session = db.session()
        summary = subjects.import_csv(session, stream=io.BytesIO(data))
        print(f"{summary.rows_imported} people in the index")
        tiers = [("access", "categories"), ("access", "specific"), ("delete", None)]
        genuine: dict[str, Counter] = {}
        impostor: dict[str, Counter] = {}
        chosen = rng.sample(population, min(args.requests, len(population)))
        by_way: dict[str, Counter] = {}
        for n, p in enumerate(chosen):
            request_type, scope = tiers[n % len(tiers)]
            label = f"{request_type}/{scope}" if scope else request_type
            values = genuine_request(rng, p)
            outcome = run(session, values, request_type, scope)
            genuine.setdefault(label, Counter())[outcome] += 1
            for way in ways_typed(p, values):
                by_way.setdefault(way, Counter())[outcome] += 1
        for n, p in enumerate(rng.sample(population, min(args.requests, len(population)))):
            request_type, scope = tiers[n % len(tiers)]
            label = f"{request_type}/{scope}" if scope else request_type
            impostor.setdefault(label, Counter())[run(session, impostor_request(rng, p, n), request_type, scope)] += 1

    def report(name, table, ok=("verified",)):
        total = sum(sum(c.values()) for c in table.values())
        good = sum(c[o] for c in table.values() for o in ok)
        print(f"{name}: {good}/{total} verified automatically ({100 * good / total:.1f} %)")
        for label, c in table.items():
            n = sum(c.values())
            print(f"  {label:<24} " + ", ".join(f"{k} {v} ({100 * v / n:.1f} %)" for k, v in c.most_common()))
        return good, total

    g, gt = report("genuine requesters", genuine, ok=("verified", "downgraded"))
    report("genuine requesters, by how the name was typed", by_way, ok=("verified", "downgraded"))
    i, it = report("impostors", impostor, ok=("verified", "downgraded"))
    print(f"RESULT genuine {100 * g / gt:.1f} % (goal >= 95 %), impostors {i} verified (goal exactly 0)")


if __name__ == "__main__":
    main()
