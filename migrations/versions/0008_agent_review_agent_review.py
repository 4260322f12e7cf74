"""agent review

Revision ID: 0008_agent_review
Revises: 0005_staff_console
Create Date: 2026-11-28 03:48:57.753756
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0008_agent_review'
down_revision = '0005_staff_console'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agent_authorization', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_checklist', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('agent_authorization', schema=None) as batch_op:
        batch_op.drop_column('review_checklist')
