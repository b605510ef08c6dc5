"""campaigns: runs, per-recipient ledger, campaign state, scheduled runs, APScheduler jobs; outbox claim index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_state_id', ['state', 'id'], unique=False)

    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.Unicode(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apscheduler_jobs'))
    )
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apscheduler_jobs_next_run_time'), ['next_run_time'], unique=False)

    op.create_table('campaign_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('send_group', sa.String(length=8), nullable=False),
    sa.Column('run_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('audience', sa.Integer(), nullable=False),
    sa.Column('eligible', sa.Integer(), nullable=False),
    sa.Column('freeform', sa.Integer(), nullable=False),
    sa.Column('template', sa.Integer(), nullable=False),
    sa.Column('held_back', sa.Integer(), server_default='0', nullable=False),
    sa.Column('skipped', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('estimated_cost', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_runs'))
    )
    with op.batch_alter_table('campaign_runs', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_runs_campaign_run_at', ['campaign', 'run_at'], unique=False)

    op.create_table('campaign_state',
    sa.Column('campaign', sa.String(length=128), nullable=False),
    sa.Column('promoted_variant', sa.Integer(), nullable=True),
    sa.Column('promoted_at', sa.DateTime(), nullable=True),
    sa.Column('promotion', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.Column('entry_cursor', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('campaign', name=op.f('pk_campaign_state'))
    )
    op.create_table('scheduled_runs',
    sa.Column('job_id', sa.String(length=191), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job_id', 'scheduled_at', name=op.f('pk_scheduled_runs'))
    )
    with op.batch_alter_table('scheduled_runs', schema=None) as batch_op:
        batch_op.create_index('ix_scheduled_runs_state', ['state'], unique=False)

    op.create_table('campaign_sends',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('campaign', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recipient', sa.String(length=160), nullable=False),
    sa.Column('cycle', sa.String(length=256), nullable=False),
    sa.Column('send_group', sa.String(length=8), nullable=False),
    sa.Column('variant', sa.Integer(), server_default='0', nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('form', sa.String(length=16), nullable=True),
    sa.Column('outbox_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('planned_at', sa.DateTime(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('queued_at', sa.DateTime(), nullable=True),
    sa.Column('context', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_campaign_sends_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_campaign_sends_outbox_id_outbox'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['campaign_runs.id'], name=op.f('fk_campaign_sends_run_id_campaign_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_sends')),
    sa.UniqueConstraint('campaign', 'customer_id', 'cycle', name='uq_campaign_sends_campaign_customer_cycle')
    )
    with op.batch_alter_table('campaign_sends', schema=None) as batch_op:
        batch_op.create_index('ix_campaign_sends_campaign_group', ['campaign', 'send_group', 'variant'], unique=False)
        batch_op.create_index('ix_campaign_sends_customer_campaign', ['customer_id', 'campaign'], unique=False)
        batch_op.create_index('ix_campaign_sends_outbox_id', ['outbox_id'], unique=False)
        batch_op.create_index('ix_campaign_sends_status_due_at', ['status', 'due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_state_id')

    with op.batch_alter_table('campaign_sends', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_sends_status_due_at')
        batch_op.drop_index('ix_campaign_sends_outbox_id')
        batch_op.drop_index('ix_campaign_sends_customer_campaign')
        batch_op.drop_index('ix_campaign_sends_campaign_group')

    op.drop_table('campaign_sends')
    with op.batch_alter_table('scheduled_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_scheduled_runs_state')

    op.drop_table('scheduled_runs')
    op.drop_table('campaign_state')
    with op.batch_alter_table('campaign_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_campaign_runs_campaign_run_at')

    op.drop_table('campaign_runs')
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apscheduler_jobs_next_run_time'))

    op.drop_table('apscheduler_jobs')
