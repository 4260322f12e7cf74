"""indexes: partial indexes over the open cases (the queue's page and counts), covering ones for §7102 metrics

Revision ID: 0017_indexes
Revises: 0016_heartbeat
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = '0017_indexes'
down_revision = '0016_heartbeat'
branch_labels = None
depends_on = None

# Written out, not imported: a migration keeps the statuses that were open when it was written.
# The same literal condition as portal.models.IS_OPEN, so both databases match queries to it.
OPEN = "status IN ('awaiting_email', 'in_progress', 'on_hold', 'verifying')"
DUE = "coalesce(extended_due, response_due)"
INDEXES = {
    'ix_privacy_request_open_status': ['status'],
    # The dates too: PostgreSQL reads an index alone only when it holds what the expression reads.
    'ix_privacy_request_open_due': [DUE, 'id', 'status', 'extended_due', 'response_due'],
    'ix_privacy_request_open_type_due': ['request_type', DUE, 'id', 'status'],
    'ix_privacy_request_open_hold_due': ['hold_reason', DUE, 'id', 'status'],
    'ix_privacy_request_open_manner_due': ['manner', DUE, 'id', 'status'],
}


ANSWERED = "status IN ('completed', 'denied', 'partially_completed')"


def upgrade():
    where = sa.text(OPEN)
    for name, columns in INDEXES.items():
        op.create_index(name, 'privacy_request', [sa.text(c) if c == DUE else c for c in columns],
                        postgresql_where=where, sqlite_where=where)
    # §7102 metrics: a year of §7101 records read from indexes alone.
    op.create_index('ix_request_record_received_type', 'request_record', ['received_at', 'request_type'])
    op.create_index('ix_request_record_answered', 'request_record',
                    ['closed_at', 'request_type', 'status', 'outcome_code', 'received_at'],
                    postgresql_where=sa.text(ANSWERED), sqlite_where=sa.text(ANSWERED))


def downgrade():
    op.drop_index('ix_request_record_answered', table_name='request_record')
    op.drop_index('ix_request_record_received_type', table_name='request_record')
    for name in reversed(list(INDEXES)):
        op.drop_index(name, table_name='privacy_request')
