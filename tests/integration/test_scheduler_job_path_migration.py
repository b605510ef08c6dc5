"""Migration 0005: jobs APScheduler stored before the scheduler moved (bot/scheduler.py ->
bot/pipeline/scheduler.py) still restore after an upgrade, and a downgrade writes the old path back."""
from __future__ import annotations

import pickle

import sqlalchemy as sa
from alembic import command
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from bot.campaigns.tables import apscheduler_jobs
from bot.core import db
from bot.pipeline.scheduler import run_scheduled

OLD, NEW = "bot.scheduler:run_scheduled", "bot.pipeline.scheduler:run_scheduled"


def _stored_funcs(engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(apscheduler_jobs.c.id, apscheduler_jobs.c.job_state)).all()
    return {job_id: pickle.loads(state)["func"] for job_id, state in rows}


def test_stored_jobs_follow_the_scheduler_to_its_new_module(engine):
    config = db.alembic_config(engine)
    command.downgrade(config, "0004")  # the fixture's schema is at head: back to before the move
    # A job as APScheduler 3 stored it before the move: the function by its old import path.
    store = SQLAlchemyJobStore(engine=engine, tablename=apscheduler_jobs.name)
    state = {"version": 1, "id": "segments:refresh", "func": OLD, "trigger": None, "executor": "default",
             "args": ("segments:refresh",), "kwargs": {}, "name": "segments:refresh", "misfire_grace_time": None,
             "coalesce": True, "max_instances": 1, "next_run_time": None}
    with engine.begin() as conn:
        conn.execute(sa.insert(apscheduler_jobs).values(id="segments:refresh", next_run_time=None,
                                                        job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL)))
        conn.execute(sa.insert(apscheduler_jobs).values(id="other", next_run_time=None,
                                                        job_state=pickle.dumps({**state, "id": "other",
                                                                                "func": "elsewhere:job"})))
    command.upgrade(config, "head")
    assert _stored_funcs(engine) == {"segments:refresh": NEW, "other": "elsewhere:job"}
    store.start(None, "default")  # APScheduler resolves the stored path when it restores a job
    assert store.lookup_job("segments:refresh").func is run_scheduled

    command.downgrade(config, "0004")
    assert _stored_funcs(engine)["segments:refresh"] == OLD
