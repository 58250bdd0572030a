"""accounts that end and tokens with a life: users.deactivated_at; api_tokens gain a name, an
expiry, a last use, a scope (the processes an integration's token may start cases of) and who
revoked them; the append-only security log (security_events)

Tokens issued before this revision had no expiry; they are given one: the default lifetime
(RUTIN_TOKEN_DAYS, 90 days unless set) counted from the upgrade, so no credential lives forever
and none stops working the moment the upgrade runs.

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import os
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=120), server_default='token', nullable=False))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('start_only', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('created_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('revoked_by', sa.String(length=120), nullable=True))
    from engine.base.clock import SystemClock

    days = int(os.environ.get("RUTIN_TOKEN_DAYS") or 90)
    tokens = sa.table("api_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))
    op.execute(sa.update(tokens).where(tokens.c.expires_at.is_(None))
               .values(expires_at=SystemClock().now() + timedelta(days=days)))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_table(
        'security_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=True),
        sa.Column('address', sa.String(length=100), nullable=True),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_security_events')),
    )
    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_security_events_at'), ['at'], unique=False)
    # Append-only, as the case history is: not even Rutin's own code may change or remove an entry.
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER security_events_no_{verb.lower()} BEFORE {verb} ON security_events "
                "BEGIN SELECT RAISE(ABORT, 'security_events is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'security_events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON security_events "
            "FOR EACH ROW EXECUTE FUNCTION security_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS security_events_append_only ON security_events")
        op.execute("DROP FUNCTION IF EXISTS security_events_append_only()")
    with op.batch_alter_table('security_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_security_events_at'))
    op.drop_table('security_events')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('revoked_by')
        batch_op.drop_column('created_by')
        batch_op.drop_column('start_only')
        batch_op.drop_column('last_used_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('name')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
