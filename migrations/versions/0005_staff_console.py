"""staff console

Revision ID: 0005_staff_console
Revises: 0003_consent
Create Date: 2026-11-28 02:50:40.373308
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0005_staff_console'
down_revision = '0003_consent'  # after documents: response files are documents (services/documents.py)
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_case_note_request_id_privacy_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_case_note_staff_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_note'))
    )
    with op.batch_alter_table('case_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_note_request_id'), ['request_id'], unique=False)

    op.create_table('case_outcome',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('correction_result', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
    sa.Column('basis_code', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.Column('deleted_summary', sa.Text(), nullable=True),
    sa.Column('kept_summary', sa.Text(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_case_outcome_request_id_privacy_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_case_outcome_staff_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_outcome')),
    sa.UniqueConstraint('request_id', name=op.f('uq_case_outcome_request_id'))
    )
    op.create_table('contested_statement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_contested_statement_request_id_privacy_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_contested_statement_staff_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contested_statement')),
    sa.UniqueConstraint('request_id', name=op.f('uq_contested_statement_request_id'))
    )
    op.create_table('identity_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('data_points', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_identity_check_request_id_privacy_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_identity_check_staff_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_check'))
    )
    with op.batch_alter_table('identity_check', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_check_request_id'), ['request_id'], unique=False)

    op.create_table('response_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_response_file_document_id_document')),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_response_file_request_id_privacy_request'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_user.id'], name=op.f('fk_response_file_staff_id_staff_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response_file')),
    sa.UniqueConstraint('document_id', name=op.f('uq_response_file_document_id'))
    )
    with op.batch_alter_table('response_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_file_request_id'), ['request_id'], unique=False)

    op.create_table('response_download',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['response_file.id'], name=op.f('fk_response_download_file_id_response_file'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['privacy_request.id'], name=op.f('fk_response_download_request_id_privacy_request'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response_download'))
    )
    with op.batch_alter_table('response_download', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_download_file_id'), ['file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_response_download_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.create_index('ix_privacy_request_closed_at', ['closed_at'], unique=False)
        batch_op.create_index('ix_privacy_request_received_at', ['received_at'], unique=False)
        batch_op.create_index('ix_privacy_request_type_status', ['request_type', 'status'], unique=False)
        batch_op.create_index('ix_privacy_request_hold_status', ['hold_reason', 'status'], unique=False)
        batch_op.create_index('ix_privacy_request_manner_status', ['manner', 'status'], unique=False)

    # The queue's order and keyset: the due date in force, then id; one index per filter column.
    due = sa.text("coalesce(extended_due, response_due)")
    op.create_index('ix_privacy_request_due_order', 'privacy_request', [due, 'id'])
    for column in ('status', 'request_type', 'hold_reason', 'manner'):
        name = {'request_type': 'type', 'hold_reason': 'hold'}.get(column, column)
        op.create_index(f'ix_privacy_request_{name}_due', 'privacy_request', [column, due, 'id'])
    op.create_index('ix_privacy_request_last_name_lower', 'privacy_request', [sa.text('lower(last_name)')])
    op.create_index('ix_privacy_request_first_name_lower', 'privacy_request', [sa.text('lower(first_name)')])



def downgrade():
    for name in ('due_order', 'status_due', 'type_due', 'hold_due', 'manner_due', 'last_name_lower',
                 'first_name_lower'):
        op.drop_index(f'ix_privacy_request_{name}', table_name='privacy_request')
    with op.batch_alter_table('privacy_request', schema=None) as batch_op:
        batch_op.drop_index('ix_privacy_request_manner_status')
        batch_op.drop_index('ix_privacy_request_hold_status')
        batch_op.drop_index('ix_privacy_request_type_status')
        batch_op.drop_index('ix_privacy_request_received_at')
        batch_op.drop_index('ix_privacy_request_closed_at')

    with op.batch_alter_table('response_download', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_download_request_id'))
        batch_op.drop_index(batch_op.f('ix_response_download_file_id'))

    op.drop_table('response_download')
    with op.batch_alter_table('response_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_file_request_id'))

    op.drop_table('response_file')
    with op.batch_alter_table('identity_check', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_check_request_id'))

    op.drop_table('identity_check')
    op.drop_table('contested_statement')
    op.drop_table('case_outcome')
    with op.batch_alter_table('case_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_note_request_id'))

    op.drop_table('case_note')
