"""customer aliases: a customer's former business-scoped user ids (docs/usernames.md)

A `user_id_update` webhook replaces a username customer's BSUID; the old one is kept here so a late
status webhook, or a message still queued under it, finds the same customer.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'customer_aliases',
        sa.Column('alias', sa.String(length=160), nullable=False),
        sa.Column('customer_id', BigId, nullable=False),
        sa.Column('replaced_by', sa.String(length=160), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                                name='fk_customer_aliases_customer_id_customers', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('alias', name='pk_customer_aliases'),
    )
    op.create_index('ix_customer_aliases_customer_id', 'customer_aliases', ['customer_id'])


def downgrade() -> None:
    op.drop_table('customer_aliases')
