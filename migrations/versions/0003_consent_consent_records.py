"""consent records

Revision ID: 0003_consent
Revises: 0006_documents
Create Date: 2026-11-28 02:51:05.753495
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0003_consent'
down_revision = '0006_documents'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('consent_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receipt_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('consent_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('choices', sa.JSON(), nullable=False),
    sa.Column('policy_version', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('gpc', sa.Boolean(), nullable=False),
    sa.Column('user_agent_family', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_record')),
    sa.UniqueConstraint('receipt_id', name=op.f('uq_consent_record_receipt_id'))
    )
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.create_index('ix_consent_record_current', ['consent_id', 'id'], unique=False)
        batch_op.create_index('ix_consent_record_version', ['policy_version', 'consent_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_record_version')
        batch_op.drop_index('ix_consent_record_current')

    op.drop_table('consent_record')
