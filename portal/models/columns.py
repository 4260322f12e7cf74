"""How the package's tables are built: the metadata's naming convention for constraints and indexes,
the UTC timestamp type every table uses, and the column helpers the table modules share (`_ts`,
`_text`, and the foreign keys to a privacy request or a staff member). Table modules import from
here first, so the naming convention is in place before any table is defined."""
from datetime import timezone

from sqlalchemy import Column, DateTime, ForeignKey, Integer, Text, TypeDecorator
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores UTC and always returns an aware datetime, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def _ts(nullable: bool = True, default_factory=None):
    if default_factory is not None:
        return Field(default_factory=default_factory, sa_column=Column(UTCDateTime(), nullable=nullable))
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


def _text(nullable: bool = True):
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


def _request_fk(nullable: bool = False, ondelete: str = "CASCADE"):
    return Field(sa_column=Column(Integer, ForeignKey("privacy_request.id", ondelete=ondelete),
                                  nullable=nullable, index=True))


def _staff_fk(nullable: bool = False):
    return Field(default=None, sa_column=Column(Integer, ForeignKey("staff_user.id"), nullable=nullable))
