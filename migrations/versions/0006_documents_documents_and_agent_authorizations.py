"""documents and agent authorizations

Revision ID: 0006_documents
Revises: 0007_inquiries
Create Date: 2026-11-28 02:56:05.349033
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0006_documents'
down_revision = '0007_inquiries'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('storage_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('original_name', sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('uploaded_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_document_request_id_privacy_request'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document')),
    sa.UniqueConstraint('storage_name', name=op.f('uq_document_storage_name'))
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index('ix_document_key_id', ['key_id'], unique=False)
        batch_op.create_index('ix_document_request_purpose', ['request_id', 'purpose'], unique=False)

    op.create_table('agent_authorization',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('agent_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('agent_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('agent_email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('agent_business_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('agent_sos_number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('consumer_email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('consumer_phone', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('authorization_kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('consumer_decision', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('consumer_decided_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_decision', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('review_reason', sa.Text(), nullable=True),
    sa.Column('reviewed_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reviewed_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_agent_authorization_document_id_document'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_agent_authorization_request_id_privacy_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_authorization')),
    sa.UniqueConstraint('request_id', name=op.f('uq_agent_authorization_request_id'))
    )
    with op.batch_alter_table('agent_authorization', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_authorization_agent_email'), ['agent_email'], unique=False)


def downgrade():
    with op.batch_alter_table('agent_authorization', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_authorization_agent_email'))

    op.drop_table('agent_authorization')
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index('ix_document_request_purpose')
        batch_op.drop_index('ix_document_key_id')

    op.drop_table('document')
