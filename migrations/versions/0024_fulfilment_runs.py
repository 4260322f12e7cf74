"""queued runs of the plan's automatic items (the connectors' outbox channel)

Revision ID: 0024_fulfilment_runs
Revises: 0023_fulfilment_items
Create Date: 2026-12-08 09:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0024_fulfilment_runs'
down_revision = '0023_fulfilment_items'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fulfilment_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['fulfilment_item.id'], name=op.f('fk_fulfilment_run_item_id_fulfilment_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfilment_run'))
    )
    with op.batch_alter_table('fulfilment_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fulfilment_run_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_fulfilment_run_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)


def downgrade():
    with op.batch_alter_table('fulfilment_run', schema=None) as batch_op:
        batch_op.drop_index('ix_fulfilment_run_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_fulfilment_run_item_id'))
    op.drop_table('fulfilment_run')
