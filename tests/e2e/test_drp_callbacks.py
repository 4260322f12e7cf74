"""Status callbacks to a real HTTP server on 127.0.0.1: queued with the change, retried with
backoff after a failure, never lost across a restart, idempotent, in order."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import clock, create_app, db
from portal.models import DrpCallback, PrivacyRequest
from portal.services.cases import transitions
from portal.services.drp import callbacks as drp_callbacks

from ..drp_agents import DRP_CONFIG, Agent, CallbackReceiver, pair, register, send
from ..support import free_port


@pytest.fixture
def app_config(app_config):
    # The agent's server listens on loopback, which only the allow list lets callbacks reach.
    return {**app_config, **DRP_CONFIG, "DRP_CALLBACK_RETRY_BASE_SECONDS": 30, "OUTBOUND_ALLOW_HOSTS": "127.0.0.1"}


@pytest.fixture
def agent(app, client):
    agent = Agent()
    register(app, agent)
    pair(client, agent)
    return agent


def _move(app, request_uuid, to_status, **kw):
    """A status change, as staff or the lifecycle would make it."""
    from portal.models import DrpRequest
    with app.app_context():
        s = db.session()
        drp = s.execute(select(DrpRequest).where(DrpRequest.request_uuid == request_uuid)).scalar_one()
        transitions.transition(s, s.get(PrivacyRequest, drp.request_id), to_status, actor="system", **kw)
        s.commit()


def _deliveries(app) -> list[DrpCallback]:
    with app.app_context():
        return list(db.session().execute(select(DrpCallback).order_by(DrpCallback.id)).scalars())


def test_a_failed_callback_is_retried_after_backoff_with_the_same_idempotency_key(app, client, agent, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    with CallbackReceiver(codes=[500]) as receiver:
        made = send(client, agent, agent.exercise("deletion", status_callback=receiver.url)).get_json()
        _move(app, made["request_id"], "in_progress")
        assert drp_callbacks.deliver_for_app(app) == 0  # the agent answered 500
        row = _deliveries(app)[0]
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "the receiver answered 500")
        assert drp_callbacks.deliver_for_app(app) == 0  # not due yet: backoff
        time_machine.shift(timedelta(seconds=31))
        assert drp_callbacks.deliver_for_app(app) == 1
        first, second = receiver.wait_for(2)
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"] == row.delivery_id
    assert first["body"] == second["body"] and second["body"]["status"] == "in_progress"
    assert first["path"] == "/drp/status"
    assert _deliveries(app)[0].status == "sent"


def test_a_queued_callback_survives_a_restart(app_config, app, client, agent):
    port = free_port()  # nothing listens yet: the agent's server is down
    made = send(client, agent, agent.exercise("access", status_callback=f"http://127.0.0.1:{port}/cb")).get_json()
    _move(app, made["request_id"], "on_hold", hold_reason="data_mismatch")
    assert drp_callbacks.deliver_for_app(app, now=clock.now()) == 0
    assert _deliveries(app)[0].last_error == "the receiver refused the connection"
    app.extensions["db_engine"].dispose()

    restarted = create_app(app_config)  # a new process on the same database
    try:
        with CallbackReceiver(port=port) as receiver:  # the agent's server is back
            later = clock.now() + timedelta(hours=1)
            assert drp_callbacks.deliver_for_app(restarted, now=later) == 1
            assert receiver.wait_for(1)[0]["body"]["request_id"] == made["request_id"]
    finally:
        restarted.extensions["db_engine"].dispose()


def test_the_worker_loop_delivers_callbacks_with_the_mail(app, client, agent, runner):
    with CallbackReceiver() as receiver:
        made = send(client, agent, agent.exercise("deletion", status_callback=receiver.url)).get_json()
        _move(app, made["request_id"], "in_progress")
        assert runner.invoke(args=["worker", "--once"]).exit_code == 0
        assert receiver.wait_for(1)[0]["body"]["request_id"] == made["request_id"]


def test_a_newer_status_supersedes_an_unsent_one_and_order_holds(app, client, agent):
    with CallbackReceiver() as receiver:
        made = send(client, agent, agent.exercise("deletion", status_callback=receiver.url)).get_json()
        _move(app, made["request_id"], "on_hold", hold_reason="information_requested")
        _move(app, made["request_id"], "withdrawn")
        assert [d.status for d in _deliveries(app)] == ["superseded", "pending"]
        assert drp_callbacks.deliver_for_app(app) == 1
        (only,) = receiver.wait_for(1)
    assert only["body"]["status"] == "revoked"


def test_an_unchanged_status_object_is_not_sent_twice(app, client, agent):
    made = send(client, agent, agent.exercise("access", status_callback="http://127.0.0.1:9/cb")).get_json()
    _move(app, made["request_id"], "on_hold", hold_reason="high_certainty_required")
    _move(app, made["request_id"], "on_hold", hold_reason="data_mismatch")  # the consumer still adds details
    assert len(_deliveries(app)) == 1


def test_delivery_gives_up_after_the_configured_attempts(app, client, agent):
    app.config["DRP_CALLBACK_MAX_ATTEMPTS"] = 2
    with CallbackReceiver(codes=[503, 503, 503]) as receiver:
        made = send(client, agent, agent.exercise("deletion", status_callback=receiver.url)).get_json()
        _move(app, made["request_id"], "in_progress")
        drp_callbacks.deliver_for_app(app)
        drp_callbacks.deliver_for_app(app, now=clock.now() + timedelta(hours=1))
        assert len(receiver.wait_for(2)) == 2
    assert _deliveries(app)[0].status == "failed"


def test_no_callback_without_a_status_callback_url(app, client, agent):
    made = send(client, agent, agent.exercise("deletion")).get_json()
    _move(app, made["request_id"], "in_progress")
    assert _deliveries(app) == []


def test_a_slow_agent_does_not_hold_up_the_delivery_loop(app, client, agent):
    app.config["DRP_CALLBACK_PASS_SECONDS"] = 0.2
    with CallbackReceiver(delay=0.5) as receiver:
        for claims in (agent.exercise("deletion", status_callback=receiver.url),
                       agent.exercise("access", status_callback=receiver.url)):
            _move(app, send(client, agent, claims).get_json()["request_id"], "in_progress")
        assert drp_callbacks.deliver_for_app(app) == 1  # the pass stops starting POSTs after its budget
        assert drp_callbacks.deliver_for_app(app) == 1
        assert len(receiver.wait_for(2)) == 2
