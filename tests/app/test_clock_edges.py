"""Deadlines and the dates people see, at the moments that break them: California evenings after
UTC midnight, the nights the clocks change, the eves of holidays, the year's end, a leap day."""
import re
from datetime import datetime, timedelta

import pytest

from portal import clock, db, lifecycle
from portal.services.cases import submission

from ..moments import EDGE_MOMENTS
from ..support import body, csrf_from, link_in, make_staff, new_case, post_form, request_form, sign_in


def _long(day) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _shown(moment: datetime) -> str:
    """How a moment reads on a page: "Nov 29, 2026, 9:01 PM PST" (California time, with its zone)."""
    local = moment.astimezone(clock.PACIFIC)
    hour = local.hour % 12 or 12
    # CLDR puts a narrow no-break space (U+202F) between the time and AM/PM.
    return f"{local:%b} {local.day}, {local.year}, {hour}:{local:%M}\u202f{local:%p} {local.tzname()}"


@pytest.fixture(params=sorted(EDGE_MOMENTS))
def edge(request, time_machine):
    """The clock stopped at one of the edge moments; its expected California dates."""
    iso, received, ack_due, short_due, long_due = EDGE_MOMENTS[request.param]
    at = datetime.fromisoformat(iso)
    time_machine.move_to(at, tick=False)
    return dict(at=at, received=received, ack_due=ack_due, short_due=short_due, long_due=long_due)


def test_the_one_clock_reads_the_california_date(edge):
    assert clock.now() == edge["at"] and clock.now().utcoffset() == timedelta(0)
    assert clock.today() == edge["received"]


def test_deadlines_count_from_the_california_date(edge):
    at = edge["at"]
    assert lifecycle.local_date(at) == edge["received"]
    assert lifecycle.acknowledgement_due(at) == edge["ack_due"]
    assert lifecycle.response_due("opt_out", at) == lifecycle.response_due("limit", at) == edge["short_due"]
    for kind in ("access", "delete", "correct"):
        assert lifecycle.response_due(kind, at) == edge["long_due"]


def test_a_request_submitted_then_shows_california_dates(client, app, mailbox, edge):
    resp = post_form(client, "/requests/new", request_form("access"))
    assert resp.status_code == 303
    verify = link_in(mailbox.last("ana.ruiz@example.org"), "/verify/")
    page = client.get(verify).get_data(as_text=True)
    detail = client.get(client.post(verify, data={"csrf_token": csrf_from(page)}).headers["Location"])
    html = detail.get_data(as_text=True)
    reference = re.search(r"PR-[0-9A-Z]{4}-[0-9A-Z]{4}", html).group(0)
    with app.app_context():
        req = submission.get_by_reference(db.session(), reference)
    assert req.received_at == edge["at"]
    assert (req.acknowledgement_due, req.response_due) == (edge["ack_due"], edge["long_due"])
    summary = re.search(r'<dl class="summary">.*?</dl>', html, re.S).group(0)
    assert f"<dt>Received</dt><dd>{_long(edge['received'])}</dd>" in summary
    assert _long(edge["long_due"]) in summary
    assert _shown(edge["at"]) in html  # the timeline
    ack = body(mailbox.last("ana.ruiz@example.org"))
    assert _long(edge["long_due"]) in ack


def test_an_opt_out_receipt_shows_the_california_time(client, mailbox, app, edge):
    post_form(client, "/requests/new", request_form("opt_out"))
    receipt = body(mailbox.last("ana.ruiz@example.org"))
    assert f"In effect since: {_shown(edge['at'])}" in receipt
    with app.app_context():
        from sqlalchemy import select

        from portal.models import PrivacyRequest
        req = db.session().execute(select(PrivacyRequest)).scalar_one()
    assert req.response_due == edge["short_due"]


def test_the_staff_case_page_shows_california_times(client, app, edge):
    req = new_case(app, "delete")
    sign_in(client, make_staff(app, "support"))
    html = client.get(f"/staff/requests/{req.reference}").get_data(as_text=True)
    assert re.search(r"<dt>Received</dt><dd>" + re.escape(_shown(edge["at"])), html)
    assert _shown(edge["at"]) in re.search(r'<table class="audit">.*?</table>', html, re.S).group(0)
    assert _shown(edge["at"]) in re.search(r"<dt>Signed declaration</dt><dd>[^<]*", html).group(0)


def test_extension_is_possible_through_the_california_due_date(app, time_machine):
    """The original due date ends at midnight in California, not in UTC."""
    received = datetime(2026, 10, 15, 21, 30, tzinfo=clock.PACIFIC)  # 16 October in UTC
    req = new_case(app, "access", received_at=received)
    assert req.response_due == received.date() + timedelta(days=45)
    from portal.services.cases import casework
    last_evening = datetime.combine(req.response_due, datetime.min.time(), clock.PACIFIC) + timedelta(hours=23, minutes=30)
    time_machine.move_to(last_evening, tick=False)
    assert "extend" in casework.available_actions(req)
    time_machine.move_to(last_evening + timedelta(hours=1), tick=False)
    assert "extend" not in casework.available_actions(req)
