"""sensors, households, readings, occupancy, fired actions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 04:57:00

The sensors of docs/sensors.md (households, devices, readings, refusals, the incidents their rules open),
parking occupancy per zone and the rule actions fired per event (docs/config.md, `actions:`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fired_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'index', name='uq_fired_actions_event_index')
    )
    op.create_table('households',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=True),
    sa.Column('care', sa.Boolean(), nullable=False),
    sa.Column('contact_name', sa.String(length=100), nullable=False),
    sa.Column('contact_phone', sa.String(length=50), nullable=False),
    sa.Column('timezone', sa.String(length=50), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('occupancy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.String(length=100), nullable=False),
    sa.Column('zone', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('occupancy', schema=None) as batch_op:
        batch_op.create_index('ix_occupancy_zone_at', ['camera_id', 'zone', 'at'], unique=False)

    op.create_table('sensor_refusals',
    sa.Column('device', sa.String(length=100), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_reason', sa.Text(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('device')
    )
    op.create_table('devices',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=True),
    sa.Column('household_id', sa.String(length=100), nullable=True),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('silence_s', sa.Integer(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('battery', sa.Float(), nullable=True),
    sa.Column('last_value', sa.Float(), nullable=True),
    sa.Column('readings', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('readings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('battery', sa.Float(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('device_id', 'at', 'kind', name='uq_readings_device_at_kind')
    )
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.create_index('ix_readings_device_at', ['device_id', 'at'], unique=False)

    op.create_table('sensor_incidents',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=100), nullable=False),
    sa.Column('household_id', sa.String(length=100), nullable=True),
    sa.Column('anomaly', sa.String(length=50), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], ),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], ),
    sa.PrimaryKeyConstraint('incident_id')
    )
    with op.batch_alter_table('sensor_incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sensor_incidents_device_id'), ['device_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sensor_incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sensor_incidents_device_id'))

    op.drop_table('sensor_incidents')
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.drop_index('ix_readings_device_at')

    op.drop_table('readings')
    op.drop_table('devices')
    op.drop_table('sensor_refusals')
    with op.batch_alter_table('occupancy', schema=None) as batch_op:
        batch_op.drop_index('ix_occupancy_zone_at')

    op.drop_table('occupancy')
    op.drop_table('households')
    op.drop_table('fired_actions')
