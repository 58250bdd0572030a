"""the casefolded text a case is searched by (cases.search_text), filled for the cases there are

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from engine.base.search_text import search_text

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), nullable=True))
    conn = op.get_bind()
    cases = sa.table('cases', sa.column('id', sa.String), sa.column('business_key', sa.String),
                     sa.column('data', sa.Text), sa.column('search_text', sa.Text))
    rows = conn.execute(sa.select(cases.c.id, cases.c.business_key, cases.c.data)).all()
    for case_id, key, data in rows:
        try:
            parsed = json.loads(data) if isinstance(data, str) else data
        except ValueError:
            parsed = None
        conn.execute(sa.update(cases).where(cases.c.id == case_id).values(search_text=search_text(key, parsed)))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('search_text')
