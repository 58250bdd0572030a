"""sign-in through an OpenID Connect provider: user_subjects (a user's issuer and stable subject),
oidc_group_roles (the roles an identity provider's group gives), user_roles.from_group (the group
whose mapping gave a role, so the role goes with the group)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_subjects',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_subjects_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_subjects')),
        sa.UniqueConstraint('issuer', 'subject', name=op.f('uq_user_subjects_issuer_subject')),
    )
    with op.batch_alter_table('user_subjects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_subjects_user_id'), ['user_id'], unique=False)
    op.create_table(
        'oidc_group_roles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('idp_group', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=200), nullable=False),
        sa.Column('role_key', sa.String(length=200), nullable=False),
        sa.Column('org_unit_id', sa.String(length=60), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_group_roles')),
    )
    with op.batch_alter_table('oidc_group_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_group_roles_idp_group'), ['idp_group'], unique=False)
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_group', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_column('from_group')
    with op.batch_alter_table('oidc_group_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_group_roles_idp_group'))
    op.drop_table('oidc_group_roles')
    with op.batch_alter_table('user_subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_subjects_user_id'))
    op.drop_table('user_subjects')
