"""§7102 partial figures of ended months, stored once computed (counts only, no personal data)

Revision ID: 0020_metrics_months
Revises: 0019_annual_metrics
Create Date: 2026-12-01 09:00:00
"""
import sqlalchemy as sa
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0020_metrics_months'
down_revision = '0019_annual_metrics'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('metrics_month',
                    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('figures', sa.JSON(), nullable=False),
                    sa.Column('computed_at', portal.models.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('year', 'month', name=op.f('pk_metrics_month')))


def downgrade():
    op.drop_table('metrics_month')
