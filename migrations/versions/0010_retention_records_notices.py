"""retention: §7101 request records, references in the audit chain, recipients and notices downstream

Existing audit events keep their hashes: they are marked chain_version 1 and the ids they hashed are
frozen in `hashed_ids`, so `audit verify` still passes once a purge has nulled their links. Every
request gets its §7101 record.

Revision ID: 0010_retention
Revises: 0009_inquiry_attachment
Create Date: 2026-11-30 05:15:53.764355
"""
import json

import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0010_retention'
down_revision = '0009_inquiry_attachment'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('recipient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('request_types', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('webhook_url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('webhook_secret', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recipient'))
    )
    op.create_table('request_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('request_type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('manner', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('received_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome_code', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=True),
    sa.Column('outcome_citation', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('extended_due', sa.Date(), nullable=True),
    sa.Column('notice_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_record')),
    sa.UniqueConstraint('reference', name=op.f('uq_request_record_reference'))
    )
    with op.batch_alter_table('request_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_record_closed_at'), ['closed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_request_record_received_at'), ['received_at'], unique=False)

    op.create_table('retention_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('started_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_run')),
    sa.UniqueConstraint('day', name=op.f('uq_retention_run_day'))
    )
    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('secret', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_webhook_delivery_idempotency_key'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_due', ['status', 'next_attempt_at'], unique=False)

    op.create_table('downstream_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_key', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('webhook_delivery_id', sa.Integer(), nullable=True),
    sa.Column('outbox_message_id', sa.Integer(), nullable=True),
    sa.Column('delivered_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recorded_on', sa.Date(), nullable=True),
    sa.Column('recorded_method', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.Column('settled_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('settled_at', portal.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outbox_message.id'], name=op.f('fk_downstream_notice_outbox_message_id_outbox_message'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recipient_id'], ['recipient.id'], name=op.f('fk_downstream_notice_recipient_id_recipient')),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_downstream_notice_request_id_privacy_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_delivery_id'], ['webhook_delivery.id'], name=op.f('fk_downstream_notice_webhook_delivery_id_webhook_delivery'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_downstream_notice')),
    sa.UniqueConstraint('notice_key', name=op.f('uq_downstream_notice_notice_key')),
    sa.UniqueConstraint('request_id', 'recipient_id', name='uq_downstream_notice_request_id_recipient_id')
    )
    with op.batch_alter_table('downstream_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_downstream_notice_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_ref', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True))
        batch_op.add_column(sa.Column('inquiry_ref', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True))
        batch_op.add_column(sa.Column('chain_version', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('hashed_ids', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_event_request_ref'), ['request_ref'], unique=False)
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.alter_column('chain_version', server_default=None)
    _freeze_hashed_ids()
    _backfill_records()


def _freeze_hashed_ids():
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT e.id, e.request_id, e.inquiry_id, r.reference, i.reference FROM audit_event e "
        "LEFT JOIN privacy_request r ON r.id = e.request_id LEFT JOIN inquiry i ON i.id = e.inquiry_id")).all()
    for event_id, request_id, inquiry_id, request_ref, inquiry_ref in rows:
        conn.execute(sa.text("UPDATE audit_event SET hashed_ids = :ids, request_ref = :rr, inquiry_ref = :ir "
                             "WHERE id = :id"),
                     {"ids": json.dumps([request_id, inquiry_id], separators=(",", ":")), "rr": request_ref,
                      "ir": inquiry_ref, "id": event_id})


def _backfill_records():
    op.execute("INSERT INTO request_record (reference, request_type, manner, status, received_at, closed_at, "
               "outcome_code, outcome_citation, extended_due, notice_count) "
               "SELECT reference, request_type, manner, status, received_at, closed_at, outcome_code, "
               "outcome_citation, extended_due, 0 FROM privacy_request")


def downgrade():
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_request_ref'))
        batch_op.drop_column('hashed_ids')
        batch_op.drop_column('chain_version')
        batch_op.drop_column('inquiry_ref')
        batch_op.drop_column('request_ref')

    with op.batch_alter_table('downstream_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_downstream_notice_request_id'))

    op.drop_table('downstream_notice')
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_due')

    op.drop_table('webhook_delivery')
    op.drop_table('retention_run')
    with op.batch_alter_table('request_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_record_received_at'))
        batch_op.drop_index(batch_op.f('ix_request_record_closed_at'))

    op.drop_table('request_record')
    op.drop_table('recipient')
