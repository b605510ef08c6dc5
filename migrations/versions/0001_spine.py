"""spine: inbound events, customers, conversations, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('wa_id', sa.String(length=160), nullable=True),
    sa.Column('user_id', sa.String(length=160), nullable=True),
    sa.Column('shopify_customer_id', sa.BigInteger(), nullable=True),
    sa.Column('profile_name', sa.String(length=256), nullable=True),
    sa.Column('first_name', sa.String(length=128), nullable=True),
    sa.Column('last_name', sa.String(length=128), nullable=True),
    sa.Column('email', sa.String(length=256), nullable=True),
    sa.Column('phone_country', sa.String(length=2), nullable=True),
    sa.Column('accepts_marketing', sa.Boolean(), nullable=True),
    sa.Column('consent_at', sa.DateTime(), nullable=True),
    sa.Column('opted_out', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('opted_out_at', sa.DateTime(), nullable=True),
    sa.Column('marketing_paused', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('first_inbound_at', sa.DateTime(), nullable=True),
    sa.Column('last_inbound_at', sa.DateTime(), nullable=True),
    sa.Column('last_read_at', sa.DateTime(), nullable=True),
    sa.Column('last_referral_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('shopify_customer_id', name=op.f('uq_customers_shopify_customer_id')),
    sa.UniqueConstraint('wa_id', name=op.f('uq_customers_wa_id'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_last_inbound_at'), ['last_inbound_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_user_id'), ['user_id'], unique=False)

    op.create_table('inbound_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_key', sa.String(length=512), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('wa_id', sa.String(length=160), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('processed_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_events')),
    sa.UniqueConstraint('event_key', name=op.f('uq_inbound_events_event_key'))
    )
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_events_state_id', ['state', 'id'], unique=False)
        batch_op.create_index('ix_inbound_events_wa_id_state_id', ['wa_id', 'state', 'id'], unique=False)

    op.create_table('sandbox_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('recipient', sa.String(length=160), nullable=False),
    sa.Column('wa_message_id', sa.String(length=256), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_messages')),
    sa.UniqueConstraint('wa_message_id', name=op.f('uq_sandbox_messages_wa_message_id'))
    )
    with op.batch_alter_table('sandbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_sandbox_messages_recipient_id', ['recipient', 'id'], unique=False)

    op.create_table('conversations',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='bot', nullable=False),
    sa.Column('agent', sa.String(length=128), nullable=True),
    sa.Column('state_changed_at', sa.DateTime(), nullable=False),
    sa.Column('agent_last_active_at', sa.DateTime(), nullable=True),
    sa.Column('fallback_streak', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_conversations_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_conversations'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index('ix_conversations_state', ['state'], unique=False)

    op.create_table('handoff_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=False),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.String(length=256), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_handoff_log_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_log'))
    )
    with op.batch_alter_table('handoff_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_log_customer_id'), ['customer_id'], unique=False)

    op.create_table('inbound_messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('wa_message_id', sa.String(length=256), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('button_id', sa.String(length=256), nullable=True),
    sa.Column('intent', sa.String(length=64), nullable=True),
    sa.Column('intent_source', sa.String(length=64), nullable=True),
    sa.Column('handled', sa.String(length=32), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_inbound_messages_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('wa_message_id', name=op.f('uq_inbound_messages_wa_message_id'))
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_messages_customer_sent', ['customer_id', 'sent_at'], unique=False)
        batch_op.create_index('ix_inbound_messages_intent_sent', ['intent', 'sent_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('recipient', sa.String(length=160), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('fallback', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('preview', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=128), nullable=True),
    sa.Column('dedupe_key', sa.String(length=256), nullable=True),
    sa.Column('state', sa.String(length=16), server_default='queued', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=False),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('wa_message_id', sa.String(length=256), nullable=True),
    sa.Column('used_fallback', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_title', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.Column('failed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_outbox_customer_id_customers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key')),
    sa.UniqueConstraint('wa_message_id', name=op.f('uq_outbox_wa_message_id'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_outbox_recipient_state_id', ['recipient', 'state', 'id'], unique=False)
        batch_op.create_index('ix_outbox_state_not_before', ['state', 'not_before'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_state_not_before')
        batch_op.drop_index('ix_outbox_recipient_state_id')
        batch_op.drop_index(batch_op.f('ix_outbox_customer_id'))

    op.drop_table('outbox')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_messages_intent_sent')
        batch_op.drop_index('ix_inbound_messages_customer_sent')

    op.drop_table('inbound_messages')
    with op.batch_alter_table('handoff_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_log_customer_id'))

    op.drop_table('handoff_log')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_state')

    op.drop_table('conversations')
    with op.batch_alter_table('sandbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_messages_recipient_id')

    op.drop_table('sandbox_messages')
    with op.batch_alter_table('inbound_events', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_events_wa_id_state_id')
        batch_op.drop_index('ix_inbound_events_state_id')

    op.drop_table('inbound_events')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_user_id'))
        batch_op.drop_index(batch_op.f('ix_customers_last_inbound_at'))

    op.drop_table('customers')
