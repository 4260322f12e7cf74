"""A command that meets an expected failure says so in one line and exits with 1 (no traceback)."""
from sqlalchemy.exc import OperationalError

from portal.services.delivery import mail


def test_a_database_that_cannot_be_reached_is_one_line_and_exit_1(runner, monkeypatch):
    def down(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(mail, "retry", down)
    result = runner.invoke(args=["mail", "retry"])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: the database cannot be reached")
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
