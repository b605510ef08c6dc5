"""The scheduler (bot/pipeline/scheduler.py): jobs in the database, `tick` at a given time, and runs that are
neither lost nor repeated around a crash. In-process; the restart of a real `wabot scheduler`
process is in test_scheduler_restart.py."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from bot.campaigns.runs import Campaigns
from bot.campaigns.tables import apscheduler_jobs, campaign_runs, campaign_sends, scheduled_runs
from bot.pipeline.handoff_release import HandoffReleaser
from bot.pipeline.scheduler import DEFERRED_JOB, REORDER_JOB, SchedulerService, campaign_job
from bot.pipeline.sender import Sender
from bot.whatsapp import graph
from flows.replies import ReplyBook
from segments.engine import SegmentEngine
from tests.support.campaign_store import TagAudience, generate

UTC = timezone.utc
NOW = datetime(2026, 12, 15, 15, 0, tzinfo=UTC)  # 10:00 in New York (EST), 20:30 in India
INDIA_MORNING = datetime(2026, 12, 16, 2, 30, tzinfo=UTC)  # 08:00 in India
TOML = """
[store]
timezone = "America/New_York"

[policy]
consent = "any"
quiet_hours = ["18:00", "08:00"]
max_marketing_per_7d = 5
daily_unique_limit = 1000

[campaigns.daily]
segment = "audience"
schedule = "0 10 * * *"
text = "Hello {first_name}"
template = { name = "hello" }
dedupe_days = 0

[campaigns.by_hand]
segment = "audience"
text = "Only when run by hand"
"""


def service(settings, engine, **kwargs) -> SchedulerService:
    # The campaigns' audiences are tags here (TagAudience), so the segment engine is built apart.
    releaser = HandoffReleaser(engine, settings, replies=ReplyBook.from_settings(settings))
    return SchedulerService(settings, engine, campaigns=Campaigns(settings, TagAudience()),
                            segment_engine=SegmentEngine(settings), releaser=releaser, **kwargs)


def runs(engine, campaign: str = "daily") -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(campaign_runs.c.trigger, campaign_runs.c.run_at)
                            .where(campaign_runs.c.campaign == campaign).order_by(campaign_runs.c.id)).all()


def test_jobs_of_the_configuration(engine, settings_for):
    settings = settings_for(toml=TOML)
    specs = service(settings, engine).specs
    assert campaign_job("daily") in specs and campaign_job("by_hand") not in specs
    assert DEFERRED_JOB in specs and REORDER_JOB not in specs  # no [reorder] configured
    assert specs[campaign_job("daily")].trigger.timezone.key == "America/New_York"


def test_tick_runs_a_campaign_when_its_cron_is_due_in_store_time(engine, settings_for):
    settings = settings_for(toml=TOML)
    generate(engine, NOW, n=40)
    ticker = service(settings, engine)
    ticker.tick(NOW - timedelta(minutes=1))  # 09:59 in New York: not yet
    assert runs(engine) == []
    results, failures = ticker.tick(NOW)
    assert failures == {} and campaign_job("daily") in results
    assert runs(engine) == [("schedule", NOW)]
    ticker.tick(NOW + timedelta(minutes=30))  # done for today
    assert len(runs(engine)) == 1
    tomorrow = NOW + timedelta(days=1)
    service(settings, engine).tick(tomorrow)  # a new process, the same stored schedule
    assert runs(engine)[-1] == ("schedule", tomorrow)
    with engine.connect() as conn:
        done = conn.execute(sa.select(scheduled_runs.c.scheduled_at)
                            .where(scheduled_runs.c.job_id == campaign_job("daily"),
                                   scheduled_runs.c.state == "done")).scalars().all()
    assert sorted(done) == [NOW, tomorrow]


def test_a_missed_schedule_runs_once_when_ticked_late(engine, settings_for):
    settings = settings_for(toml=TOML)
    generate(engine, NOW, n=10)
    service(settings, engine).tick(NOW - timedelta(hours=1))
    service(settings, engine).tick(NOW + timedelta(days=3, hours=2))  # three fire times missed
    assert runs(engine) == [("schedule", NOW + timedelta(days=3, hours=2))]


def test_tick_sends_deferred_messages_at_the_end_of_quiet_hours(engine, settings_for, fake_graph):
    settings = settings_for(graph=fake_graph, toml=TOML)
    store = generate(engine, NOW, n=60)
    service(settings, engine).tick(NOW)
    with engine.connect() as conn:
        deferred = conn.execute(sa.select(campaign_sends.c.customer_id, campaign_sends.c.due_at)
                                .where(campaign_sends.c.status == "deferred")).all()
    assert deferred and {d.due_at for d in deferred} == {INDIA_MORNING}
    ticker = service(settings, engine)
    ticker.tick(INDIA_MORNING - timedelta(minutes=1))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(campaign_sends)
                            .where(campaign_sends.c.status == "deferred")).scalar_one() == len(deferred)
    ticker.tick(INDIA_MORNING)
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(campaign_sends.c.customer_id, campaign_sends.c.status)
                                     .where(campaign_sends.c.customer_id.in_([d.customer_id for d in deferred]))).all())
    people = {p.id: p for p in store.people}
    assert all(people[c].country == "IN" for c in statuses)
    assert set(statuses.values()) <= {"queued", "skipped"} and "queued" in statuses.values()


def test_a_run_interrupted_by_a_crash_runs_again_exactly_once(engine, settings_for):
    settings = settings_for(toml=TOML)
    generate(engine, NOW, n=20)
    # A scheduler owed the 10:00 run, started it and died before its transaction committed.
    with engine.begin() as conn:
        conn.execute(sa.insert(scheduled_runs).values(job_id=campaign_job("daily"), scheduled_at=NOW,
                                                      state="running", owner="scheduler-dead", attempts=1))
    restarted = service(settings, engine, clock=lambda: NOW + timedelta(minutes=5))
    assert restarted.reclaim() == 1
    restarted.run_all_owed()
    restarted.run_all_owed()  # nothing is owed any more
    assert runs(engine) == [("schedule", NOW + timedelta(minutes=5))]


def test_a_failing_job_is_recorded_and_owed_again(engine, settings_for):
    settings = settings_for(toml=TOML)
    ticker = service(settings, engine)
    calls = []

    def boom(conn, now):
        calls.append(now)
        raise RuntimeError("database on fire")

    ticker.specs[DEFERRED_JOB] = ticker.specs[DEFERRED_JOB].__class__(DEFERRED_JOB, ticker.specs[DEFERRED_JOB].trigger,
                                                                     True, boom)
    results, failures = ticker.tick(NOW)
    assert failures == {DEFERRED_JOB: "RuntimeError: database on fire"}
    assert campaign_job("daily") in results  # the other jobs still ran
    with engine.connect() as conn:
        row = conn.execute(sa.select(scheduled_runs).where(scheduled_runs.c.job_id == DEFERRED_JOB)).one()
    assert (row.state, row.attempts, row.error) == ("due", 1, "RuntimeError: database on fire")


def test_the_running_scheduler_runs_a_due_job_once_and_persists_its_jobs(engine, settings_for):
    settings = settings_for(toml=TOML)
    generate(engine, NOW, n=10)
    running = service(settings, engine)
    running.start()
    try:
        with engine.connect() as conn:
            stored = set(conn.execute(sa.select(apscheduler_jobs.c.id)).scalars())
        assert stored == set(running.specs)
        due = datetime.now(UTC) + timedelta(seconds=1)
        running._scheduler.modify_job(campaign_job("daily"), next_run_time=due)
        deadline = time.monotonic() + 20
        while not runs(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        running.stop()
    assert [trigger for trigger, _ in runs(engine)] == ["schedule"]
    with engine.connect() as conn:
        marks = conn.execute(sa.select(scheduled_runs.c.state, scheduled_runs.c.scheduled_at)
                             .where(scheduled_runs.c.job_id == campaign_job("daily"))).all()
        next_run = conn.execute(sa.select(apscheduler_jobs.c.next_run_time)
                                .where(apscheduler_jobs.c.id == campaign_job("daily"))).scalar_one()
    assert [m.state for m in marks] == ["done"] and abs((marks[0].scheduled_at - due).total_seconds()) < 1e-3
    following = running.specs[campaign_job("daily")].trigger.get_next_fire_time(None, due + timedelta(seconds=1))
    assert next_run == following.timestamp()  # moved on to the next 10:00 in New York


def test_sender_clock_for_tick(engine, settings_for, fake_graph):
    """`tick --now` sends what it queued at that time, whatever the wall clock says."""
    settings = settings_for(graph=fake_graph, toml=TOML.replace('quiet_hours = ["18:00", "08:00"]', "quiet_hours = []"))
    generate(engine, NOW, n=15)
    service(settings, engine).tick(NOW)
    transport = graph.HttpTransport(settings.graph_url, settings.graph_version, settings.phone_number_id,
                                    settings.whatsapp_token or "")
    sender = Sender(engine, transport, rate_limit=500, clock=lambda: NOW)
    sender.drain()
    sender.close()
    with engine.connect() as conn:
        queued = conn.execute(sa.select(sa.func.count()).select_from(campaign_sends)
                              .where(campaign_sends.c.status == "queued")).scalar_one()
    campaign = [r for r in fake_graph.messages()
                if (r.text or "").startswith("Hello") or r.body.get("template", {}).get("name") == "hello"]
    assert queued > 0 and len(campaign) == queued


def test_tick_hands_silent_conversations_back_to_the_bot(engine, settings_for):
    from bot.core.tables import conversations

    settings = settings_for(toml=TOML)
    store = generate(engine, NOW, n=30)  # handed-off conversations went pending an hour before NOW
    waiting = [p.id for p in store.people if p.state in ("pending", "agent")]
    assert waiting
    results, failures = service(settings, engine).tick(NOW + timedelta(minutes=1))
    assert failures == {} and [r.customer_id for r in results["handoff:release"]] == sorted(waiting)
    with engine.connect() as conn:
        states = set(conn.execute(sa.select(conversations.c.state)).scalars())
    assert states == {"bot"}
