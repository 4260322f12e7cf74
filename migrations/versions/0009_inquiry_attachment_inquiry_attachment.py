"""inquiry attachment

Revision ID: 0009_inquiry_attachment
Revises: 0008_agent_review
Create Date: 2026-11-28 03:52:58.281998
"""
import sqlalchemy as sa
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0009_inquiry_attachment'
down_revision = '0008_agent_review'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inquiry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_inquiry_attachment_id_document'), 'document', ['attachment_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('inquiry', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_inquiry_attachment_id_document'), type_='foreignkey')
        batch_op.drop_column('attachment_id')

