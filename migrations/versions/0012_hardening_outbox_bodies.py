"""hardening: empty the bodies of mail no longer pending (they held live token links)

Data only: from now on the outbox keeps a message's bodies only while it is pending; this applies
the rule to what was sent or failed before. Downgrade has nothing to restore (the links are gone
on purpose), so it changes nothing.

Revision ID: 0012_hardening_outbox_bodies
Revises: 0011_drp
Create Date: 2026-11-30 05:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012_hardening_outbox_bodies'
down_revision = '0011_drp'
branch_labels = None
depends_on = None


def upgrade():
    outbox = sa.table('outbox_message', sa.column('status', sa.String), sa.column('text_body', sa.Text),
                      sa.column('html_body', sa.Text))
    op.execute(outbox.update().where(outbox.c.status != 'pending').values(text_body='', html_body=''))


def downgrade():
    pass
