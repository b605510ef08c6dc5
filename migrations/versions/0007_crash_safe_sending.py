"""crash-safe sending: outbox.handed_at, and rate_slots for one rate limit across senders

`handed_at` is written, committed, just before a message is handed to the Graph API; a row left
`sending` with it set by a sender that died becomes `unknown` (it may have left), one without it
goes back to the queue (it cannot have). `rate_slots` holds, per phone number, the next free send
slot of the shared rate limit (PostgreSQL; docs/sending.md).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('handed_at', sa.DateTime(), nullable=True))
    op.create_table('rate_slots',
                    sa.Column('key', sa.String(length=128), nullable=False),
                    sa.Column('next_ns', sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_slots')))


def downgrade() -> None:
    op.drop_table('rate_slots')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('handed_at')
