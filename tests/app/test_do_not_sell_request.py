"""A "Do Not Sell or Share" request stops sale and sharing in the browser that sent it (§7026(f)(1),
§7025(c)(1)) when the business sells or shares: the browser's consent record turns them off and the
12-month window without asking starts (§7026(k)); withdrawing the request warns that they may resume."""
import pytest
from sqlalchemy import select

from portal import db
from portal.models import ConsentRecord
from portal.services.consent import choices

from ..support import csrf_from, post_form, request_form, status_client


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SELLS_OR_SHARES": True}


def _sale_keys(app):
    with app.app_context():
        return [c.key for c in choices.categories() if c.sale_or_sharing]


def _records(app):
    with app.app_context():
        return db.session().execute(select(ConsentRecord).order_by(ConsentRecord.id)).scalars().all()


def test_the_request_turns_sale_and_sharing_off_in_this_browser(app, client):
    page = client.get("/preferences")
    client.post("/preferences", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "action": "accept_all",
                                      "source": "center"})
    [accepted] = _records(app)
    keys = _sale_keys(app)
    assert keys and all(accepted.choices[k] for k in keys) and accepted.sale_opt_out_at is None
    assert post_form(client, "/requests/new", request_form("opt_out")).status_code == 303
    latest = _records(app)[-1]
    assert latest.consent_id == accepted.consent_id and latest.source == "request"
    assert not any(latest.choices[k] for k in keys) and latest.sale_opt_out_at is not None
    others = [k for k in accepted.choices if k not in keys]
    assert all(latest.choices[k] == accepted.choices[k] for k in others)  # the other choices as they were
    state = client.get("/api/consent").get_json()
    assert not any(state["choices"][k] for k in keys)


def test_a_first_time_browser_gets_a_consent_record_and_no_sale_question_for_12_months(app, client):
    assert post_form(client, "/requests/new", request_form("opt_out")).status_code == 303
    [record] = _records(app)
    assert record.source == "request" and record.sale_opt_out_at is not None
    assert client.get_cookie(app.config["CONSENT_COOKIE_NAME"]).value == record.consent_id
    with app.app_context():
        state = choices.state_for(choices.latest_snapshot(db.session(), consent_id=record.consent_id),
                                  consent_id=record.consent_id, gpc_signal=False)
    assert state.sale_ask_suppressed and not any(state.choices[k] for k in _sale_keys(app))


def test_withdrawing_an_opt_out_warns_that_sale_may_resume(app, client):
    assert post_form(client, "/requests/new", request_form("opt_out")).status_code == 303
    from portal.models import PrivacyRequest
    with app.app_context():
        req = db.session().execute(select(PrivacyRequest)).scalar_one()
    page = status_client(app, req.reference).get(f"/requests/{req.reference}").get_data(as_text=True)
    assert "we may resume selling or sharing your personal information" in page
