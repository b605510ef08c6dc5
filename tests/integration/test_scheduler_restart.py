"""`wabot scheduler` killed and started again around a due job: the job runs exactly once.

The job here is the reorder scan (it needs no segment engine): three customers whose dog food is
due get one prompt each, once, however the scheduler process dies and comes back."""
from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from bot.campaigns.tables import apscheduler_jobs, campaign_runs, scheduled_runs
from bot.core.tables import outbox
from bot.pipeline.scheduler import REORDER_JOB, StoredJobs
from tests.conftest import PG_URL, make_env, start_process
from tests.support.seed import add_customer, add_order, add_product

pytestmark = pytest.mark.slow
UTC = timezone.utc
TOML = """
[store]
timezone = "UTC"

[policy]
consent = "any"
quiet_hours = []

[reorder]
max_overdue_days = 30
text = "Running low on {product_title}? Tap Reorder to get it again."
template = { name = "reorder_reminder", body = ["{first_name}", "{product_title}"], quick_replies = ["reorder:confirm:{order_id}"] }

[reorder.days]
"type:Dog Food" = 28
"""


@pytest.fixture
def world(engine, database_url, tmp_path):
    now = datetime.now(UTC)
    with engine.begin() as conn:
        add_product(conn, 10, "Dog Food 5kg", [11], product_type="Dog Food")
        for i in range(3):
            customer = add_customer(conn, f"1555000000{i}", f"Dog{i}", now=now)
            add_order(conn, 100 + i, customer, [(10, 11, "Dog Food 5kg", 1, "30.00")],
                      created_at=now - timedelta(days=30))
    (tmp_path / "wabot.toml").write_text(TOML)
    env = make_env(database_url, tmp_path, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    processes = []

    def start(name: str):
        process = start_process(["scheduler"], env, tmp_path, tmp_path / f"{name}.log")
        processes.append(process)
        return process

    yield start, tmp_path
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def wait_until(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def stored_jobs(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(apscheduler_jobs.c.id)).scalars())


def make_due(engine, at: datetime) -> None:
    """Move the stored reorder job's next run to `at`, as if its hour had come (no scheduler runs)."""
    jobs = StoredJobs(jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
                      timezone=UTC)
    jobs.start(paused=True)
    jobs.modify_job(REORDER_JOB, next_run_time=at)
    jobs.shutdown(wait=False)


def reorder_runs(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(campaign_runs)
                            .where(campaign_runs.c.campaign == "reorder")).scalar_one()


def prompts(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(outbox.c.recipient).where(outbox.c.kind == "reorder")).scalars())


def marks(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(scheduled_runs.c.state, scheduled_runs.c.attempts)
                            .where(scheduled_runs.c.job_id == REORDER_JOB)).all()


def test_a_job_due_while_the_scheduler_was_down_runs_once_after_restart(engine, world):
    start, tmp_path = world
    first = start("first")
    wait_until(lambda: REORDER_JOB in stored_jobs(engine), what="the scheduler to store its jobs")
    kill(first)

    make_due(engine, datetime.now(UTC) + timedelta(seconds=1))
    time.sleep(2)  # the job falls due while no scheduler is running
    assert reorder_runs(engine) == 0

    second = start("second")
    wait_until(lambda: reorder_runs(engine) == 1, what="the missed run")
    wait_until(lambda: [m.state for m in marks(engine)] == ["done"], what="the run to be marked done")
    kill(second)

    third = start("third")  # and once more: nothing is repeated
    time.sleep(4)
    kill(third)
    assert reorder_runs(engine) == 1
    assert prompts(engine) == ["15550000000", "15550000001", "15550000002"]
    assert [tuple(m) for m in marks(engine)] == [("done", 1)]


@pytest.mark.skipif(not PG_URL, reason="holds a table lock, which needs PostgreSQL")
def test_a_scheduler_killed_in_the_middle_of_a_job_runs_it_once_after_restart(engine, world):
    start, tmp_path = world
    first = start("first")
    wait_until(lambda: REORDER_JOB in stored_jobs(engine), what="the scheduler to store its jobs")
    kill(first)
    make_due(engine, datetime.now(UTC) + timedelta(seconds=1))

    # The job will block on its first write to campaign_runs, after it has recorded that it runs.
    blocker = engine.connect()
    held = blocker.begin()
    blocker.exec_driver_sql("LOCK TABLE campaign_runs IN ACCESS EXCLUSIVE MODE")
    try:
        second = start("second")
        wait_until(lambda: [m.state for m in marks(engine)] == ["running"], what="the job to be running")
        time.sleep(0.5)
        kill(second)  # mid-run: its transaction dies with it
    finally:
        held.rollback()
        blocker.close()
    assert reorder_runs(engine) == 0 and prompts(engine) == []

    third = start("third")
    wait_until(lambda: reorder_runs(engine) == 1, what="the interrupted run to run again")
    wait_until(lambda: [m.state for m in marks(engine)] == ["done"], what="the run to be marked done")
    time.sleep(2)
    kill(third)
    assert reorder_runs(engine) == 1
    assert prompts(engine) == ["15550000000", "15550000001", "15550000002"]
    assert [tuple(m) for m in marks(engine)] == [("done", 2)]
