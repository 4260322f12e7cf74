"""contested statements go downstream: a notice's purpose

Revision ID: 0015_contested_notices
Revises: 0014_subjects
Create Date: 2026-11-30 08:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015_contested_notices'
down_revision = '0014_subjects'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('downstream_notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=24), nullable=False, server_default='act'))
        batch_op.drop_constraint('uq_downstream_notice_request_id_recipient_id', type_='unique')
        batch_op.create_unique_constraint('uq_downstream_notice_request_id_recipient_id_purpose',
                                          ['request_id', 'recipient_id', 'purpose'])


def downgrade():
    op.execute("DELETE FROM downstream_notice WHERE purpose <> 'act'")
    with op.batch_alter_table('downstream_notice', schema=None) as batch_op:
        batch_op.drop_constraint('uq_downstream_notice_request_id_recipient_id_purpose', type_='unique')
        batch_op.create_unique_constraint('uq_downstream_notice_request_id_recipient_id', ['request_id', 'recipient_id'])
        batch_op.drop_column('purpose')
