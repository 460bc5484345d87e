"""camera configs with history; media rows know their camera and when retention removed their file

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 05:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('camera_configs',
                    sa.Column('camera', sa.String(length=100), nullable=False),
                    sa.Column('config', sa.JSON(), nullable=False),
                    sa.Column('enabled', sa.Boolean(), nullable=False),
                    sa.Column('retention', sa.JSON(), nullable=False),
                    sa.Column('revision', sa.Integer(), nullable=False),
                    sa.Column('updated_by', sa.String(length=100), nullable=False),
                    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('camera'))
    op.create_table('camera_config_history',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('camera', sa.String(length=100), nullable=False),
                    sa.Column('revision', sa.Integer(), nullable=False),
                    sa.Column('action', sa.String(length=30), nullable=False),
                    sa.Column('config', sa.JSON(), nullable=False),
                    sa.Column('enabled', sa.Boolean(), nullable=False),
                    sa.Column('changed', sa.JSON(), nullable=False),
                    sa.Column('actor', sa.String(length=100), nullable=False),
                    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_camera_config_history_camera', 'camera_config_history', ['camera'])
    with op.batch_alter_table('media') as batch:
        batch.add_column(sa.Column('camera_id', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('gone_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('gone_reason', sa.String(length=100), nullable=False, server_default=''))
        batch.create_index('ix_media_camera_id', ['camera_id'])


def downgrade() -> None:
    with op.batch_alter_table('media') as batch:
        batch.drop_index('ix_media_camera_id')
        batch.drop_column('gone_reason')
        batch.drop_column('gone_at')
        batch.drop_column('camera_id')
    op.drop_index('ix_camera_config_history_camera', 'camera_config_history')
    op.drop_table('camera_config_history')
    op.drop_table('camera_configs')
