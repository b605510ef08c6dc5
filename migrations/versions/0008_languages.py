"""languages: the evidence of a customer's language (docs/languages.md)

`customers.language_choice` is the customer's explicit choice; `language_chat` the language of their
latest text message the router recognised with confidence (`language_chat_at` when); and
`shopify_locale` their Shopify customer record's locale. `orders.customer_locale` is the storefront
language an order was placed in, and `inbound_messages.language` what each message was read as.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('language_choice', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('language_chat', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('language_chat_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('shopify_locale', sa.String(length=16), nullable=True))
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('customer_locale', sa.String(length=16), nullable=True))
    with op.batch_alter_table('inbound_messages') as batch:
        batch.add_column(sa.Column('language', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inbound_messages') as batch:
        batch.drop_column('language')
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('customer_locale')
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('shopify_locale')
        batch.drop_column('language_chat_at')
        batch.drop_column('language_chat')
        batch.drop_column('language_choice')
