"""where a case clock counts from, and whether it stands still to restart

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadline_from_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deadline_from_value', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('deadline_pause_kind', sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('deadline_pause_kind')
        batch_op.drop_column('deadline_from_value')
        batch_op.drop_column('deadline_from_at')
