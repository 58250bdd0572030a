"""the list view each person last chose on the inbox and the case list (saved_views)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'saved_views',
        sa.Column('user_name', sa.String(length=120), nullable=False),
        sa.Column('page', sa.String(length=20), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('user_name', 'page', name=op.f('pk_saved_views')),
    )


def downgrade() -> None:
    op.drop_table('saved_views')
