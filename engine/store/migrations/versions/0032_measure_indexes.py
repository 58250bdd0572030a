"""indexes the measures read by: events by type and time, a process's cases and finished steps

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain CREATE INDEX, not a batch: a batch that rebuilt case_events on SQLite would drop its
    # append-only triggers.
    op.create_index('ix_case_events_type_at', 'case_events', ['type', 'at'], unique=False)
    op.create_index('ix_cases_key_created', 'cases', ['process_key', 'created_at'], unique=False)
    op.create_index('ix_human_tasks_key_status_completed', 'human_tasks',
                    ['process_key', 'status', 'completed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_human_tasks_key_status_completed', table_name='human_tasks')
    op.drop_index('ix_cases_key_created', table_name='cases')
    op.drop_index('ix_case_events_type_at', table_name='case_events')
