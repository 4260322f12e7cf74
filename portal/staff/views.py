"""The queue, the case page and every case action."""
from . import bp  # noqa: F401
