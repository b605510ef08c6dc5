"""template health: the last status and quality Meta reported for each message template

`template_health` is keyed by the template's (name, language), as sends name a template; it holds
the last `message_template_status_update` event (APPROVED, PAUSED, DISABLED, FLAGGED, ...) with its
reason, the last `message_template_quality_update` score (GREEN, YELLOW, RED, UNKNOWN), the time of
each (so an older event arriving late does not undo a newer one) and whether the template may be
sent (docs/campaigns.md, "Template health").

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'template_health',
        sa.Column('name', sa.String(length=512), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('template_id', sa.BigInteger(), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('status_at', sa.DateTime(), nullable=True),
        sa.Column('quality', sa.String(length=16), nullable=True),
        sa.Column('quality_at', sa.DateTime(), nullable=True),
        sa.Column('usable', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', 'language', name='pk_template_health'),
    )
    op.create_index('ix_template_health_usable', 'template_health', ['usable'])


def downgrade() -> None:
    op.drop_index('ix_template_health_usable', table_name='template_health')
    op.drop_table('template_health')
