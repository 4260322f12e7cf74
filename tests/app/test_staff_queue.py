"""The queue through the test client: order, marks, filters, search, htmx rows, keyset pages, counts, indexes."""
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from portal import clock, db
from portal.lifecycle import local_date
from portal.services.cases import submission, transitions

from ..support import make_staff, new_case, sign_in


@pytest.fixture(autouse=True)
def ordinary_wednesday(time_machine):
    """The order and the marks below are worked out for a week without holidays: the due dates of
    cases received days apart must not coincide (a holiday can make two opt-outs fall due together)."""
    time_machine.move_to(datetime(2026, 6, 10, 10, 0, tzinfo=clock.PACIFIC))


@pytest.fixture
def viewer(app, client):
    sign_in(client, make_staff(app, "viewer"))
    return client


def _refs(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/staff/requests/(PR-[0-9A-Z-]+)">', html)


def _ago(days):
    return clock.now() - timedelta(days=days)


@pytest.fixture
def cases(app):
    """Five open cases with known due dates, one closed, one extended."""
    made = {
        "overdue": new_case(app, "access", email="o@example.org", last_name="Overdue", received_at=_ago(50)),
        "soon": new_case(app, "delete", "on_hold", email="s@example.org", last_name="Soon", received_at=_ago(40),
                         hold_reason="information_requested"),
        "later": new_case(app, "correct", email="l@example.org", first_name="Lena", last_name="Later", received_at=_ago(1)),
        "optout": new_case(app, "opt_out", "in_progress", email="p@example.org", last_name="Optout"),
        "extended": new_case(app, "access", "in_progress", email="e@example.org", last_name="Extended", received_at=_ago(44)),
        "closed": new_case(app, "limit", "in_progress", email="c@example.org", last_name="Closed", received_at=_ago(3)),
    }
    with app.app_context():
        s = db.session()
        ext = submission.get_by_reference(s, made["extended"].reference)
        submission.extend(s, req=ext, days=30, reason="Archive", actor="system")
        closed = submission.get_by_reference(s, made["closed"].reference)
        transitions.transition(s, closed, "completed", actor="system")
        s.commit()
    return {k: v.reference for k, v in made.items()}


def test_open_cases_by_due_date_with_marks(viewer, cases):
    html = viewer.get("/staff/").get_data(as_text=True)
    # Due: overdue -5 d, soon +5 d, opt-out +~21 d, extended +31 d (was +1), later +44 d; closed hidden.
    assert _refs(html) == [cases[k] for k in ("overdue", "soon", "optout", "extended", "later")]
    row = lambda ref: re.search(r"<tr[^>]*>\s*<th scope=\"row\"><a href=\"/staff/requests/" + ref + r"\".*?</tr>", html, re.S).group(0)  # noqa: E731
    assert 'class="is-overdue"' in row(cases["overdue"]) and "Overdue by 5 days" in row(cases["overdue"])
    assert 'class="is-due-soon"' in row(cases["soon"]) and "Due soon: 5 days" in row(cases["soon"])
    assert "We asked you for more information" in row(cases["soon"])
    assert "extended" in row(cases["extended"]) and "31 days" in row(cases["extended"])
    assert "is-" not in row(cases["later"]).split(">")[0]
    assert "5 cases on this page" in html


def test_counts_per_status_ignore_the_status_filter(viewer, cases):
    """Counts of the open statuses only (an index of the open rows): the closed case is not counted."""
    for status in ("on_hold", "closed", "all"):
        html = viewer.get(f"/staff/?status={status}").get_data(as_text=True)
        counts = dict(re.findall(r'status=(\w+)[^"]*"[^>]*>[^<]+<span class="count">(\d+)</span>', html))
        assert counts == {"verifying": "2", "on_hold": "1", "in_progress": "2"}
    assert _refs(viewer.get("/staff/?status=on_hold").get_data(as_text=True)) == [cases["soon"]]
    html = viewer.get("/staff/?request_type=access").get_data(as_text=True)
    assert dict(re.findall(r'status=(\w+)[^"]*"[^>]*>[^<]+<span class="count">(\d+)</span>', html)) == {
        "verifying": "1", "in_progress": "1"}


@pytest.mark.parametrize("query, expected", [
    ("status=all", ["overdue", "soon", "closed", "optout", "extended", "later"]),
    ("status=closed", ["closed"]),
    ("status=in_progress", ["optout", "extended"]),
    ("request_type=access", ["overdue", "extended"]),
    ("request_type=access&status=verifying", ["overdue"]),
    ("hold_reason=information_requested", ["soon"]),
    ("band=overdue", ["overdue"]),
    ("band=due_soon", ["soon"]),
    ("band=later", ["optout", "extended", "later"]),
    ("manner=web", ["overdue", "soon", "optout", "extended", "later"]),
    ("manner=phone", []),
    ("q=later", ["later"]),
    ("q=LEN", ["later"]),
    ("q=lena+lat", ["later"]),
    ("q=O%40EXAMPLE.ORG", ["overdue"]),
    ("q=nobody", []),
    ("q=%25", []),
    ("status=bogus&request_type=bogus", ["overdue", "soon", "closed", "optout", "extended", "later"]),
])
def test_filters_and_search(viewer, cases, query, expected):
    html = viewer.get(f"/staff/?{query}").get_data(as_text=True)
    assert _refs(html) == [cases[k] for k in expected]
    if not expected:
        assert "No cases match these filters." in html


def test_search_by_reference_in_any_spelling(viewer, cases):
    ref = cases["closed"]
    for typed in (ref, ref.lower(), ref.replace("-", " ").lower()):
        assert _refs(viewer.get("/staff/", query_string={"q": typed, "status": "all"}).get_data(as_text=True)) == [ref]


def test_htmx_gets_only_the_rows_and_the_page_includes_them(viewer, cases):
    full = viewer.get("/staff/?q=later")
    assert full.headers["Vary"] and "HX-Request" in full.headers["Vary"]
    assert "<html" in full.get_data(as_text=True) and 'role="search"' in full.get_data(as_text=True)
    part = viewer.get("/staff/?q=later", headers={"HX-Request": "true"})
    html = part.get_data(as_text=True)
    assert "<html" not in html and 'role="search"' not in html
    assert _refs(html) == [cases["later"]] and 'class="queue"' in html
    # A history restore gets the full page.
    restore = viewer.get("/staff/?q=later", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_the_filter_form_works_without_javascript(viewer, cases):
    html = viewer.get("/staff/").get_data(as_text=True)
    form = re.search(r"<form[^>]*role=\"search\"[^>]*>", html).group(0)
    assert 'method="get"' in form and 'action="/staff/"' in form
    assert 'data-hx-get="/staff/"' in form and "delay:300ms" in form
    for name in ("q", "status", "request_type", "hold_reason", "band", "manner"):
        assert f'name="{name}"' in html


def test_keyset_pages_cover_everything_once(app_config, request):
    app_config["QUEUE_PAGE_SIZE"] = 2
    app, client = request.getfixturevalue("app"), request.getfixturevalue("client")
    sign_in(client, make_staff(app, "support"))
    same_day = clock.now() - timedelta(days=10)
    made = [new_case(app, "access", email=f"p{i}@example.org", received_at=same_day).reference for i in range(5)]
    made.append(new_case(app, "access", email="z@example.org", received_at=clock.now()).reference)
    seen, url = [], "/staff/"
    for _ in range(10):
        html = client.get(url).get_data(as_text=True)
        seen += _refs(html)
        nxt = re.search(r'<a href="([^"]+)">Next page</a>', html)
        if not nxt:
            break
        url = nxt.group(1).replace("&amp;", "&")
        assert "after=" in url
        assert "First page" in client.get(url).get_data(as_text=True)
    assert seen == made  # same due date: by id; then the later one; nothing twice, nothing missed
    # A garbled cursor is ignored (first page), not an error.
    assert _refs(client.get("/staff/?after=garbage").get_data(as_text=True)) == made[:2]


def test_every_queue_index_exists(app):
    with app.app_context(), db.engine().connect() as conn:
        # Read the catalogue directly: SQLAlchemy's reflection skips expression indexes on SQLite.
        names = set(conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'privacy_request'"
            if conn.dialect.name == "sqlite" else
            "SELECT indexname FROM pg_indexes WHERE tablename = 'privacy_request'")).scalars())
    assert {"ix_privacy_request_due_order", "ix_privacy_request_status_due", "ix_privacy_request_type_due",
            "ix_privacy_request_hold_due", "ix_privacy_request_manner_due", "ix_privacy_request_last_name_lower",
            "ix_privacy_request_first_name_lower", "ix_privacy_request_received_at",
            "ix_privacy_request_closed_at", "ix_privacy_request_type_status", "ix_privacy_request_hold_status",
            "ix_privacy_request_manner_status", "ix_privacy_request_open_due", "ix_privacy_request_open_type_due",
            "ix_privacy_request_open_hold_due", "ix_privacy_request_open_manner_due"} <= names


def _plan(conn, sql):
    if conn.dialect.name == "sqlite":
        return " ".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))
    return " ".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))


def test_the_queue_queries_are_served_by_indexes(app):
    order = " ORDER BY coalesce(extended_due, response_due), id LIMIT 51"
    with app.app_context(), db.engine().connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if not sqlite:
            # An empty table is cheapest to scan; forbid that to see which index the query can use.
            conn.execute(text("SET enable_seqscan = off"))
        # One filter value: the index gives the rows already in queue order (no sort step).
        for column in ("status", "request_type", "hold_reason", "manner"):
            found = _plan(conn, f"SELECT id FROM privacy_request WHERE {column} = 'x'" + order)
            assert "ix_privacy_request_" in found and "TEMP B-TREE" not in found and "Sort" not in found, found
        found = _plan(conn, "SELECT id FROM privacy_request" + order)
        assert "ix_privacy_request_due_order" in found and "TEMP B-TREE" not in found and "Sort" not in found, found
        # The open queue: the partial index over the open cases, already in queue order (no sort),
        # alone or under a filter; and its counts per status from that index alone.
        # (An empty table has no statistics to prefer it: SQLite is told to use it - it refuses an
        # index that cannot answer the query - and PostgreSQL is kept from sorting.)
        if not sqlite:
            conn.execute(text("SET enable_sort = off"))
            conn.execute(text("SET enable_bitmapscan = off"))
        is_open = " WHERE status IN ('awaiting_email', 'in_progress', 'on_hold', 'verifying')"

        def on(name):
            return f" FROM privacy_request INDEXED BY ix_privacy_request_{name}" if sqlite else " FROM privacy_request"
        found = _plan(conn, "SELECT id" + on("open_due") + is_open + order)
        assert "ix_privacy_request_open_due" in found and "TEMP B-TREE" not in found and "Sort" not in found, found
        for column, name in (("request_type", "open_type_due"), ("manner", "open_manner_due"),
                             ("hold_reason", "open_hold_due")):
            found = _plan(conn, f"SELECT id{on(name)}{is_open} AND {column} = 'x'" + order)
            assert f"ix_privacy_request_{name}" in found and "TEMP B-TREE" not in found and "Sort" not in found, found
            found = _plan(conn, f"SELECT status, count(*){on(name)}{is_open} AND {column} = 'x' GROUP BY status")
            assert "ix_privacy_request_" in found and (sqlite or "Index Only" in found), found
        # (SQLite reads `status` from the index but names no expression index COVERING.)
        found = _plan(conn, "SELECT status, count(*)" + on("open_due") + is_open +
                      " AND coalesce(extended_due, response_due) < '2026-01-01' GROUP BY status")
        assert "ix_privacy_request_open_" in found and "Seq Scan" not in found, found
        # Counts per status under a filter read only an index.
        for column in ("request_type", "manner", "hold_reason"):
            found = _plan(conn, f"SELECT status, count(*) FROM privacy_request WHERE {column} = 'x' GROUP BY status")
            assert "ix_privacy_request_" in found and ("COVERING" in found or "Index Only" in found), found
        found = _plan(conn, "SELECT id FROM privacy_request WHERE lower(last_name) >= 'ru' "
                            "AND lower(last_name) < 'rv' AND lower(last_name) LIKE 'ru%'")
        assert "ix_privacy_request_last_name_lower" in found, found


def test_queue_dates_are_california_dates(viewer, app):
    req = new_case(app, "access", received_at=clock.now())
    html = viewer.get("/staff/").get_data(as_text=True)
    due = local_date(clock.now()) + timedelta(days=45)
    assert f'datetime="{due.isoformat()}"' in html and req.reference in html
