"""Segments: order aggregates, refresh state, Shopify webhook deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_stats_pending',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_order_stats_pending'))
    )
    op.create_table('segment_pending',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_segment_pending'))
    )
    op.create_table('segment_refreshes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('now', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('thresholds', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_refreshes'))
    )
    op.create_table('shopify_webhooks',
    sa.Column('webhook_id', sa.String(length=128), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.BigInteger(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('webhook_id', name=op.f('pk_shopify_webhooks'))
    )
    op.create_table('customer_order_stats',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('orders_count', sa.Integer(), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('discounted_count', sa.Integer(), nullable=False),
    sa.Column('first_order_at', sa.DateTime(), nullable=False),
    sa.Column('last_order_at', sa.DateTime(), nullable=False),
    sa.Column('ship_country', sa.String(length=2), nullable=True),
    sa.Column('ship_province', sa.String(length=128), nullable=True),
    sa.Column('ship_city', sa.String(length=128), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_order_stats_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_order_stats'))
    )
    with op.batch_alter_table('customer_order_stats', schema=None) as batch_op:
        batch_op.create_index('ix_customer_order_stats_last_order_at', ['last_order_at'], unique=False)

    op.create_table('segment_state',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_segment_state_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_segment_state'))
    )


def downgrade() -> None:
    op.drop_table('segment_state')
    with op.batch_alter_table('customer_order_stats', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_order_stats_last_order_at')

    op.drop_table('customer_order_stats')
    op.drop_table('shopify_webhooks')
    op.drop_table('segment_refreshes')
    op.drop_table('segment_pending')
    op.drop_table('order_stats_pending')
