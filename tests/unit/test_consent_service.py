"""The consent service without HTTP: records, GPC, policy versions, receipts, statistics, export."""
import csv
import io

import pytest
from sqlalchemy import func, select

from portal.models import AuditEvent, ConsentRecord
from portal.services.consent import banner, choices, receipts, state_cookie, statistics

from ..support import publish_policy

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


@pytest.fixture(autouse=True)
def _sells_or_shares(app_config):
    """These tests exercise the sale/sharing category: on, with the policy text that discloses it."""
    app_config["SELLS_OR_SHARES"] = True


def _id():
    return choices.new_consent_id()


def _record(session, consent_id, action, source="banner", gpc_signal=False, user_agent=None, **selected):
    return choices.record_choice(session, consent_id=consent_id, action=action, source=source, gpc_signal=gpc_signal,
                                 user_agent=user_agent, selected=selected or None)


def _count(session) -> int:
    return session.execute(select(func.count()).select_from(ConsentRecord)).scalar()


def test_no_record_means_no_choice_and_only_necessary(session):
    state = choices.resolve(session, consent_id=None, gpc_signal=False, user_agent=None)
    assert not state.decided and state.snapshot is None
    assert state.choices == {"necessary": True, "functional": False, "analytics": False, "advertising": False}
    assert _count(session) == 0


@pytest.mark.parametrize("action, expected", [
    ("accept_all", {"functional": True, "analytics": True, "advertising": True}),
    ("reject_all", {"functional": False, "analytics": False, "advertising": False}),
])
def test_accept_and_reject_all(session, action, expected):
    cid = _id()
    state = choices.record_choice(session, consent_id=cid, action=action, source="banner", gpc_signal=False,
                                  user_agent=CHROME)
    assert state.decided
    assert state.choices == {"necessary": True, **expected}
    [record] = choices.history(session, consent_id=cid)
    assert record.choices == expected and record.source == "banner" and not record.gpc
    assert record.user_agent_family == "Chrome" and record.policy_version == "2026-11-01"


def test_save_selected_categories_and_history_is_kept(session):
    cid = _id()
    _record(session, cid, "accept_all")
    state = choices.record_choice(session, consent_id=cid, action="save", source="center", gpc_signal=False,
                                  user_agent=None, selected={"analytics": True})
    assert state.choices == {"necessary": True, "functional": False, "analytics": True, "advertising": False}
    records = choices.history(session, consent_id=cid)
    assert [r.source for r in records] == ["center", "banner"]
    assert choices.latest_record(session, consent_id=cid).id == records[0].id
    # Another visitor's records are not theirs.
    assert choices.history(session, consent_id=_id()) == []
    assert choices.record_for(session, consent_id=_id(), receipt_id=records[0].receipt_id) is None
    assert choices.record_for(session, consent_id=cid, receipt_id=records[1].receipt_id).id == records[1].id


def test_unknown_category_action_or_forged_id_is_refused(session):
    with pytest.raises(ValueError):
        choices.record_choice(session, consent_id=_id(), action="save", source="center", gpc_signal=False,
                              user_agent=None, selected={"tracking": True})
    with pytest.raises(ValueError):
        choices.record_choice(session, consent_id=_id(), action="accept_some", source="center", gpc_signal=False,
                              user_agent=None)
    with pytest.raises(ValueError):
        choices.record_choice(session, consent_id="=HYPERLINK(1)", action="reject_all", source="center",
                              gpc_signal=False, user_agent=None)
    assert _count(session) == 0


def test_records_are_append_only(session):
    cid = _id()
    _record(session, cid, "accept_all", source="center")
    record = choices.latest_record(session, consent_id=cid)
    record.choices = {"functional": False, "analytics": False, "advertising": False}
    with pytest.raises(ValueError, match="append-only"):
        session.commit()
    session.rollback()
    session.delete(choices.latest_record(session, consent_id=cid))
    with pytest.raises(ValueError, match="append-only"):
        session.commit()
    session.rollback()
    assert choices.latest_record(session, consent_id=cid).choices["functional"] is True


def test_gpc_opts_out_once_and_keeps_other_choices(session):
    cid = _id()
    _record(session, cid, "accept_all")
    state = choices.resolve(session, consent_id=cid, gpc_signal=True, user_agent=None)
    assert state.gpc_honored and state.decided and state.gpc_applied_at is not None
    assert state.choices == {"necessary": True, "functional": True, "analytics": True, "advertising": False}
    again = choices.resolve(session, consent_id=cid, gpc_signal=True, user_agent=None)
    assert again.snapshot.record_id == state.snapshot.record_id  # recorded once, not on every view
    records = choices.history(session, consent_id=cid)
    assert [(r.source, r.gpc, r.choices["advertising"]) for r in records] == [
        ("gpc", True, False), ("banner", False, True)]
    # Without the signal the record stays: advertising stays off until the visitor turns it on.
    off = choices.resolve(session, consent_id=cid, gpc_signal=False, user_agent=None)
    assert not off.gpc_signal and not off.gpc_honored and off.choices["advertising"] is False


def test_gpc_before_any_choice_records_only_the_opt_out(session):
    cid = _id()
    state = choices.resolve(session, consent_id=cid, gpc_signal=True, user_agent=None)
    assert state.gpc_honored and not state.decided  # functional and analytics are still asked for
    assert choices.latest_record(session, consent_id=cid).choices == {"advertising": False}
    accepted = choices.record_choice(session, consent_id=cid, action="accept_all", source="banner", gpc_signal=True,
                                     user_agent=None)
    assert accepted.decided and accepted.gpc_honored
    assert accepted.choices == {"necessary": True, "functional": True, "analytics": True, "advertising": False}


def test_new_policy_version_asks_again_and_keeps_history(app, session):
    cid = _id()
    _record(session, cid, "accept_all")
    publish_policy(app, "2027-01-01")
    state = choices.resolve(session, consent_id=cid, gpc_signal=False, user_agent=None)
    assert not state.decided and state.choices["analytics"] is False
    assert state.snapshot.policy_version == "2026-11-01"
    _record(session, cid, "reject_all", source="center")
    assert [r.policy_version for r in choices.history(session, consent_id=cid)] == ["2027-01-01", "2026-11-01"]


def test_state_cookie_round_trip_and_refusals(app, session):
    cid = _id()
    state = choices.record_choice(session, consent_id=cid, action="save", source="center", gpc_signal=False,
                                  user_agent=None, selected={"functional": True})
    value = state_cookie.state_cookie(state)
    cached = state_cookie.state_from_cookie(value, consent_id=cid, gpc_signal=False)
    assert cached.choices == state.choices and cached.decided and cached.snapshot.record_id == state.snapshot.record_id
    assert state_cookie.state_from_cookie(value, consent_id=_id(), gpc_signal=False) is None  # another visitor's
    assert state_cookie.state_from_cookie(value[:-2] + "xx", consent_id=cid, gpc_signal=False) is None  # tampered
    assert state_cookie.state_from_cookie(value, consent_id=cid, gpc_signal=True) is None  # GPC must be recorded first
    publish_policy(app, "2027-01-01")
    assert state_cookie.state_from_cookie(value, consent_id=cid, gpc_signal=False) is None


def test_a_state_cookie_verified_before_is_still_checked_each_time(app, session, time_machine):
    """Verified cookies are kept by their text; their freshness, visitor and version are not."""
    time_machine.move_to("2026-11-30T18:00:00+00:00", tick=False)
    cid = _id()
    state = choices.record_choice(session, consent_id=cid, action="save", source="center", gpc_signal=False,
                                  user_agent=None, selected={"functional": True})
    value = state_cookie.state_cookie(state)
    first = state_cookie.state_from_cookie(value, consent_id=cid, gpc_signal=False)
    first.snapshot.choices["functional"] = False  # one reading's copy, changed
    assert state_cookie.state_from_cookie(value, consent_id=cid, gpc_signal=False).snapshot.choices["functional"] is True
    assert state_cookie.state_from_cookie(value, consent_id=_id(), gpc_signal=False) is None
    time_machine.shift(app.config["CONSENT_STATE_CACHE_SECONDS"] + 1)
    assert state_cookie.state_from_cookie(value, consent_id=cid, gpc_signal=False) is None  # stale, though verified


def test_api_token_is_bound_to_the_consent_id(app):
    with app.app_context():
        cid = _id()
        token = state_cookie.api_token(cid)
        assert state_cookie.check_api_token(token, consent_id=cid)
        assert not state_cookie.check_api_token(token, consent_id=_id())
        assert not state_cookie.check_api_token("forged", consent_id=cid)
        assert not state_cookie.check_api_token(None, consent_id=cid)


def test_receipt_has_the_kantara_fields(app, session):
    cid = _id()
    with app.test_request_context():
        state = choices.record_choice(session, consent_id=cid, action="save", source="center", gpc_signal=True,
                                      user_agent=None, selected={"analytics": True, "advertising": True})
        receipt = receipts.receipt(choices.latest_record(session, consent_id=cid))
    assert receipt["version"] == "KI-CR-v1.1.0" and receipt["jurisdiction"] == "US-CA"
    assert receipt["consentReceiptID"] == state.snapshot.receipt_id
    assert receipt["consentTimestamp"] == int(state.snapshot.created_at.timestamp())
    assert receipt["collectionMethod"] == "Cookie-preference center on the privacy portal"
    assert receipt["policyVersion"] == "2026-11-01" and receipt["policyUrl"] == "http://portal.test/privacy"
    assert receipt["piiPrincipalId"] == cid and receipt["globalPrivacyControl"] is True
    assert receipt["piiControllers"][0]["piiController"] == "Billgenix"
    purposes = {p["purposeCategory"][0]: p for p in receipt["services"][0]["purposes"]}
    assert {k: p["status"] for k, p in purposes.items()} == {
        "necessary": "always_on", "functional": "declined", "analytics": "granted", "advertising": "declined"}
    assert purposes["advertising"]["consentType"] == "OPT_OUT_PREFERENCE_SIGNAL"
    assert purposes["advertising"]["thirdPartyDisclosure"] is True
    assert purposes["analytics"]["consentType"] == "EXPLICIT"


@pytest.mark.parametrize("agent, family", [
    (CHROME, "Chrome"), ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox"),
    ("Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari"),
    (CHROME + " Edg/131.0", "Edge"), ("curl/8.5.0", "Other"), (None, None), ("", None)])
def test_user_agent_is_reduced_to_a_family(agent, family):
    assert choices.user_agent_family(agent) == family


def test_statistics_count_each_visitors_latest_choice_per_version(app, session):
    a, b, c = _id(), _id(), _id()
    _record(session, a, "accept_all")
    choices.record_choice(session, consent_id=a, action="save", source="center", gpc_signal=False, user_agent=None,
                          selected={"analytics": True})
    _record(session, b, "reject_all")
    choices.resolve(session, consent_id=c, gpc_signal=True, user_agent=None)
    publish_policy(app, "2027-01-01")
    _record(session, a, "accept_all")
    new, old = statistics.statistics(session)
    assert (new.policy_version, new.records, new.visitors, new.decided, new.gpc) == ("2027-01-01", 1, 1, 1, 0)
    # a turned advertising off before: "Accept all" never turns it back on (§7028: two steps)
    assert new.granted == {"functional": 1, "analytics": 1, "advertising": 0}
    assert (old.policy_version, old.records, old.visitors, old.decided, old.gpc) == ("2026-11-01", 4, 3, 2, 1)
    assert old.granted == {"functional": 0, "analytics": 1, "advertising": 0}


def test_export_is_audited_and_lists_every_record(session):
    cid = _id()
    _record(session, cid, "accept_all", user_agent=CHROME)
    choices.resolve(session, consent_id=cid, gpc_signal=True, user_agent=None)
    lines = statistics.export_csv(session, actor="staff:1")  # audited before the first line is read
    rows = list(csv.DictReader(io.StringIO("".join(lines))))
    [event] = session.execute(select(AuditEvent).where(AuditEvent.action == "consent_export")).scalars()
    assert event.actor == "staff:1"
    assert [(r["source"], r["gpc"], r["advertising"], r["analytics"], r["necessary"]) for r in rows] == [
        ("banner", "no", "granted", "granted", "always_on"), ("gpc", "yes", "declined", "granted", "always_on")]
    assert rows[0]["consent_id"] == cid and rows[0]["user_agent_family"] == "Chrome"


# --- after an opt-out (§7026(k), §7028, §7025) ---------------------------------------------------

def test_after_a_reject_a_new_policy_never_asks_about_sale_for_12_months(app, session, time_machine):
    cid = _id()
    time_machine.move_to("2026-06-01T12:00:00-07:00", tick=False)
    _record(session, cid, "reject_all")
    publish_policy(app, "2027-01-01")
    state = choices.resolve(session, consent_id=cid, gpc_signal=False, user_agent=None)
    assert not state.decided and state.sale_ask_suppressed  # the banner asks, but only about the others
    assert [c.key for c in state.asked_categories] == ["functional", "analytics"]
    assert "Advertising" not in banner.banner_intro(state)
    # One click on "Accept all" covers the others, never sale/sharing.
    state = _record(session, cid, "accept_all")
    assert state.decided and state.choices["analytics"] and not state.choices["advertising"]
    # 12 months on, the visitor may be asked again (the choice stays off until they opt in).
    time_machine.move_to("2027-06-02T12:00:00-07:00", tick=False)
    publish_policy(app, "2027-07-01")
    state = choices.resolve(session, consent_id=cid, gpc_signal=False, user_agent=None)
    assert not state.sale_ask_suppressed and "advertising" in [c.key for c in state.asked_categories]


def test_turning_sale_back_on_takes_a_separate_confirmation(session):
    cid = _id()
    _record(session, cid, "accept_all")
    _record(session, cid, "save", functional=True)  # advertising off: an opt-out
    state = _record(session, cid, "save", functional=True, advertising=True)
    assert state.confirmation_needed and not state.choices["advertising"]
    state = choices.confirm_sale_opt_in(session, consent_id=cid, gpc_signal=False, user_agent=None)
    assert state.choices["advertising"] and state.choices["functional"] and not state.sale_opted_out
    assert choices.history(session, consent_id=cid)[0].sale_opt_out_at is None


def test_gpc_keeps_the_switch_off_and_counts_as_the_opt_out(app, session):
    cid = _id()
    choices.resolve(session, consent_id=cid, gpc_signal=True, user_agent=None)
    with pytest.raises(choices.SaleOptInRefused):
        choices.confirm_sale_opt_in(session, consent_id=cid, gpc_signal=True, user_agent=None)
    state = _record(session, cid, "save", gpc_signal=True, advertising=True)
    assert not state.choices["advertising"] and not state.confirmation_needed
    publish_policy(app, "2027-01-01")  # the signal gone, a new policy: still not asked about sale
    state = choices.resolve(session, consent_id=cid, gpc_signal=False, user_agent=None)
    assert state.sale_ask_suppressed and not state.choices["advertising"]


def test_an_opt_out_is_recorded_on_the_known_persons_request_once(app, session):
    from portal.services.cases import submission
    from portal.services.cases.submission import NewRequest
    req = submission.submit(session, new=NewRequest(request_type="opt_out", first_name="Ana", last_name="Ruiz",
                                                         email="ana@example.org")).request
    cid = _id()
    state = choices.resolve(session, consent_id=cid, gpc_signal=True, user_agent=None)
    assert choices.record_for_known_person(session, state=state, reference=req.reference)
    assert not choices.record_for_known_person(session, state=state, reference=req.reference)
    actions = session.execute(select(AuditEvent.action).where(AuditEvent.request_id == req.id)).scalars().all()
    assert actions.count("gpc_opt_out_recorded") == 1
    other = _record(session, _id(), "reject_all")
    assert choices.record_for_known_person(session, state=other, reference=req.reference)
    accepted = _record(session, _id(), "accept_all")
    assert choices.opt_out_kind(accepted) is None


def test_the_default_ships_no_sale_category_and_a_policy_that_says_so(app_config, tmp_path):
    from portal import create_app, policy
    app_config["SELLS_OR_SHARES"] = False
    app = create_app(app_config)
    with app.app_context():
        assert not any(c.sale_or_sharing for c in choices.categories())
        current = policy.current()
        assert not current.sells_or_shares and "We do not sell personal information" in current.html
        assert "under 18" in current.html and "under 16" not in current.html
    app_config["CONSENT_CATEGORIES"] = [*app_config.get("CONSENT_CATEGORIES", []),
                                        {"key": "ads", "label": "Ads", "description": "x", "sale_or_sharing": True}]
    with pytest.raises(policy.PolicyMismatch):
        create_app(app_config)


def test_sells_or_shares_brings_the_category_and_the_disclosing_policy(app, session):
    from portal import policy
    assert [c.key for c in choices.categories() if c.sale_or_sharing] == ["advertising"]
    current = policy.current()
    assert current.sells_or_shares and "Do Not Sell or Share My Personal Information" in current.html
    assert "We do not sell personal information" not in current.html
