"""§7102 metrics of ended years, stored once computed

Revision ID: 0019_annual_metrics
Revises: 0018_delivery
Create Date: 2026-11-30 09:50:00
"""
import sqlalchemy as sa
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0019_annual_metrics'
down_revision = '0018_delivery'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('annual_metrics',
                    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('figures', sa.JSON(), nullable=False),
                    sa.Column('computed_at', portal.models.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('year', name=op.f('pk_annual_metrics')))


def downgrade():
    op.drop_table('annual_metrics')
