"""The transaction rule, read from the code: a service that commits owns its transaction, so it is
`@atomic` (what it wrote is rolled back when it raises, and a read-only view's read ends first).

A function commits when it calls `.commit()`, or calls a private function of its module that does
without being `@atomic` itself. Private helpers are judged through the public services that call them; the few services that must
commit on their own terms are listed below with the reason."""
import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "portal" / "services"

# "module:function" -> why it commits without @atomic.
OWN_TERMS = {
    "delivery/outbox:claim_one": "an outbox claim commits at once, so other deliverers see it before the slow send",
    "delivery/outbox:record_success": "a delivery's outcome is recorded after the send, outside any claim transaction",
    "delivery/outbox:record_failure": "a failed send is recorded on its own; it must not roll back with the caller",
    "delivery/worker:job_lock": "a job's lock is held on a connection of its own across the job's transactions",
    "records/retention:purge": "the purge commits batch by batch, so it never holds the write lock for long",
    "records/retention:run_daily": "claims the day's run first (one worker wins), then purges in batches",
    "consent/statistics:export_csv": "a streamed export: its audit event commits before the first row is sent",
    "documents/store:reencrypt_all": "key rotation re-encrypts in batches, each committed, resumable after a stop",
    "cases/notices:reencrypt_secrets": "key rotation re-encrypts webhook secrets in batches, each committed",
    "staff/digest:send_daily_digests": "one transaction per recipient: a second worker's duplicate fails alone",
    "fulfilment/runs:run_due": "like an outbox pass: each claim commits at once, and each run's outcome commits "
                               "with the claim's end, after the business's own transaction",
    "fulfilment/connectors/sql:transaction": "a connector's one transaction on the business's own database, not "
                                             "the portal's: committed only after the post-check proves the write",
}


def _is_atomic(node: ast.FunctionDef) -> bool:
    return any((isinstance(d, ast.Name) and d.id == "atomic") or (isinstance(d, ast.Attribute) and d.attr == "atomic")
               for d in node.decorator_list)


def _calls(node: ast.FunctionDef) -> tuple[bool, set[str]]:
    commits, names = False, set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Attribute) and call.func.attr == "commit":
                commits = True
            elif isinstance(call.func, ast.Name):
                names.add(call.func.id)
    return commits, names


def committing_services() -> dict[str, bool]:
    """'package/module:function' of every public service that commits -> whether it is @atomic."""
    found = {}
    for path in sorted(SERVICES.rglob("*.py")):
        functions = {n.name: n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
        calls = {name: _calls(node) for name, node in functions.items()}
        commits = {name for name, (direct, _) in calls.items() if direct}
        while True:  # a function that calls a committing private helper (not atomic itself) commits too
            more = {name for name, (_, called) in calls.items() if name not in commits and any(
                c in commits and c.startswith("_") and not _is_atomic(functions[c]) for c in called)}
            if not more:
                break
            commits |= more
        module = path.relative_to(SERVICES).with_suffix("").as_posix()
        for name in commits:
            if not name.startswith("_"):
                found[f"{module}:{name}"] = _is_atomic(functions[name])
    return found


def test_every_service_that_commits_is_atomic_or_says_why_not():
    services = committing_services()
    outside = sorted(name for name, atomic in services.items() if not atomic and name not in OWN_TERMS)
    assert not outside, "services that commit without @atomic (decorate them, or add them to OWN_TERMS with the reason):\n" \
        + "\n".join(outside)


def test_the_exceptions_still_exist_and_still_need_to_be_exceptions():
    services = committing_services()
    stale = sorted(name for name in OWN_TERMS if name not in services or services[name])
    assert not stale, f"OWN_TERMS names services that no longer commit on their own terms: {stale}"


def test_the_reader_finds_what_it_looks_for():
    """The rule would pass vacuously if the reader found nothing: it sees the known cases both ways."""
    services = committing_services()
    assert services["cases/outcomes:complete"] is True
    assert services["delivery/outbox:claim_one"] is False
    assert len(services) > 60
