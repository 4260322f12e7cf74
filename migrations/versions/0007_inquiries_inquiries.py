"""inquiries

Revision ID: 0007_inquiries
Revises: 0004_staff_auth
Create Date: 2026-11-28 03:08:19.441418
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0007_inquiries'
down_revision = '0004_staff_auth'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('inquiry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('organization', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('received_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('response_due', sa.Date(), nullable=False),
    sa.Column('answered_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('linked_request_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['linked_request_id'], ['privacy_request.id'], name=op.f('fk_inquiry_linked_request_id_privacy_request'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inquiry')),
    sa.UniqueConstraint('reference', name=op.f('uq_inquiry_reference'))
    )
    with op.batch_alter_table('inquiry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inquiry_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_inquiry_linked_request_id'), ['linked_request_id'], unique=False)
        batch_op.create_index('ix_inquiry_queue', ['status', 'urgent', 'response_due'], unique=False)

    op.create_table('inquiry_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inquiry_id', sa.Integer(), nullable=False),
    sa.Column('direction', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inquiry_id'], ['inquiry.id'], name=op.f('fk_inquiry_message_inquiry_id_inquiry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inquiry_message'))
    )
    with op.batch_alter_table('inquiry_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inquiry_message_inquiry_id'), ['inquiry_id'], unique=False)

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inquiry_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_inquiry_id'), ['inquiry_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_audit_event_inquiry_id_inquiry'), 'inquiry', ['inquiry_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('verification_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inquiry_id', sa.Integer(), nullable=True))
        batch_op.alter_column('request_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_verification_token_inquiry_id'), ['inquiry_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_verification_token_inquiry_id_inquiry'), 'inquiry', ['inquiry_id'], ['id'], ondelete='CASCADE')


def downgrade():
    op.execute("DELETE FROM verification_token WHERE request_id IS NULL")  # status links of inquiries
    with op.batch_alter_table('verification_token', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_verification_token_inquiry_id_inquiry'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_verification_token_inquiry_id'))
        batch_op.alter_column('request_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('inquiry_id')

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_event_inquiry_id_inquiry'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_audit_event_inquiry_id'))
        batch_op.drop_column('inquiry_id')

    with op.batch_alter_table('inquiry_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inquiry_message_inquiry_id'))

    op.drop_table('inquiry_message')
    with op.batch_alter_table('inquiry', schema=None) as batch_op:
        batch_op.drop_index('ix_inquiry_queue')
        batch_op.drop_index(batch_op.f('ix_inquiry_linked_request_id'))
        batch_op.drop_index(batch_op.f('ix_inquiry_email'))

    op.drop_table('inquiry')
