"""law: denial categories, correction assessment, contested statements by requesters, categories responses

Revision ID: 0013_law
Revises: 0012_hardening_outbox_bodies
Create Date: 2026-11-30 06:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0013_law'
down_revision = '0012_hardening_outbox_bodies'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_outcome', schema=None) as batch_op:
        batch_op.add_column(sa.Column('covered_categories', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('categories_response', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('assessment', sa.Text(), nullable=True))
    with op.batch_alter_table('contested_statement', schema=None) as batch_op:
        batch_op.alter_column('staff_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('filed_by', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False,
                                      server_default='staff'))
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sale_opt_out_at', portal.models.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_column('sale_opt_out_at')
    with op.batch_alter_table('contested_statement', schema=None) as batch_op:
        batch_op.drop_column('filed_by')
        batch_op.alter_column('staff_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('case_outcome', schema=None) as batch_op:
        batch_op.drop_column('assessment')
        batch_op.drop_column('categories_response')
        batch_op.drop_column('covered_categories')
