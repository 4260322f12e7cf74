"""`flask --app portal drp agent add|list|remove`: the agents the portal trusts."""
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent

from ..drp_agents import Agent


def test_add_list_remove(app, runner):
    agent = Agent("PERMISSION_SLIP")
    added = runner.invoke(args=["drp", "agent", "add", "PERMISSION_SLIP", "--verify-key", agent.verify_key,
                                "--name", "Permission Slip"])
    assert added.exit_code == 0, added.output
    assert "agent PERMISSION_SLIP added (Permission Slip)" in added.output
    assert "/drp/v1/agent/PERMISSION_SLIP" in added.output
    listed = runner.invoke(args=["drp", "agent", "list"])
    assert "PERMISSION_SLIP\tPermission Slip" in listed.output and "not paired yet" in listed.output
    removed = runner.invoke(args=["drp", "agent", "remove", "PERMISSION_SLIP"])
    assert removed.exit_code == 0 and "no longer works" in removed.output
    assert "removed" in runner.invoke(args=["drp", "agent", "list"]).output
    with app.app_context():
        actions = db.session().execute(select(AuditEvent.action)).scalars().all()
    assert actions == ["drp_agent_added", "drp_agent_removed"]


def test_mistakes_are_clear_errors(runner):
    bad_key = runner.invoke(args=["drp", "agent", "add", "X", "--verify-key", "abc"])
    assert bad_key.exit_code == 1 and "Ed25519 public key" in bad_key.output
    missing = runner.invoke(args=["drp", "agent", "add", "X"])
    assert missing.exit_code == 2 and "--verify-key" in missing.output
    unknown = runner.invoke(args=["drp", "agent", "remove", "NOBODY"])
    assert unknown.exit_code == 1 and "no registered agent NOBODY" in unknown.output
    assert runner.invoke(args=["drp", "agent", "list"]).output == "no agents\n"
