"""inbox index on candidates

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('task_candidates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_task_candidates_inbox', ['kind', 'key', 'created_at', 'task_id'], unique=False)

    op.execute(
        "UPDATE task_candidates SET created_at = "
        "(SELECT human_tasks.created_at FROM human_tasks WHERE human_tasks.id = task_candidates.task_id)"
    )



def downgrade() -> None:
    with op.batch_alter_table('task_candidates', schema=None) as batch_op:
        batch_op.drop_index('ix_task_candidates_inbox')
        batch_op.drop_column('created_at')

