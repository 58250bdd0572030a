"""measure targets per process and measure (measure_targets), and the follow-up case opened once
per process, measure and closed period out of target (measure_follow_ups); the link from a
deviation case to the case and step it was reported from (deviation_links)

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'measure_targets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('measure', sa.String(length=60), nullable=False),
        sa.Column('target', sa.Float(), nullable=False),
        sa.Column('set_by', sa.String(length=120), nullable=False),
        sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_measure_targets')),
        sa.UniqueConstraint('process_key', 'measure', name='uq_measure_targets_key_measure'),
    )
    op.create_table(
        'measure_follow_ups',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('measure', sa.String(length=60), nullable=False),
        sa.Column('period_from', sa.DateTime(timezone=True), nullable=False),
        sa.Column('period_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('target', sa.Float(), nullable=False),
        sa.Column('actual', sa.Float(), nullable=False),
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_measure_follow_ups_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_measure_follow_ups')),
        sa.UniqueConstraint('process_key', 'measure', 'period_from', name='uq_measure_follow_ups_period'),
    )
    with op.batch_alter_table('measure_follow_ups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measure_follow_ups_case_id'), ['case_id'], unique=False)
    op.create_table(
        'deviation_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('source_case_id', sa.String(length=36), nullable=False),
        sa.Column('source_task_id', sa.String(length=36), nullable=True),
        sa.Column('source_step', sa.String(length=300), nullable=True),
        sa.Column('reported_by', sa.String(length=120), nullable=False),
        sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_deviation_links_case_id_cases')),
        sa.ForeignKeyConstraint(['source_case_id'], ['cases.id'],
                                name=op.f('fk_deviation_links_source_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deviation_links')),
        sa.UniqueConstraint('case_id', name=op.f('uq_deviation_links_case_id')),
    )
    with op.batch_alter_table('deviation_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deviation_links_source_case_id'), ['source_case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('deviation_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deviation_links_source_case_id'))
    op.drop_table('deviation_links')
    with op.batch_alter_table('measure_follow_ups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measure_follow_ups_case_id'))
    op.drop_table('measure_follow_ups')
    op.drop_table('measure_targets')
