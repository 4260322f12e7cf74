"""delivery: outbox_message.retry_from (when a re-queued message's retry period starts)

Revision ID: 0018_delivery
Revises: 0017_indexes
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0018_delivery'
down_revision = '0017_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retry_from', portal.models.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('retry_from')
