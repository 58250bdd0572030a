"""records management: retention rules under culling decisions, holds, culling records, the
culling job's schedule, deliveries to the e-archive and their receipts; case events may have their data removed by culling (redacted_at)

The case history stays append-only with one exception, which the triggers spell out: an event of
a case that has a culling record may have its `data` emptied and `redacted_at` set, every other
column (its hash among them) unchanged. Nothing else may change an event, and nothing may delete
one (`engine/records/redaction.py` says how such a history still verifies).

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

# What an update of a case event must leave alone for the trigger to let it through. The triggers'
# text is built from these constant column names only (hence the noqa on S608).
KEPT_COLUMNS = ("id", "case_id", "seq", "type", "actor", "role", "task_id", "element_id", "process_version_id", "at",
         "prev_hash", "hash")
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # noqa: S608
    "IF TG_OP = 'UPDATE' AND OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL AND NEW.data::text = '{}' "
    + "".join(f"AND NEW.{c} IS NOT DISTINCT FROM OLD.{c} " for c in KEPT_COLUMNS)
    + "AND EXISTS (SELECT 1 FROM culling_records r WHERE r.case_id = OLD.case_id) THEN RETURN NEW; END IF; "
    "RAISE EXCEPTION 'case_events is append-only'; END $$"
)
SQLITE_UPDATE = (
    "CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events WHEN NOT ("  # noqa: S608
    "OLD.redacted_at IS NULL AND NEW.redacted_at IS NOT NULL AND NEW.data = '{}' "
    + "".join(f"AND NEW.{c} IS OLD.{c} " for c in KEPT_COLUMNS)
    + "AND EXISTS (SELECT 1 FROM culling_records r WHERE r.case_id = OLD.case_id)) "
    "BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END"
)


def upgrade() -> None:
    op.create_table(
        'retention_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('outcome_field', sa.String(length=200), nullable=True),
        sa.Column('outcome_value', sa.String(length=200), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=10), nullable=False),
        sa.Column('period_months', sa.Integer(), nullable=True),
        sa.Column('decision_ref', sa.String(length=200), nullable=False),
        sa.Column('decision_body', sa.String(length=200), nullable=False),
        sa.Column('decision_date', sa.String(length=10), nullable=False),
        sa.Column('note', sa.String(length=1000), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('proposed_by', sa.String(length=120), nullable=False),
        sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('approved_by', sa.String(length=120), nullable=True),
        sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_rules')),
    )
    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.create_index('ix_retention_rules_scope', ['process_key', 'outcome_field', 'outcome_value'],
                              unique=False)
    op.create_table(
        'retention_holds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('reason', sa.String(length=1000), nullable=False),
        sa.Column('held_by', sa.String(length=120), nullable=False),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('released_by', sa.String(length=120), nullable=True),
        sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('release_reason', sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_holds')),
    )
    with op.batch_alter_table('retention_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_holds_case_id'), ['case_id'], unique=False)
    op.create_table(
        'culling_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('process_name', sa.String(length=300), nullable=False),
        sa.Column('process_version', sa.Integer(), nullable=False),
        sa.Column('business_key', sa.String(length=200), nullable=True),
        sa.Column('org_unit_id', sa.String(length=60), nullable=True),
        sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('rule_id', sa.Integer(), nullable=False),
        sa.Column('rule_version', sa.Integer(), nullable=False),
        sa.Column('decision_ref', sa.String(length=200), nullable=False),
        sa.Column('decision_body', sa.String(length=200), nullable=False),
        sa.Column('decision_date', sa.String(length=10), nullable=False),
        sa.Column('culled_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('culled_by', sa.String(length=120), nullable=False),
        sa.Column('events_redacted', sa.Integer(), nullable=False),
        sa.Column('checkpoint', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['rule_id'], ['retention_rules.id'],
                                name=op.f('fk_culling_records_rule_id_retention_rules')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_culling_records')),
        sa.UniqueConstraint('case_id', name=op.f('uq_culling_records_case_id')),
    )
    with op.batch_alter_table('culling_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_culling_records_culled_at'), ['culled_at'], unique=False)
    op.create_table(
        'retention_schedule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_by', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_schedule')),
    )
    op.execute("INSERT INTO retention_schedule (id) VALUES (1)")
    op.create_table(
        'archive_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('package_id', sa.String(length=100), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('exported_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('exported_by', sa.String(length=120), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('received_by', sa.String(length=120), nullable=True),
        sa.Column('receipt_ref', sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_archive_deliveries')),
    )
    with op.batch_alter_table('archive_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_archive_deliveries_case_id'), ['case_id'], unique=False)
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # ALTER TABLE ADD COLUMN leaves the triggers alone (no batch copy of the table).
        op.execute("DROP TRIGGER case_events_no_update")
        op.add_column('case_events', sa.Column('redacted_at', sa.DateTime(timezone=True), nullable=True))
        op.execute(SQLITE_UPDATE)
    else:
        op.add_column('case_events', sa.Column('redacted_at', sa.DateTime(timezone=True), nullable=True))
        op.execute(PG_FUNCTION)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER case_events_no_update")
        op.execute("DROP TRIGGER case_events_no_delete")
        with op.batch_alter_table('case_events', schema=None) as batch_op:
            batch_op.drop_column('redacted_at')
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER case_events_no_{verb.lower()} BEFORE {verb} ON case_events "
                       "BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END")
    else:
        op.execute("CREATE OR REPLACE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'case_events is append-only'; END $$")
        op.drop_column('case_events', 'redacted_at')
    with op.batch_alter_table('archive_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_archive_deliveries_case_id'))
    op.drop_table('archive_deliveries')
    op.drop_table('retention_schedule')
    with op.batch_alter_table('culling_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_culling_records_culled_at'))
    op.drop_table('culling_records')
    with op.batch_alter_table('retention_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_holds_case_id'))
    op.drop_table('retention_holds')
    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_retention_rules_scope')
    op.drop_table('retention_rules')
