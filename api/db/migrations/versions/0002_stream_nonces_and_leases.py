"""stream nonces and leases: the scale-out tables, under Alembic like every other table

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 02:20:00

Before this revision the two tables were created on first use (CREATE TABLE IF NOT EXISTS); a database
that has them already keeps them as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "sharpeyes_stream_nonces" not in have:
        # a signed stream entry's nonce, remembered past a Redis restart (api.cluster.scaleout.remember_nonce)
        op.create_table('sharpeyes_stream_nonces',
        sa.Column('worker', sa.String(length=100), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('marker', sa.String(length=200), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('worker', 'nonce'))
    if "sharpeyes_leases" not in have:
        # leases of coordination.leases.PostgresLeaseStore (leader jobs, camera pools, stream shards)
        op.create_table('sharpeyes_leases',
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('holder', sa.Text(), nullable=False),
        sa.Column('token', sa.BigInteger(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'))


def downgrade() -> None:
    op.drop_table('sharpeyes_leases')
    op.drop_table('sharpeyes_stream_nonces')
