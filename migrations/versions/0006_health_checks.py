"""health_checks: the row GET /healthz writes to prove the database accepts writes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('health_checks',
                    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('checked_at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_checks')))


def downgrade() -> None:
    op.drop_table('health_checks')
