"""scheduler moved: APScheduler's stored jobs name bot.pipeline.scheduler:run_scheduled

APScheduler pickles each job's state with the import path of the function it calls. The scheduler
module moved from bot/scheduler.py to bot/pipeline/scheduler.py (docs/architecture.md), so jobs
stored before the move would fail to restore and be dropped by APScheduler. This rewrites the
path inside each stored job; the downgrade writes the old one back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import pickle

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OLD = "bot.scheduler:run_scheduled"
NEW = "bot.pipeline.scheduler:run_scheduled"

jobs = sa.table("apscheduler_jobs", sa.column("id", sa.Unicode(191)), sa.column("job_state", sa.LargeBinary()))


def _rewrite(old: str, new: str) -> None:
    conn = op.get_bind()
    for job_id, blob in conn.execute(sa.select(jobs.c.id, jobs.c.job_state)).all():
        state = pickle.loads(blob)
        if state.get("func") == old:
            state["func"] = new
            conn.execute(sa.update(jobs).where(jobs.c.id == job_id)
                         .values(job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL)))


def upgrade() -> None:
    _rewrite(OLD, NEW)


def downgrade() -> None:
    _rewrite(NEW, OLD)
