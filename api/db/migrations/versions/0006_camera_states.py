"""camera state changes: each camera's live state transitions, for uptime and reconnects over 24 h

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('camera_states',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('camera', sa.String(length=100), nullable=False),
                    sa.Column('state', sa.String(length=20), nullable=False),
                    sa.Column('detail', sa.Text(), nullable=False),
                    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_camera_states_camera_at', 'camera_states', ['camera', 'at'])


def downgrade() -> None:
    op.drop_index('ix_camera_states_camera_at', 'camera_states')
    op.drop_table('camera_states')
