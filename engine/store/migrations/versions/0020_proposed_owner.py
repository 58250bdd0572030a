"""a draft that changes the process owner role records the owner it proposes

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02

Until now a draft's `owner_role` was whatever its own diagram declared, and that decided who
could approve it. From now on a draft's `owner_role` is the owner of the process as published
(null for a process never published), and `proposed_owner_role` the owner the draft would
install where it differs (for a new process, its first owner): such a draft only an
administrator approves. Existing drafts are brought to that meaning here.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

DEFAULT_OWNER_ROLE = "Processägare"


def _key(role: str) -> str:
    # engine.authority.roles.role_key as it is today, copied so this migration keeps meaning what it meant
    return " ".join(unicodedata.normalize("NFC", role).casefold().split())


def upgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed_owner_role', sa.String(length=200), nullable=True))
    conn = op.get_bind()
    published: dict[str, str | None] = {}
    for key, owner in conn.execute(sa.text("SELECT key, owner_role FROM process_versions WHERE status = 'published'")):
        published[key] = owner
    drafts = conn.execute(sa.text("SELECT id, key, owner_role FROM process_versions WHERE status = 'draft'")).all()
    for version_id, key, declared in drafts:
        current = published.get(key) or (DEFAULT_OWNER_ROLE if key in published else None)
        if current is None:
            owner, proposed = None, declared or DEFAULT_OWNER_ROLE
        elif declared and _key(declared) != _key(current):
            owner, proposed = current, declared
        else:
            owner, proposed = current, None
        conn.execute(sa.text("UPDATE process_versions SET owner_role = :owner, proposed_owner_role = :proposed "
                             "WHERE id = :id"), {"owner": owner, "proposed": proposed, "id": version_id})


def downgrade() -> None:
    conn = op.get_bind()
    # A draft's owner_role meant the owner its diagram declared.
    conn.execute(sa.text("UPDATE process_versions SET owner_role = proposed_owner_role "
                         "WHERE status = 'draft' AND proposed_owner_role IS NOT NULL"))
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_column('proposed_owner_role')
