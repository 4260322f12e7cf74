"""The identity index's name keys: keyed hashes of the forms of a subject's name that still name
them (one of two surnames, one of two given names, no apostrophe, no suffix), with the date of birth,
for the row they belong to (the business's own, or a client's).
Subjects imported before this migration match by their whole name until they are imported again.

Revision ID: 0032_identity_name_keys
Revises: 0031_case_assignees
Create Date: 2026-12-07 11:19:39.767030
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0032_identity_name_keys'
down_revision = '0031_case_assignees'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('identity_name_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject_key', sa.String(length=100), nullable=False),
    sa.Column('client_key', sa.String(length=64), server_default='', nullable=False),
    sa.Column('name_dob_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['subject_key', 'client_key'], ['identity_subject.subject_key', 'identity_subject.client_key'], name='fk_identity_name_key_subject_key_client_key_identity_subject', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_name_key'))
    )
    with op.batch_alter_table('identity_name_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_name_key_name_dob_hash'), ['name_dob_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_name_key_subject_key'), ['subject_key'], unique=False)



def downgrade():
    with op.batch_alter_table('identity_name_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_name_key_subject_key'))
        batch_op.drop_index(batch_op.f('ix_identity_name_key_name_dob_hash'))

    op.drop_table('identity_name_key')
