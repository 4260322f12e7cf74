"""How identifiers are compared: one rule for each, used wherever they are stored or looked up."""


def email(value: str | None) -> str:
    """Email addresses are compared without surrounding spaces and case."""
    return (value or "").strip().lower()
