"""audit: a stored chain head per process history, and the record of every audit verification

process_heads keeps, per process key, how many events its history has and the last one's hash,
as cases.last_event_hash does for a case: without it the last events of a process history could
be removed and the shorter chain would still verify. Existing histories get their head from the
events stored now. audit_runs records each `rutin audit verify` (by the schedule, the command
line or a person): when, what it checked, whether it was clean and what it found; audit_schedule
when the scheduled one is next due.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'process_heads',
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('event_count', sa.Integer(), nullable=False),
        sa.Column('last_event_hash', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('process_key', name=op.f('pk_process_heads')),
    )
    op.execute(
        "INSERT INTO process_heads (process_key, event_count, last_event_hash) "
        "SELECT e.process_key, e.seq, e.hash FROM process_events e "
        "WHERE e.seq = (SELECT MAX(m.seq) FROM process_events m WHERE m.process_key = e.process_key)"
    )
    op.create_table(
        'audit_runs',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('trigger', sa.String(length=20), nullable=False),
        sa.Column('actor', sa.String(length=120), nullable=False),
        sa.Column('clean', sa.Boolean(), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.Column('processes', sa.Integer(), nullable=False),
        sa.Column('checkpoint', sa.Integer(), nullable=True),
        sa.Column('findings', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_runs')),
    )
    with op.batch_alter_table('audit_runs', schema=None) as batch_op:
        batch_op.create_index('ix_audit_runs_clean_finished', ['clean', 'finished_at'], unique=False)
    # One row: when the scheduled seal and verification is next due. A worker runs it only by
    # moving this instant on in one conditional UPDATE, so it runs once however many workers poll.
    op.create_table(
        'audit_schedule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_schedule')),
    )
    op.execute("INSERT INTO audit_schedule (id) VALUES (1)")


def downgrade() -> None:
    with op.batch_alter_table('audit_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_runs_clean_finished')
    op.drop_table('audit_schedule')
    op.drop_table('audit_runs')
    op.drop_table('process_heads')
