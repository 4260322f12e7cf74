"""subjects identity index

Revision ID: 0014_subjects
Revises: 0013_law
Create Date: 2026-11-30
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0014_subjects'
down_revision = '0013_law'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('identity_subject',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('email_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('phone_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('name_dob_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('claim_number_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('date_of_injury_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('employer_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('postal_code_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('imported_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_subject')),
    sa.UniqueConstraint('subject_key', name=op.f('uq_identity_subject_subject_key'))
    )
    with op.batch_alter_table('identity_subject', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_subject_claim_number_hash'), ['claim_number_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_subject_email_hash'), ['email_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_subject_name_dob_hash'), ['name_dob_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_subject_phone_hash'), ['phone_hash'], unique=False)

    op.create_table('subject_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rows_imported', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subject_import'))
    )
    op.create_table('verification_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('matched', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('unmatched', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('required', sa.Integer(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_verification_attempt_request_id_privacy_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_attempt'))
    )
    with op.batch_alter_table('verification_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_verification_attempt_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_verification_attempt_subject', ['subject_key', 'created_at'], unique=False)

    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('date_of_injury', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('employer', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('postal_code', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch_op.add_column(sa.Column('correction_points', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('postal_address', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('intake_confirmed_by', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))



def _queue_expression_indexes():
    """0005's expression indexes on privacy_request: SQLite's batch mode rebuilds the table without
    them (it cannot reflect them), so they are made again after a rebuild."""
    due = sa.text("coalesce(extended_due, response_due)")
    op.create_index('ix_privacy_request_due_order', 'privacy_request', [due, 'id'])
    for column in ('status', 'request_type', 'hold_reason', 'manner'):
        name = {'request_type': 'type', 'hold_reason': 'hold'}.get(column, column)
        op.create_index(f'ix_privacy_request_{name}_due', 'privacy_request', [column, due, 'id'])
    op.create_index('ix_privacy_request_last_name_lower', 'privacy_request', [sa.text('lower(last_name)')])
    op.create_index('ix_privacy_request_first_name_lower', 'privacy_request', [sa.text('lower(first_name)')])


def downgrade():
    rebuilt = op.get_bind().dialect.name == 'sqlite'
    if rebuilt:
        for name in ('due_order', 'status_due', 'type_due', 'hold_due', 'manner_due', 'last_name_lower',
                     'first_name_lower'):
            op.drop_index(f'ix_privacy_request_{name}', table_name='privacy_request')
    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.drop_column('acknowledged_by')
        batch_op.drop_column('intake_confirmed_by')
        batch_op.drop_column('postal_address')
        batch_op.drop_column('correction_points')
        batch_op.drop_column('postal_code')
        batch_op.drop_column('employer')
        batch_op.drop_column('date_of_injury')
    if rebuilt:
        _queue_expression_indexes()

    with op.batch_alter_table('verification_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_verification_attempt_subject')
        batch_op.drop_index(batch_op.f('ix_verification_attempt_request_id'))

    op.drop_table('verification_attempt')
    op.drop_table('subject_import')
    with op.batch_alter_table('identity_subject', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_subject_phone_hash'))
        batch_op.drop_index(batch_op.f('ix_identity_subject_name_dob_hash'))
        batch_op.drop_index(batch_op.f('ix_identity_subject_email_hash'))
        batch_op.drop_index(batch_op.f('ix_identity_subject_claim_number_hash'))

    op.drop_table('identity_subject')
