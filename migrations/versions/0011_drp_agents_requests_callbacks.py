"""Data Rights Protocol: agents, the protocol side of cases, status callbacks

Revision ID: 0011_drp
Revises: 0010_retention
Create Date: 2026-11-30 05:16:05.514655
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0011_drp'
down_revision = '0010_retention'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('drp_agent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('verify_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('token_issued_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('removed_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drp_agent')),
    sa.UniqueConstraint('agent_id', name=op.f('uq_drp_agent_agent_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_drp_agent_token_hash'))
    )
    op.create_table('drp_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('request_uuid', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('agent_pk', sa.Integer(), nullable=False),
    sa.Column('agent_request_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('message_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('exercise', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('regime', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('drp_version', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status_callback', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('claims', sa.JSON(), nullable=False),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_pk'], ['drp_agent.id'], name=op.f('fk_drp_request_agent_pk_drp_agent')),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_drp_request_request_id_privacy_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drp_request')),
    sa.UniqueConstraint('agent_pk', 'agent_request_id', name='uq_drp_request_agent_pk_agent_request_id'),
    sa.UniqueConstraint('agent_pk', 'message_digest', name='uq_drp_request_agent_pk_message_digest'),
    sa.UniqueConstraint('request_id', name=op.f('uq_drp_request_request_id')),
    sa.UniqueConstraint('request_uuid', name=op.f('uq_drp_request_request_uuid'))
    )
    op.create_table('drp_callback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_drp_callback_request_id_privacy_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drp_callback')),
    sa.UniqueConstraint('delivery_id', name=op.f('uq_drp_callback_delivery_id'))
    )
    with op.batch_alter_table('drp_callback', schema=None) as batch_op:
        batch_op.create_index('ix_drp_callback_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_drp_callback_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_drp_callback_subject', ['subject', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('drp_callback', schema=None) as batch_op:
        batch_op.drop_index('ix_drp_callback_subject')
        batch_op.drop_index(batch_op.f('ix_drp_callback_request_id'))
        batch_op.drop_index('ix_drp_callback_due')

    op.drop_table('drp_callback')
    op.drop_table('drp_request')
    op.drop_table('drp_agent')
