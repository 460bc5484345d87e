"""residents' reports and ratings, departments and their calls (吹哨报到), notifications and their outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bodies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('grid', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key'))
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('body_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_users_body_id', 'bodies', ['body_id'], ['id'])
    op.create_table('calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('body_id', sa.Integer(), nullable=False),
    sa.Column('rung', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('called_by', sa.String(length=100), nullable=False),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.String(length=100), nullable=True),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('transferred_to', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
    sa.ForeignKeyConstraint(['body_id'], ['bodies.id']),
    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_calls_incident_id', 'calls', ['incident_id'])
    op.create_index('ix_calls_body_id', 'calls', ['body_id'])
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=True),
    sa.Column('building', sa.String(length=50), nullable=False),
    sa.Column('unit', sa.String(length=50), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('phone_hash', sa.String(length=64), nullable=True),
    sa.Column('addr_hash', sa.String(length=64), nullable=False),
    sa.Column('spam', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'))
    op.create_index('ix_reports_incident_id', 'reports', ['incident_id'])
    op.create_index('ix_reports_phone_hash', 'reports', ['phone_hash'])
    op.create_index('ix_reports_addr_hash', 'reports', ['addr_hash'])
    op.create_index('ix_reports_created_at', 'reports', ['created_at'])
    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('rating', sa.String(length=20), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id']),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id']),
    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_ratings_report_id', 'ratings', ['report_id'])
    op.create_index('ix_ratings_incident_id', 'ratings', ['incident_id'])
    op.create_table('subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('scope_value', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'))
    op.create_table('notify_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('timeline_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subscription_id', 'timeline_id', name='uq_outbox_sub_step'))
    op.create_index('ix_notify_outbox_subscription_id', 'notify_outbox', ['subscription_id'])
    op.create_index('ix_notify_outbox_incident_id', 'notify_outbox', ['incident_id'])
    op.create_index('ix_notify_outbox_next_at', 'notify_outbox', ['next_at'])
    op.create_table('notify_cursor',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('timeline_id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'))


def downgrade() -> None:
    for name in ('notify_cursor', 'notify_outbox', 'subscriptions', 'ratings', 'reports', 'calls'):
        op.drop_table(name)
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint('fk_users_body_id', type_='foreignkey')
        batch.drop_column('body_id')
    op.drop_table('bodies')
