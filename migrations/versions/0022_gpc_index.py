"""A partial index over the Global Privacy Control records, for §7102's count of them

Revision ID: 0022_gpc_index
Revises: 0021_open_case_counts
Create Date: 2026-11-30 13:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0022_gpc_index'
down_revision = '0021_open_case_counts'
branch_labels = None
depends_on = None

GPC = "source = 'gpc'"  # the same literal condition as portal.models.IS_GPC


def upgrade():
    op.create_index('ix_consent_record_gpc', 'consent_record', ['created_at', 'consent_id'],
                    postgresql_where=sa.text(GPC), sqlite_where=sa.text(GPC))


def downgrade():
    op.drop_index('ix_consent_record_gpc', table_name='consent_record')
