"""key fingerprints: what the secret key and the identity hash key were when the database was written

Revision ID: 0029_key_fingerprints
Revises: 0028_postal_letters
Create Date: 2026-12-07
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import portal.models  # noqa: F401  (UTCDateTime)

revision = '0029_key_fingerprints'
down_revision = '0028_postal_letters'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('key_fingerprint',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('recorded_at', portal.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_key_fingerprint'))
    )


def downgrade():
    op.drop_table('key_fingerprint')
