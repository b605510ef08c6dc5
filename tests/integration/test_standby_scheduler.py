"""`wabot scheduler` with a standby, on PostgreSQL, as real processes: one holds the advisory lock
and runs the jobs, the other waits; the active one killed with SIGKILL, the standby takes over
within 30 s and runs the next due job, once."""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.campaigns.tables import campaign_runs
from bot.pipeline.leader import POLL_SECONDS
from tests.conftest import PG_URL, make_env
from tests.integration.test_crashes import (
    AUDIENCE,
    CAMPAIGN_TOML,
    SCHEDULER_UP,
    WORKER_UP,
    ledger_marks,
    make_campaign_due,
    open_outbox_rows,
)
from tests.support.crash import NEEDS_POSTGRES, Processes
from tests.support.seed import add_tagged_customers

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not PG_URL, reason=NEEDS_POSTGRES + "leadership is a PostgreSQL advisory lock")]
UTC = timezone.utc
ACTIVE = "active: this process holds the scheduler lock"
STANDBY = "standing by: another scheduler is active"
TAKEOVER_LIMIT = 30.0


def test_the_standby_scheduler_takes_over_from_a_killed_one_and_runs_the_next_due_job_once(
        engine, database_url, tmp_path, fake_graph, settings_for, record_property):
    settings = settings_for(fake_graph, toml=CAMPAIGN_TOML)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        audience = add_tagged_customers(conn, AUDIENCE, "flash", now=now)
    # Due after the active scheduler's death and the standby's longest wait.
    due = (now + timedelta(seconds=6 + 2 * POLL_SECONDS)).replace(microsecond=0)
    make_campaign_due(engine, settings, due)

    procs = Processes(make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(settings.config_path)),
                      tmp_path)
    try:
        procs.running(procs.wabot("worker", "worker"), WORKER_UP)
        first = procs.running(procs.wabot("scheduler-1", "scheduler"), SCHEDULER_UP)
        procs.wait(lambda: ACTIVE in first.log(), what="the first scheduler to be active")
        second = procs.running(procs.wabot("scheduler-2", "scheduler"), SCHEDULER_UP)
        procs.wait(lambda: STANDBY in second.log(), what="the second scheduler to stand by")
        third = procs.running(procs.wabot("scheduler-3", "scheduler"), SCHEDULER_UP)
        procs.wait(lambda: STANDBY in third.log(), what="the third scheduler to stand by")
        assert ACTIVE not in second.log() and ACTIVE not in third.log()

        first.kill()
        killed = time.monotonic()
        took_over = procs.wait(lambda: [p for p in (second, third) if ACTIVE in p.log()], timeout=TAKEOVER_LIMIT + 5,
                               what="a standby to take over")
        takeover = time.monotonic() - killed
        record_property("takeover_seconds", round(takeover, 2))
        print(f"\nthe standby took over {takeover:.1f} s after the active scheduler was killed")
        assert len(took_over) == 1 and takeover <= TAKEOVER_LIMIT, takeover
        assert datetime.now(UTC) < due, "the test's machine was too slow: the job fell due before the takeover"

        procs.wait(lambda: [m[1] for m in ledger_marks(engine)] == ["done"], timeout=60,
                   what="the campaign job to run at its due time")
        procs.wait(lambda: open_outbox_rows(engine) == 0 and len(fake_graph.messages()) >= AUDIENCE,
                   what="the campaign to be sent")
        time.sleep(POLL_SECONDS)  # the other standby still stands by, and runs nothing
        (idle,) = [p for p in (second, third) if p is not took_over[0]]
        assert ACTIVE not in idle.log()
    finally:
        procs.kill_all()

    assert ledger_marks(engine) == [(due, "done", 1)]  # run once for its due time
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(campaign_runs)).scalar_one() == 1
    assert Counter(r.recipient for r in fake_graph.messages()) == Counter(audience)
