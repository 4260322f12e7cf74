"""Alembic environment: the schema comes from SQLModel.metadata, the URL from the portal."""
import warnings

from alembic import context
from sqlmodel import SQLModel

import portal.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from portal.db import make_engine
from portal.models import UTCDateTime

# SQLite batch migrations reflect the table they rebuild; it cannot reflect the queue's expression
# indexes (lower(name), coalesce(extended_due, response_due)), which the migrations create themselves.
warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online():
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    connectable = config.attributes.get("connection") or make_engine(url)
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _run(connection)
        connectable.dispose()
    else:
        _run(connectable)


def _render_item(kind, obj, _autogen_context):
    """Autogenerate writes UTCDateTime by its public name, not by the module of the package that
    defines it, so a migration keeps working if the models' modules are rearranged."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return f"portal.models.{obj!r}"
    return False


def _run(connection):
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                      render_item=_render_item)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
