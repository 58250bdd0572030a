"""process owning units, and how an ordinance item was approved

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'process_units',
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('org_unit_id', sa.String(length=60), nullable=False),
        sa.Column('updated_by', sa.String(length=120), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name='fk_process_units_org_unit_id_org_units'),
        sa.PrimaryKeyConstraint('process_key', name='pk_process_units'),
    )
    with op.batch_alter_table('delegation_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_note', sa.String(length=400), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('delegation_items', schema=None) as batch_op:
        batch_op.drop_column('approval_note')
    op.drop_table('process_units')
