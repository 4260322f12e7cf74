"""delivery: webhook_delivery.retry_from and drp_callback.retry_from (a re-queued notice's retry period)

Revision ID: 0025_notice_retry_from
Revises: 0024_fulfilment_runs
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0025_notice_retry_from'
down_revision = '0024_fulfilment_runs'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('webhook_delivery', 'drp_callback'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('retry_from', portal.models.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    for table in ('webhook_delivery', 'drp_callback'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('retry_from')
