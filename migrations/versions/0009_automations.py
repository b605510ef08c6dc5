"""automations: checkouts, fulfillments, cash-on-delivery confirmations (docs/automations.md)

`checkouts` holds Shopify's checkouts (the abandoned-checkout sequence reads them, and records
there why it stopped); `fulfillments` the shipments of orders with their tracking and delivery;
`cod_confirmations` each cash-on-delivery order asked for confirmation, the answer and the tag it
becomes in Shopify. Orders gain the checkout they completed and their payment gateways.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('checkout_token', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('checkout_id', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('payment_gateways', sa.Text(), nullable=True))
        batch.create_index('ix_orders_checkout_token', ['checkout_token'])
    op.create_table(
        'checkouts',
        sa.Column('token', sa.String(length=128), nullable=False),
        sa.Column('shopify_id', sa.BigInteger(), nullable=True),
        sa.Column('customer_id', BigId, nullable=True),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('email', sa.String(length=256), nullable=True),
        sa.Column('abandoned_checkout_url', sa.Text(), nullable=True),
        sa.Column('items', sa.Text(), nullable=True),
        sa.Column('total_price', sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column('currency', sa.String(length=8), nullable=True),
        sa.Column('customer_locale', sa.String(length=16), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('source_updated_at', sa.DateTime(), nullable=False),
        sa.Column('completed_at', sa.DateTime(), nullable=True),
        sa.Column('stopped_reason', sa.String(length=16), nullable=True),
        sa.Column('stopped_at', sa.DateTime(), nullable=True),
        sa.Column('ingested_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_checkouts_customer_id_customers',
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('token', name='pk_checkouts'),
    )
    op.create_index('ix_checkouts_open', 'checkouts', ['completed_at', 'stopped_reason', 'source_updated_at'])
    op.create_index('ix_checkouts_customer_id', 'checkouts', ['customer_id'])
    op.create_table(
        'fulfillments',
        sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('order_id', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=True),
        sa.Column('shipment_status', sa.String(length=32), nullable=True),
        sa.Column('tracking_company', sa.String(length=128), nullable=True),
        sa.Column('tracking_number', sa.String(length=128), nullable=True),
        sa.Column('tracking_url', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=True),
        sa.Column('delivered_at', sa.DateTime(), nullable=True),
        sa.Column('source_updated_at', sa.DateTime(), nullable=True),
        sa.Column('ingested_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_fulfillments'),
    )
    op.create_index('ix_fulfillments_order_id', 'fulfillments', ['order_id'])
    op.create_table(
        'cod_confirmations',
        sa.Column('order_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('customer_id', BigId, nullable=False),
        sa.Column('order_name', sa.String(length=64), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('asked_at', sa.DateTime(), nullable=False),
        sa.Column('reminded_at', sa.DateTime(), nullable=True),
        sa.Column('answered_at', sa.DateTime(), nullable=True),
        sa.Column('answer_source', sa.String(length=16), nullable=True),
        sa.Column('tag', sa.String(length=64), nullable=True),
        sa.Column('tag_state', sa.String(length=16), nullable=True),
        sa.Column('tag_attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('tag_error', sa.Text(), nullable=True),
        sa.Column('tag_next_at', sa.DateTime(), nullable=True),
        sa.Column('tagged_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name='fk_cod_confirmations_customer_id_customers', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('order_id', name='pk_cod_confirmations'),
    )
    op.create_index('ix_cod_confirmations_customer_state', 'cod_confirmations', ['customer_id', 'state'])
    op.create_index('ix_cod_confirmations_tag_state', 'cod_confirmations', ['tag_state', 'tag_next_at'])


def downgrade() -> None:
    op.drop_table('cod_confirmations')
    op.drop_table('fulfillments')
    op.drop_table('checkouts')
    with op.batch_alter_table('orders') as batch:
        batch.drop_index('ix_orders_checkout_token')
        batch.drop_column('payment_gateways')
        batch.drop_column('checkout_id')
        batch.drop_column('checkout_token')
