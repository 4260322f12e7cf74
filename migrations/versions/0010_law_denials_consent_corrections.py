"""law: denial categories, correction assessment, contested statements by requesters, categories responses

Revision ID: 0010_law
Revises: 0009_inquiry_attachment
Create Date: 2026-11-30 06:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401

import portal.models  # noqa: F401  (UTCDateTime)


revision = '0010_law'
down_revision = '0009_inquiry_attachment'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_outcome', schema=None) as batch_op:
        batch_op.add_column(sa.Column('covered_categories', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('categories_response', sa.JSON(), nullable=True))
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sale_opt_out_at', portal.models.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_column('sale_opt_out_at')
    with op.batch_alter_table('case_outcome', schema=None) as batch_op:
        batch_op.drop_column('categories_response')
        batch_op.drop_column('covered_categories')
