"""a superseded or rejected version's bytes may be uploaded again, as a new draft

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_LIVE = sa.text("status IN ('draft', 'published')")


def upgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_process_versions_key_content_hash', type_='unique')
    op.create_index('uq_process_versions_live_content', 'process_versions', ['key', 'content_hash'], unique=True,
                    sqlite_where=_LIVE, postgresql_where=_LIVE)


def downgrade() -> None:
    op.drop_index('uq_process_versions_live_content', table_name='process_versions')
    # Fails, and changes nothing, where a version's bytes were uploaded again: cases may run on
    # both versions, so neither is removed here.
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_process_versions_key_content_hash', ['key', 'content_hash'])
