"""Cookie consent: ConsentRecord, one visitor's choice, kept append-only (a listener refuses updates
and deletes), and IS_GPC with the partial index over the Global Privacy Control records (§7102)."""
from datetime import datetime

from sqlalchemy import JSON, Column, Index, event, literal_column
from sqlmodel import Field, SQLModel

from .. import clock
from .columns import _ts


class ConsentRecord(SQLModel, table=True):
    """One cookie choice by one visitor, append-only: the latest row is the current state."""

    __tablename__ = "consent_record"
    __table_args__ = (
        # The current state: the newest row of one consent id (the API's one indexed query).
        Index("ix_consent_record_current", "consent_id", "id"),
        # Statistics: the newest row per visitor and policy version.
        Index("ix_consent_record_version", "policy_version", "consent_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    receipt_id: str = Field(max_length=36, unique=True)
    consent_id: str = Field(max_length=64)  # the random id in the visitor's first-party cookie
    # {"functional": true, ...} for the categories decided; a GPC-only record holds only advertising.
    choices: dict = Field(sa_column=Column(JSON, nullable=False))
    policy_version: str = Field(max_length=32)
    source: str = Field(max_length=8)  # banner | center | api | gpc | request
    gpc: bool = Field(default=False)  # the Global Privacy Control signal was present
    user_agent_family: str | None = Field(default=None, max_length=16)  # never the full string, never an IP
    # §7026(k), §7028: when this visitor last opted out of sale/sharing (reject, GPC, declining it),
    # carried forward record to record until a confirmed opt-in clears it.
    sale_opt_out_at: datetime | None = _ts()
    created_at: datetime = _ts(nullable=False, default_factory=clock.now)


@event.listens_for(ConsentRecord, "before_update")
@event.listens_for(ConsentRecord, "before_delete")
def _consent_records_are_append_only(_mapper, _connection, target):
    raise ValueError(f"consent record {target.id} is append-only: add a new record instead")


# §7102: the browsers whose Global Privacy Control signal was recorded in a year, from a partial
# index over those rows alone (a literal condition, as IS_OPEN, so both planners match it).
IS_GPC = ConsentRecord.__table__.c.source == literal_column("'gpc'")
Index("ix_consent_record_gpc", ConsentRecord.__table__.c.created_at, ConsentRecord.__table__.c.consent_id,
      postgresql_where=IS_GPC, sqlite_where=IS_GPC)
