"""Whole journeys: an agent service pairs, exercises a right and follows it to its end by status
callbacks to a real HTTP server on loopback, while staff act through the console's forms."""
import pytest

from portal.services.drp import callbacks as drp_callbacks

from ..drp_agents import DRP_CONFIG, Agent, CallbackReceiver, pair, register, send
from ..support import make_staff, post_action, sign_in


@pytest.fixture
def app_config(app_config):
    return {**app_config, **DRP_CONFIG, "OUTBOUND_ALLOW_HOSTS": "127.0.0.1"}  # the agent's receiver is on loopback


@pytest.fixture
def agent(app, client):
    agent = Agent()
    register(app, agent)
    pair(client, agent)
    return agent


@pytest.fixture
def console(app):
    staff_client = app.test_client()
    sign_in(staff_client, make_staff(app, "support"))
    return staff_client


def _reference(console, request_id) -> str:
    """Staff find the case in the queue by the consumer's email, as for any case."""
    import re
    page = console.get("/staff/?q=ana.ruiz@example.org&status=all").get_data(as_text=True)
    refs = set(re.findall(r"/staff/requests/(PR-[0-9A-Z]{4}-[0-9A-Z]{4})", page))
    assert len(refs) == 1, refs
    return refs.pop()


def test_deletion_from_exercise_to_fulfilled_with_staff_in_the_console(app, client, agent, console, mailbox):
    with CallbackReceiver() as receiver:
        made = send(client, agent, agent.exercise("deletion", status_callback=receiver.url,
                                                  address={"formatted": "1 Main St, Ontario CA"},
                                                  address_verified=True)).get_json()
        assert made["status"] == "in_progress"
        reference = _reference(console, made["request_id"])

        # The console shows the agent, the claims and what the agent verified.
        page = console.get(f"/staff/requests/{reference}").get_data(as_text=True)
        assert "Sent by an agent through the Data Rights Protocol" in page
        assert "Permission Slip" in page and "<code>deletion</code>" in page
        assert "1 Main St, Ontario CA" in page and "Data Rights Protocol" in page

        # Staff verify the identity through the form: the agent hears "identity verified".
        assert post_action(console, reference, "verify", {"source_email": "phone_call", "source_phone": "phone_call",
                                                          "source_name_dob": "claim_file"}, page=page).status_code == 303
        assert drp_callbacks.deliver_for_app(app) == 1
        verified = receiver.wait_for(1)[0]["body"]
        assert verified["status"] == "in_progress" and verified["processing_details"].startswith("Identity verified")

        # Staff complete it: the agent hears "fulfilled".
        resp = post_action(console, reference, "complete", {
            "outcome": "completed", "deleted_summary": "Billing profile and contact details",
            "message": "We deleted your information."})
        assert resp.status_code == 303
        assert drp_callbacks.deliver_for_app(app) == 1
        fulfilled = receiver.wait_for(2)[1]
        assert fulfilled["body"] == {"request_id": made["request_id"], "status": "fulfilled",
                                     "received_at": made["received_at"],
                                     "processing_details": "Completed. Our response was sent to the consumer by email."}
        assert fulfilled["headers"]["Content-Type"] == "application/json"
        assert fulfilled["headers"]["Idempotency-Key"]

    # The status endpoint says the same; the consumer received our response; the claims' values are gone.
    assert client.get(f"/drp/v1/data-rights-request/{made['request_id']}", headers=agent.auth()).get_json() \
        == fulfilled["body"]
    assert "Our response" in mailbox.last("ana.ruiz@example.org")["Subject"]
    page = console.get(f"/staff/requests/{reference}").get_data(as_text=True)
    assert "1 Main St" not in page and "fulfilled" in page


def test_denial_bases_reach_the_agent_as_drp_reasons(app, client, agent, console):
    made = send(client, agent, agent.exercise("access:specific")).get_json()
    reference = _reference(console, made["request_id"])
    resp = post_action(console, reference, "deny", {"basis": "not_california_resident",
                                                     "explanation": "Our records show you live in Oregon.",
                                                     "categories": "Contact details; claim records"})
    assert resp.status_code == 303
    status = client.get(f"/drp/v1/data-rights-request/{made['request_id']}", headers=agent.auth()).get_json()
    assert (status["status"], status["reason"]) == ("denied", "outside_jurisdiction")
    assert "Not a California resident" in status["processing_details"] and "expected_by" not in status


def test_an_information_request_asks_the_consumer_to_verify(app, client, agent, console):
    made = send(client, agent, agent.exercise("access")).get_json()
    reference = _reference(console, made["request_id"])
    post_action(console, reference, "request_info", {"message": "Please send your claim number."})
    status = client.get(f"/drp/v1/data-rights-request/{made['request_id']}", headers=agent.auth()).get_json()
    assert (status["status"], status["reason"]) == ("in_progress", "need_user_verification")
    assert status["user_verification_url"] == "http://portal.test/status"


def test_an_extension_moves_expected_by_and_says_why(app, client, agent, console):
    made = send(client, agent, agent.exercise("deletion")).get_json()
    reference = _reference(console, made["request_id"])
    assert post_action(console, reference, "extend", {"days": "30", "reason": "Records are in storage"}).status_code == 303
    status = client.get(f"/drp/v1/data-rights-request/{made['request_id']}", headers=agent.auth()).get_json()
    assert status["expected_by"] > made["expected_by"]
    assert "Extended to" in status["processing_details"] and "Records are in storage" in status["processing_details"]


def test_the_queue_filters_drp_cases_by_manner(app, client, agent, console):
    send(client, agent, agent.exercise("sale:opt-out"))
    page = console.get("/staff/?manner=drp").get_data(as_text=True)
    assert "Ruiz" in page
    assert "Ruiz" not in console.get("/staff/?manner=phone").get_data(as_text=True)
