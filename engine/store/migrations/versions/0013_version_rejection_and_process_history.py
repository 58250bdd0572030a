"""version rejection and approval route, one published version per key, process history

process_versions gains approved_via ("owner" or "admin"), rejected_by, rejected_at and
rejection_reason; of several published versions of a key only the newest stays published, the
others become "superseded". process_events is the process-level history (uploads, approvals,
rejections), append-only like case_events.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_via', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('rejected_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rejection_reason', sa.Text(), nullable=True))
    # Versions approved before the route was recorded: by a second person unless nobody approved
    # (a first version was published at upload), which is what an administrator's set-up did.
    op.execute("UPDATE process_versions SET approved_via = CASE WHEN approved_by IS NULL THEN 'admin' "
               "ELSE 'owner' END WHERE status = 'published'")
    op.execute(
        "UPDATE process_versions SET status = 'superseded' WHERE status = 'published' AND version < "
        "(SELECT MAX(p.version) FROM process_versions p WHERE p.key = process_versions.key "
        "AND p.status = 'published')"
    )
    op.create_table(
        'process_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('actor', sa.String(length=120), nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('prev_hash', sa.String(length=64), nullable=True),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_process_events')),
        sa.UniqueConstraint('process_key', 'seq', name=op.f('uq_process_events_process_key_seq')),
    )
    with op.batch_alter_table('process_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_events_process_key'), ['process_key'], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER process_events_no_{verb.lower()} BEFORE {verb} ON process_events "
                "BEGIN SELECT RAISE(ABORT, 'process_events is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION process_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'process_events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER process_events_append_only BEFORE UPDATE OR DELETE ON process_events "
            "FOR EACH ROW EXECUTE FUNCTION process_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS process_events_append_only ON process_events")
        op.execute("DROP FUNCTION IF EXISTS process_events_append_only()")
    with op.batch_alter_table('process_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_events_process_key'))
    op.drop_table('process_events')
    op.execute("UPDATE process_versions SET status = 'published' WHERE status = 'superseded'")
    op.execute("UPDATE process_versions SET status = 'draft' WHERE status = 'rejected'")
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_column('rejection_reason')
        batch_op.drop_column('rejected_at')
        batch_op.drop_column('rejected_by')
        batch_op.drop_column('approved_via')
