"""case deadlines and deadline policies

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deadline_policies',
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('due', sa.String(length=40), nullable=True),
    sa.Column('follow_up', sa.String(length=40), nullable=True),
    sa.Column('escalation', sa.String(length=400), nullable=True),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('process_key', 'element_id', name=op.f('pk_deadline_policies'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deadline_paused_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deadline_extended', sa.Boolean(), nullable=False, server_default=sa.false()))



def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('deadline_extended')
        batch_op.drop_column('deadline_paused_at')
        batch_op.drop_column('deadline_at')

    op.drop_table('deadline_policies')
