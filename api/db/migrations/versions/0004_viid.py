"""viid: GA/T 1400 devices and structured records (api/services/viid.py)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('viid_devices',
    sa.Column('id', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('addr', sa.String(length=100), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('apes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'))
    op.create_table('viid_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=20), nullable=False),
    sa.Column('sender', sa.String(length=20), nullable=False),
    sa.Column('camera_id', sa.String(length=100), nullable=True),
    sa.Column('shot_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('plate', sa.String(length=20), nullable=True),
    sa.Column('event_ids', sa.JSON(), nullable=False),
    sa.Column('media_ids', sa.JSON(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['cameras.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'object_id', name='uq_viid_records_kind_object'))
    op.create_index('ix_viid_records_camera_shot', 'viid_records', ['camera_id', 'shot_at'])


def downgrade() -> None:
    op.drop_index('ix_viid_records_camera_shot', table_name='viid_records')
    op.drop_table('viid_records')
    op.drop_table('viid_devices')
