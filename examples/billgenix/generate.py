"""The Billgenix example: the business's own systems as databases, the same at any size.

Four systems (claims and billing, the marketing list, support tickets, web analytics) filled with
realistic but plainly fictitious people (example.com addresses, 555 telephone numbers), who share
ZIP codes and employers on purpose; and `subjects.csv`, the same claimants in the columns of
`flask --app portal subjects import`. Deterministic for a seed.

    python examples/billgenix/generate.py --instance instance
        what `make run` does: builds instance/example/ (unless it exists) and copies the map to
        instance/datamap/ (unless that exists); relative SQLite paths in the map are read from there
    python examples/billgenix/generate.py --out DIR [--map-out DIR] [--claimants N] [--seed S]
                                          [--database-url URL]
        a copy of any size, e.g. 1,000,000 claimants for the benchmarks; --database-url puts every
        system's tables in that one database (PostgreSQL or MariaDB, say) instead of SQLite files in DIR;
        --map-out writes the map with its connections pointing at what was built
"""
import argparse
import csv
import random
import re
import shutil
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateTable

HERE = Path(__file__).resolve().parent
MAP_FOLDER = HERE / "datamap"
SYSTEMS = ("claims", "marketing", "support", "web")
BATCH = 5000
SUBJECT_COLUMNS = ("subject_id", "email", "phone", "first_name", "last_name", "date_of_birth", "claim_number",
                   "date_of_injury", "employer", "postal_code")

FIRST = ["Maria", "José", "Ana", "Luis", "Sofía", "Miguel", "Guadalupe", "Juan", "Rosa", "Carlos", "Wei", "Linh",
         "Mei", "Thanh", "Priya", "Ravi", "Aaliyah", "Jamal", "Emily", "Michael", "Sarah", "David", "Jennifer",
         "Robert", "Fatima", "Omar", "Grace", "Daniel", "Leticia", "Ramón", "Hyun-woo", "Ji-yeon"]
LAST = ["García", "Hernández", "López", "Martínez", "González", "Rodríguez", "Pérez", "Sánchez", "Ramírez",
        "Nguyen", "Tran", "Kim", "Lee", "Chen", "Wong", "Patel", "Singh", "Johnson", "Williams", "Brown", "Jones",
        "Davis", "Miller", "Wilson", "Ortiz", "Flores", "Reyes", "Cruz"]
# Places deliberately few, so different people share a ZIP code (the next issue checks that a
# person's access package does not pull in a neighbour).
PLACES = [("Redlands", "92373"), ("Riverside", "92501"), ("San Bernardino", "92408"), ("Ontario", "91761"),
          ("Fontana", "92335"), ("Los Angeles", "90012"), ("Pomona", "91766"), ("Colton", "92324")]
STREETS = ["Orange St", "Citrus Ave", "Brookside Ave", "Cajon St", "Palm Ave", "Mission Blvd", "Foothill Blvd",
           "Baseline Rd", "Highland Ave", "Pepper Ave"]
# Fictitious employers, also deliberately few: coworkers share one.
EMPLOYERS = ["Inland Citrus Packing Co.", "Arrowhead Freight Lines", "Sunbelt Roofing, Inc.",
             "Redlands Community Care Home", "Foothill Warehouse Services", "Golden Valley Dairy",
             "Mission Grove Landscaping", "Cajon Pass Logistics"]
JOBS = ["Warehouse associate", "Forklift operator", "Roofer", "Certified nursing assistant", "Truck driver",
        "Packing line worker", "Landscaper", "Dairy hand", "Office assistant", "Maintenance technician"]
AREA_CODES = ["909", "951", "213", "626", "714"]
BODY_PARTS = ["lower back", "right knee", "left shoulder", "right wrist", "neck", "left ankle", "right hand"]
INJURIES = ["strain lifting boxes", "fall from ladder", "repetitive motion injury", "slip on wet floor",
            "struck by falling object", "vehicle collision on the job"]
PROVIDERS = ["Arrowhead Orthopedic Group", "Inland Physical Therapy", "Loma Vista Imaging Center",
             "Redlands Occupational Clinic", "Valley Pain Management"]
PROCEDURES = ["99203", "99213", "97110", "97140", "72148", "73721", "20610"]
DIAGNOSES = ["M54.50", "S83.511A", "S43.401A", "M75.101", "S63.501A", "M54.2", "S93.401A"]
PAYERS = ["Golden State Comp Insurance (fictitious)", "Pacific Mutual Workers Comp (fictitious)",
          "State Compensation Fund (example)"]
CAMPAIGNS = ["spring-newsletter", "billing-webinar", "lien-update", "provider-portal-launch"]
SOURCES = ["website", "webinar", "trade show"]
PAGES = ["/", "/pricing", "/providers", "/lien-claimants", "/contact", "/blog/8-ccr-10102", "/login"]
REFERRERS = ["", "https://www.example.com/search", "https://news.example.org/", ""]
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4)"]
SUBJECTS = ["Where is my bill?", "Question about a payment", "Update my address", "Unsubscribe me",
            "Who paid my provider?"]
START = datetime(2023, 1, 1, 8, 0)


def tables(metadata: MetaData) -> dict[str, list[Table]]:
    """Every system's tables (their names are distinct, so one database can hold them all)."""
    claims = [
        Table("claimants", metadata, Column("id", Integer, primary_key=True), Column("subject_id", String(20), nullable=False),
              Column("first_name", String(60)), Column("last_name", String(60)), Column("date_of_birth", Date),
              Column("email", String(120)), Column("phone", String(20)), Column("street", String(120)),
              Column("city", String(60)), Column("zip", String(10)), Column("employer", String(120)),
              Column("job_title", String(60)), Column("created_at", DateTime),
              Index("ix_claimants_subject_id", "subject_id", unique=True)),
        Table("claims", metadata, Column("id", Integer, primary_key=True),
              Column("claimant_id", Integer, ForeignKey("claimants.id"), nullable=False),
              Column("claim_number", String(20), nullable=False), Column("date_of_injury", Date),
              Column("body_part", String(40)), Column("injury_description", String(120)),
              Column("employer", String(120)), Column("status", String(12)), Column("opened_on", Date),
              Index("ix_claims_claimant_id", "claimant_id")),
        Table("bills", metadata, Column("id", Integer, primary_key=True),
              Column("claim_id", Integer, ForeignKey("claims.id"), nullable=False),
              Column("provider_name", String(120)), Column("service_date", Date), Column("procedure_code", String(10)),
              Column("diagnosis_code", String(10)), Column("amount_billed_cents", Integer), Column("status", String(12)),
              Index("ix_bills_claim_id", "claim_id")),
        Table("payments", metadata, Column("id", Integer, primary_key=True),
              Column("bill_id", Integer, ForeignKey("bills.id"), nullable=False), Column("paid_on", Date),
              Column("amount_paid_cents", Integer), Column("check_number", String(20)), Column("payer", String(120)),
              Index("ix_payments_bill_id", "bill_id")),
    ]
    marketing = [
        Table("subscribers", metadata, Column("email", String(120), primary_key=True), Column("first_name", String(60)),
              Column("last_name", String(60)), Column("zip", String(10)), Column("source", String(20)),
              Column("subscribed_at", DateTime)),
        Table("campaign_clicks", metadata, Column("id", Integer, primary_key=True),
              Column("email", String(120), ForeignKey("subscribers.email"), nullable=False),
              Column("campaign", String(40)), Column("clicked_at", DateTime),
              Index("ix_campaign_clicks_email", "email")),
    ]
    support = [
        Table("tickets", metadata, Column("id", Integer, primary_key=True), Column("email", String(120)),
              Column("name", String(120)), Column("subject", String(120)), Column("body", Text),
              Column("status", String(12)), Column("opened_at", DateTime), Index("ix_tickets_email", "email")),
    ]
    web = [
        Table("visitors", metadata, Column("cookie_id", String(36), primary_key=True), Column("email", String(120)),
              Column("first_seen", DateTime), Index("ix_visitors_email", "email")),
        Table("page_views", metadata, Column("id", Integer, primary_key=True),
              Column("cookie_id", String(36), ForeignKey("visitors.cookie_id"), nullable=False),
              Column("email", String(120)), Column("url", String(200)), Column("referrer", String(200)),
              Column("ip_address", String(45)), Column("user_agent", String(200)), Column("viewed_at", DateTime),
              Index("ix_page_views_cookie_id", "cookie_id"), Index("ix_page_views_email", "email")),
    ]
    return {"claims": claims, "marketing": marketing, "support": support, "web": web}


def _ascii(text: str) -> str:
    import unicodedata
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]+", "", folded.lower())


def make_person(rng: random.Random, number: int) -> dict:
    """One fictitious person: name, birth date, example.com email, 555 phone, a shared ZIP and employer."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, zip_code = rng.choice(PLACES)
    return {"first_name": first, "last_name": last,
            "email": f"{_ascii(first)}.{_ascii(last)}.{number}@example.com",
            "phone": f"({rng.choice(AREA_CODES)}) 555-{number % 10000:04d}",
            "date_of_birth": (date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 54))).isoformat(),
            "street": f"{rng.randint(100, 9999)} {rng.choice(STREETS)}", "city": city, "zip": zip_code,
            "employer": rng.choice(EMPLOYERS), "job_title": rng.choice(JOBS)}


def _moment(moment: datetime) -> str:
    """A time as SQLAlchemy writes it to SQLite (PostgreSQL reads the same text)."""
    return moment.isoformat(sep=" ")


class _Writer:
    """Batched inserts into one system's database, by executemany on the driver."""

    def __init__(self, engine, system_tables: list[Table]):
        self.engine = engine
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self.sql = {t.name: f"INSERT INTO {t.name} ({', '.join(c.name for c in t.columns)}) "
                            f"VALUES ({', '.join(mark for _c in t.columns)})" for t in system_tables}
        self.rows: dict[str, list[tuple]] = {t.name: [] for t in system_tables}
        self.counts: dict[str, int] = {t.name: 0 for t in system_tables}
        self.connection = engine.connect()
        if engine.dialect.name == "sqlite":
            self.connection.exec_driver_sql("PRAGMA synchronous=OFF")
            self.connection.commit()

    def add(self, table: str, *values) -> None:
        self.rows[table].append(values)
        if len(self.rows[table]) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Every table's pending rows, parents first (the tables are listed that way)."""
        for table, rows in self.rows.items():
            if rows:
                self.connection.exec_driver_sql(self.sql[table], rows)
                self.counts[table] += len(rows)
                self.rows[table] = []

    def close(self) -> None:
        self.flush()
        self.connection.commit()
        self.connection.close()


def _engines(out: Path, database_url: str | None) -> dict:
    """One engine per system: SQLite files in `out`, or the one database at `database_url`."""
    if database_url:
        engine = create_engine(database_url)
        return {system: engine for system in SYSTEMS}
    out.mkdir(parents=True, exist_ok=True)
    engines = {}
    for system in SYSTEMS:
        path = out / f"{system}.db"
        path.unlink(missing_ok=True)
        engines[system] = create_engine(f"sqlite:///{path}")
    return engines


def build(out: Path, *, claimants: int, seed: int = 31, database_url: str | None = None) -> dict[str, int]:
    """Build the four systems and `out/subjects.csv`; the row count of every table."""
    metadata = MetaData()
    by_system = tables(metadata)
    engines = _engines(out, database_url)
    if database_url:
        metadata.drop_all(engines["claims"])
    for system, system_tables in by_system.items():
        with engines[system].begin() as connection:
            for system_table in system_tables:  # the indexes come after the rows: faster
                connection.execute(CreateTable(system_table))
    writers = {system: _Writer(engines[system], by_system[system]) for system in SYSTEMS}
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with open(out / "subjects.csv", "w", newline="", encoding="utf-8") as subjects_file:
        subjects = csv.writer(subjects_file)
        subjects.writerow(SUBJECT_COLUMNS)
        _fill(rng, writers, subjects, claimants)
    counts = {}
    for system, writer in writers.items():
        writer.close()
        counts.update(writer.counts)
        for system_table in by_system[system]:
            for index in system_table.indexes:
                index.create(engines[system])
    for engine in set(engines.values()):
        engine.dispose()
    return counts


def _fill(rng: random.Random, writers: dict, subjects, claimants: int) -> None:
    """The people: claimants with their claims, bills and payments; subscribers, tickets and visitors,
    some of them claimants (the same email), some not."""
    claims_db, marketing, support, web = (writers[s] for s in SYSTEMS)
    ids = {"claim": 0, "bill": 0, "payment": 0, "click": 0, "ticket": 0, "view": 0}
    extra_people = max(1, claimants // 5)
    for number in range(1, claimants + extra_people + 1):
        person = make_person(rng, number)
        joined = START + timedelta(minutes=rng.randrange(60 * 24 * 900))
        if number <= claimants:
            first_claim = _claimant(rng, claims_db, ids, number, person, joined)
            subjects.writerow((f"BGX-{number:07d}", person["email"], person["phone"], person["first_name"],
                               person["last_name"], person["date_of_birth"], *first_claim, person["employer"],
                               person["zip"]))
        if rng.random() < 0.5:
            marketing.add("subscribers", person["email"], person["first_name"], person["last_name"], person["zip"],
                          rng.choice(SOURCES), _moment(joined))
            for _click in range(rng.randrange(3)):
                ids["click"] += 1
                marketing.add("campaign_clicks", ids["click"], person["email"], rng.choice(CAMPAIGNS),
                              _moment(joined + timedelta(days=rng.randrange(1, 300))))
        if rng.random() < 0.1:
            ids["ticket"] += 1
            support.add("tickets", ids["ticket"], person["email"], f"{person['first_name']} {person['last_name']}",
                        rng.choice(SUBJECTS), "Hello, I have a question about my account. Thank you.",
                        rng.choice(["open", "closed"]), _moment(joined + timedelta(days=rng.randrange(1, 200))))
        if rng.random() < 0.6:
            _visitor(rng, web, ids, person["email"] if rng.random() < 0.5 else None, joined)


def _claimant(rng: random.Random, writer: _Writer, ids: dict, number: int, person: dict,
              joined: datetime) -> tuple[str, str]:
    """A claimant's row, claims, bills and payments; the first claim's number and injury date."""
    p = person
    writer.add("claimants", number, f"BGX-{number:07d}", p["first_name"], p["last_name"], p["date_of_birth"],
               p["email"], p["phone"], p["street"], p["city"], p["zip"], p["employer"], p["job_title"], _moment(joined))
    first = None
    for _claim in range(1 + (rng.random() < 0.3) + (rng.random() < 0.05)):
        ids["claim"] += 1
        injury = (joined - timedelta(days=rng.randrange(1, 60))).date()
        claim_number = f"WC-{injury.year}-{ids['claim']:07d}"
        first = first or (claim_number, injury.isoformat())
        writer.add("claims", ids["claim"], number, claim_number, injury.isoformat(), rng.choice(BODY_PARTS),
                   rng.choice(INJURIES), p["employer"], rng.choice(["open", "closed"]), joined.date().isoformat())
        for _bill in range(rng.randint(1, 3)):
            ids["bill"] += 1
            service = injury + timedelta(days=rng.randrange(1, 120))
            amount = rng.randrange(8_000, 250_000)
            writer.add("bills", ids["bill"], ids["claim"], rng.choice(PROVIDERS), service.isoformat(),
                       rng.choice(PROCEDURES), rng.choice(DIAGNOSES), amount, rng.choice(["submitted", "paid", "denied"]))
            if rng.random() < 0.7:
                ids["payment"] += 1
                paid = service + timedelta(days=rng.randrange(20, 90))
                writer.add("payments", ids["payment"], ids["bill"], paid.isoformat(),
                           amount * rng.randint(60, 100) // 100, f"{rng.randrange(10**8):08d}", rng.choice(PAYERS))
    return first


def _visitor(rng: random.Random, writer: _Writer, ids: dict, email: str | None, joined: datetime) -> None:
    """A website visitor (signed in or anonymous) and their page views."""
    cookie = f"{rng.getrandbits(128):032x}"
    writer.add("visitors", cookie, email, _moment(joined))
    for _view in range(rng.randint(1, 4)):
        ids["view"] += 1
        writer.add("page_views", ids["view"], cookie, email, rng.choice(PAGES), rng.choice(REFERRERS),
                   f"198.51.100.{rng.randrange(1, 255)}", rng.choice(AGENTS),
                   _moment(joined + timedelta(minutes=rng.randrange(60 * 24 * 30))))


def write_map(target: Path, *, databases: Path | None = None, database_url: str | None = None) -> None:
    """Copy the example's map to `target`; with `databases` or `database_url`, its connections point
    there instead of at the instance folder's example/."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sorted(MAP_FOLDER.glob("*.yml")):
        text = source.read_text(encoding="utf-8")
        if databases is not None or database_url:
            text = re.sub(r"^(\s*(write_)?connection: )(\S+)$",
                          lambda m: m.group(1) + _connection(m.group(3), bool(m.group(2)), databases, database_url),
                          text, flags=re.MULTILINE)
        (target / source.name).write_text(text, encoding="utf-8")


def _connection(original: str, writes: bool, databases: Path | None, database_url: str | None) -> str:
    """A connection of the shipped map moved to the built databases (read-only unless `writes`)."""
    if database_url:
        url = make_url(database_url)
        if not writes and url.get_backend_name() == "postgresql":
            url = url.update_query_dict({"options": "-c default_transaction_read_only=on"})
        elif not writes and url.get_backend_name() in ("mysql", "mariadb"):
            url = url.update_query_dict({"init_command": "SET SESSION TRANSACTION READ ONLY"})
        return url.render_as_string(hide_password=False)
    name = re.search(r"example/(\w+)\.db", original).group(1)
    path = (databases / f"{name}.db").resolve()
    return f"sqlite:///{path}" if writes else f"sqlite:///file:{path}?mode=ro&uri=true"


def install(instance: Path, *, claimants: int, seed: int) -> list[str]:
    """What `make run` does: the databases in <instance>/example/ and the map in <instance>/datamap/,
    each only when absent. Says what it did."""
    done = []
    example = instance / "example"
    if not example.exists():
        building = instance / "example.building"
        shutil.rmtree(building, ignore_errors=True)
        build(building, claimants=claimants, seed=seed)
        building.rename(example)
        done.append(f"built the Billgenix example systems in {example} ({claimants} claimants)")
    if not (instance / "datamap").exists():
        write_map(instance / "datamap")
        done.append(f"copied the example's data map to {instance / 'datamap'}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--instance", type=Path, help="install beside the portal (make run)")
    where.add_argument("--out", type=Path, help="build into this folder (SQLite files and subjects.csv)")
    parser.add_argument("--map-out", type=Path, help="with --out: write the map there, connected to what was built")
    parser.add_argument("--claimants", type=int, default=40)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--database-url", help="with --out: one database (e.g. PostgreSQL) for every system")
    args = parser.parse_args(argv)
    if args.instance:
        for line in install(args.instance, claimants=args.claimants, seed=args.seed):
            print(line)
        return 0
    started = time.perf_counter()
    counts = build(args.out, claimants=args.claimants, seed=args.seed, database_url=args.database_url)
    print(", ".join(f"{table} {count}" for table, count in counts.items())
          + f" rows in {time.perf_counter() - started:.1f} s; subjects.csv in {args.out}")
    if args.map_out:
        write_map(args.map_out, databases=None if args.database_url else args.out, database_url=args.database_url)
        print(f"the map, connected to them, in {args.map_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
