"""Case assignees, the staff's read mark, names folded for search, and what a correction corrected

Revision ID: 0031_case_assignees
Revises: 0030_clients
Create Date: 2026-12-07 11:22:28.330728
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0031_case_assignees'
down_revision = '0030_clients'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs (no table rebuild on SQLite: the open-case count triggers of 0021 stay in place).
    op.add_column('case_outcome', sa.Column('corrected_details', sa.Text(), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':  # Alembic would rebuild the table for the foreign key
        op.execute('ALTER TABLE privacy_request ADD COLUMN assignee_id INTEGER '
                   'REFERENCES staff_user (id)')
    else:
        op.add_column('privacy_request', sa.Column(
            'assignee_id', sa.Integer(),
            sa.ForeignKey('staff_user.id', name=op.f('fk_privacy_request_assignee_id_staff_user')),
            nullable=True))
    op.add_column('privacy_request', sa.Column('staff_read_at', portal.models.UTCDateTime(timezone=True), nullable=True))
    op.add_column('privacy_request', sa.Column('name_folded', sqlmodel.sql.sqltypes.AutoString(length=201),
                                               nullable=False, server_default=''))
    op.create_index(op.f('ix_privacy_request_assignee_id'), 'privacy_request', ['assignee_id'], unique=False)
    op.create_index(op.f('ix_privacy_request_name_folded'), 'privacy_request', ['name_folded'], unique=False)
    # Existing cases get their searchable name, folded by the same rule the models use.
    from portal import normalize
    bind = op.get_bind()
    table = sa.table('privacy_request', sa.column('id', sa.Integer), sa.column('first_name', sa.String),
                     sa.column('last_name', sa.String), sa.column('name_folded', sa.String))
    rows = bind.execute(sa.select(table.c.id, table.c.first_name, table.c.last_name)).all()
    for ident, first, last in rows:
        bind.execute(table.update().where(table.c.id == ident).values(
            name_folded=normalize.fold(f"{first or ''} {last or ''}")[:201]))


def downgrade():
    # Plain DROP COLUMNs too (SQLite 3.35+ drops a column natively, its foreign key with it).
    op.drop_index(op.f('ix_privacy_request_name_folded'), table_name='privacy_request')
    op.drop_index(op.f('ix_privacy_request_assignee_id'), table_name='privacy_request')
    for column in ('name_folded', 'staff_read_at', 'assignee_id'):
        op.drop_column('privacy_request', column)
    op.drop_column('case_outcome', 'corrected_details')
