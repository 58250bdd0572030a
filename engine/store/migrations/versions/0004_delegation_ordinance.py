"""delegation ordinance

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delegation_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=400), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=True),
    sa.Column('element_id', sa.String(length=200), nullable=True),
    sa.Column('legal_basis', sa.String(length=200), nullable=True),
    sa.Column('delegate_role', sa.String(length=200), nullable=False),
    sa.Column('substitute_role', sa.String(length=200), nullable=True),
    sa.Column('superior_may_decide', sa.Boolean(), nullable=False),
    sa.Column('limit_expr', sa.String(length=400), nullable=True),
    sa.Column('reporting', sa.String(length=20), nullable=False),
    sa.Column('committee', sa.String(length=200), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('adopted_ref', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=120), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delegation_items'))
    )
    with op.batch_alter_table('delegation_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegation_items_number'), ['number'], unique=False)
        batch_op.create_index(batch_op.f('ix_delegation_items_process_key'), ['process_key'], unique=False)

    op.create_table('delegated_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('item_number', sa.String(length=40), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('business_key', sa.String(length=200), nullable=True),
    sa.Column('task_name', sa.String(length=300), nullable=False),
    sa.Column('decided_by', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=200), nullable=False),
    sa.Column('grounds', sa.String(length=20), nullable=False),
    sa.Column('committee', sa.String(length=200), nullable=True),
    sa.Column('reporting', sa.String(length=20), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['delegation_items.id'], name=op.f('fk_delegated_decisions_item_id_delegation_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delegated_decisions'))
    )
    with op.batch_alter_table('delegated_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegated_decisions_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_delegated_decisions_committee_at', ['committee', 'decided_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('delegated_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_delegated_decisions_committee_at')
        batch_op.drop_index(batch_op.f('ix_delegated_decisions_case_id'))

    op.drop_table('delegated_decisions')
    with op.batch_alter_table('delegation_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegation_items_process_key'))
        batch_op.drop_index(batch_op.f('ix_delegation_items_number'))

    op.drop_table('delegation_items')
