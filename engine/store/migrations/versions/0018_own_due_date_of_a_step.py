"""a step's own due date, beside the one in force (capped at the case deadline)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('own_due_at', sa.DateTime(timezone=True), nullable=True))
    # Until now a step's due date was its own.
    op.execute("UPDATE human_tasks SET own_due_at = due_at")


def downgrade() -> None:
    with op.batch_alter_table('human_tasks', schema=None) as batch_op:
        batch_op.drop_column('own_due_at')
