"""Order-side tables: catalogue, orders, line items, customer tags and attributes, segment membership

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('products',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('title', sa.String(length=512), nullable=True),
    sa.Column('handle', sa.String(length=512), nullable=True),
    sa.Column('product_type', sa.String(length=256), nullable=True),
    sa.Column('vendor', sa.String(length=256), nullable=True),
    sa.Column('tags', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products'))
    )
    op.create_table('customer_attributes',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_attributes_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'name', name=op.f('pk_customer_attributes'))
    )
    with op.batch_alter_table('customer_attributes', schema=None) as batch_op:
        batch_op.create_index('ix_customer_attributes_name_value', ['name', 'value'], unique=False)

    op.create_table('customer_tags',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_tags_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'tag', name=op.f('pk_customer_tags'))
    )
    with op.batch_alter_table('customer_tags', schema=None) as batch_op:
        batch_op.create_index('ix_customer_tags_tag', ['tag'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('shopify_customer_id', sa.BigInteger(), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=256), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('financial_status', sa.String(length=32), nullable=True),
    sa.Column('fulfillment_status', sa.String(length=32), nullable=True),
    sa.Column('total_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total_discounts', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('discount_codes', sa.Text(), nullable=True),
    sa.Column('is_discounted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('counted', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('ship_country', sa.String(length=2), nullable=True),
    sa.Column('ship_province', sa.String(length=128), nullable=True),
    sa.Column('ship_city', sa.String(length=128), nullable=True),
    sa.Column('tracking_company', sa.String(length=128), nullable=True),
    sa.Column('tracking_number', sa.String(length=128), nullable=True),
    sa.Column('tracking_url', sa.Text(), nullable=True),
    sa.Column('order_status_url', sa.Text(), nullable=True),
    sa.Column('source_updated_at', sa.DateTime(), nullable=True),
    sa.Column('ingested_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_orders_customer_id_customers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_aggregate', ['counted', 'customer_id', 'created_at', 'total_price', 'is_discounted'], unique=False)
        batch_op.create_index('ix_orders_customer_created', ['customer_id', 'created_at'], unique=False)
        batch_op.create_index('ix_orders_phone', ['phone'], unique=False)

    op.create_table('product_tags',
    sa.Column('product_id', sa.BigInteger(), nullable=False),
    sa.Column('tag', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_tags_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('product_id', 'tag', name=op.f('pk_product_tags'))
    )
    with op.batch_alter_table('product_tags', schema=None) as batch_op:
        batch_op.create_index('ix_product_tags_tag', ['tag'], unique=False)

    op.create_table('segment_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('segment', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('change', sa.String(length=8), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_segment_events_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_events'))
    )
    with op.batch_alter_table('segment_events', schema=None) as batch_op:
        batch_op.create_index('ix_segment_events_customer', ['customer_id'], unique=False)
        batch_op.create_index('ix_segment_events_segment_at', ['segment', 'at'], unique=False)

    op.create_table('segment_members',
    sa.Column('segment', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_segment_members_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('segment', 'customer_id', name=op.f('pk_segment_members'))
    )
    with op.batch_alter_table('segment_members', schema=None) as batch_op:
        batch_op.create_index('ix_segment_members_customer', ['customer_id'], unique=False)

    op.create_table('variants',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('product_id', sa.BigInteger(), nullable=True),
    sa.Column('title', sa.String(length=512), nullable=True),
    sa.Column('sku', sa.String(length=256), nullable=True),
    sa.Column('price', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_variants_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_variants'))
    )
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_variants_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_variants_sku'), ['sku'], unique=False)

    op.create_table('line_items',
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('line_item_id', sa.BigInteger(), nullable=True),
    sa.Column('product_id', sa.BigInteger(), nullable=True),
    sa.Column('variant_id', sa.BigInteger(), nullable=True),
    sa.Column('sku', sa.String(length=256), nullable=True),
    sa.Column('title', sa.String(length=512), nullable=True),
    sa.Column('variant_title', sa.String(length=512), nullable=True),
    sa.Column('vendor', sa.String(length=256), nullable=True),
    sa.Column('product_type', sa.String(length=256), nullable=True),
    sa.Column('quantity', sa.Integer(), server_default='1', nullable=False),
    sa.Column('price', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_line_items_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', 'position', name=op.f('pk_line_items'))
    )
    with op.batch_alter_table('line_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_line_items_product_id'), ['product_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_line_items_sku'), ['sku'], unique=False)
        batch_op.create_index(batch_op.f('ix_line_items_variant_id'), ['variant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('line_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_line_items_variant_id'))
        batch_op.drop_index(batch_op.f('ix_line_items_sku'))
        batch_op.drop_index(batch_op.f('ix_line_items_product_id'))

    op.drop_table('line_items')
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_variants_sku'))
        batch_op.drop_index(batch_op.f('ix_variants_product_id'))

    op.drop_table('variants')
    with op.batch_alter_table('segment_members', schema=None) as batch_op:
        batch_op.drop_index('ix_segment_members_customer')

    op.drop_table('segment_members')
    with op.batch_alter_table('segment_events', schema=None) as batch_op:
        batch_op.drop_index('ix_segment_events_segment_at')
        batch_op.drop_index('ix_segment_events_customer')

    op.drop_table('segment_events')
    with op.batch_alter_table('product_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_product_tags_tag')

    op.drop_table('product_tags')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_phone')
        batch_op.drop_index('ix_orders_customer_created')
        batch_op.drop_index('ix_orders_aggregate')

    op.drop_table('orders')
    with op.batch_alter_table('customer_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_tags_tag')

    op.drop_table('customer_tags')
    with op.batch_alter_table('customer_attributes', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_attributes_name_value')

    op.drop_table('customer_attributes')
    op.drop_table('products')
