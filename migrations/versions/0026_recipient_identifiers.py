"""The identifiers each recipient of notices holds (§7002): a notice carries only those

Revision ID: 0026_recipient_identifiers
Revises: 0025_notice_retry_from
Create Date: 2026-12-07 06:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0026_recipient_identifiers'
down_revision = '0025_notice_retry_from'
branch_labels = None
depends_on = None


def upgrade():
    # Existing recipients keep what they were sent until now; an admin narrows it on the recipient's page.
    with op.batch_alter_table('recipient') as batch:
        batch.add_column(sa.Column('identifiers', sa.String(length=64), nullable=False,
                                   server_default='name,email,phone,claim_number'))


def downgrade():
    with op.batch_alter_table('recipient') as batch:
        batch.drop_column('identifiers')
