"""The scheduler: APScheduler 3, its jobs persisted in our database (SQLAlchemyJobStore).

Jobs: segment refresh (then entry-triggered campaigns), handoff auto-release, deferred sends coming
due, each scheduled campaign on its cron in store time, and the reorder scan.

A restart misses nothing and repeats nothing:
- `coalesce=True`, `misfire_grace_time=None`: runs missed while no scheduler was up are made up
  once, however late (a campaign missed during an outage goes out once on restart, still within
  the sending rules: quiet hours defer it, dedupe_days keeps it from repeating); a grace time
  would silently drop them instead.
- APScheduler moves a job's next run time on in its store *before* the job has done its work, so
  a crash mid-run would lose that run. Our executor therefore records the run it owes in
  `scheduled_runs` before APScheduler moves on, and the job marks it done in the same transaction
  as its own work. At start, runs owed and not done are run again: either everything a run did
  is stored together with its "done", or nothing is and it runs once more.
- `max_instances=1`: a long run is never overlapped by the next one of the same job.

`wabot tick --now T` runs the same jobs once at T: polling jobs (deferred sends, reorder,
segments, handoff release) always, a campaign when a fire time of its cron is due by T.
"""
from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Connection, Engine

from bot.automations.engine import Automations
from bot.campaigns.runs import Campaigns
from bot.campaigns.tables import apscheduler_jobs, scheduled_runs
from bot.core.config import Settings, crontab_for_apscheduler
from bot.core.db import insert_ignoring_conflicts
from bot.core.times import utcnow
from bot.pipeline.handoff_release import HandoffReleaser
from segments.engine import SegmentEngine

log = logging.getLogger(__name__)

UTC = timezone.utc
SEGMENTS_JOB = "segments:refresh"
DEFERRED_JOB = "campaigns:deferred"
AUTOMATIONS_JOB = "automations:due"
REORDER_JOB = "reorder:scan"
HANDOFF_JOB = "handoff:release"
MAX_ATTEMPTS = 3
# Fixed start for interval triggers, so that the same interval is the same trigger across restarts.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def campaign_job(name: str) -> str:
    return f"campaign:{name}"


@dataclass(frozen=True)
class JobSpec:
    id: str
    trigger: BaseTrigger
    poll: bool  # catches up to `now` whenever it runs (tick runs it every time)
    run: Callable[[Connection, datetime], object]


def every(minutes: int) -> IntervalTrigger:
    return IntervalTrigger(minutes=minutes, start_date=EPOCH, timezone=UTC)


def job_specs(settings: Settings, campaigns: Campaigns, segment_engine: SegmentEngine,
              releaser: HandoffReleaser, automations: Automations | None = None) -> list[JobSpec]:
    """The jobs this configuration needs, in the order `tick` runs them."""

    def refresh(conn: Connection, now: datetime) -> dict:
        # Entries recorded by the refresh trigger their campaigns in the same transaction.
        result = segment_engine.refresh(conn, now)
        return {"refresh": result.as_dict(), "triggered": campaigns.run_triggered(conn, now)}

    specs: list[JobSpec] = [JobSpec(SEGMENTS_JOB, every(15), True, refresh)]
    # Conversations whose agent went silent go back to the bot (bot.conversation.handoff.release_timed_out),
    # and a customer left waiting is told so.
    specs.append(JobSpec(HANDOFF_JOB, every(1), True, releaser.release))
    if automations is not None and automations.configured:
        # Abandoned-checkout steps and COD reminders, every minute (docs/automations.md).
        specs.append(JobSpec(AUTOMATIONS_JOB, every(1), True, automations.run_due))
    specs.append(JobSpec(DEFERRED_JOB, every(1), True, campaigns.run_deferred))
    zone = settings.store.timezone
    for name, config in settings.file.campaigns.items():
        if config.schedule:
            trigger = CronTrigger.from_crontab(crontab_for_apscheduler(config.schedule), timezone=zone)
            specs.append(JobSpec(campaign_job(name), trigger, False,
                                 lambda conn, now, name=name: campaigns.run(conn, name, now, trigger="schedule")))
    if settings.file.reorder.enabled:
        specs.append(JobSpec(REORDER_JOB, every(60), True,
                             lambda conn, now: campaigns.run_reorder(conn, now, trigger="schedule")))
    return specs


# The service whose jobs the persisted APScheduler jobs run: APScheduler stores a reference to
# `run_scheduled` and the job id, so the function finds its service here.
_active: "SchedulerService | None" = None


def run_scheduled(job_id: str) -> None:
    if _active is None:
        raise RuntimeError(f"job {job_id}: no scheduler service is running")
    _active.run_owed(job_id)


class LedgerExecutor(ThreadPoolExecutor):
    """Writes the run it is given to `scheduled_runs` before APScheduler moves the job on."""

    def __init__(self, service: "SchedulerService", max_workers: int = 2):
        super().__init__(max_workers)
        self.service = service

    def _do_submit_job(self, job, run_times) -> None:
        self.service.owe(job.id, run_times[-1])
        super()._do_submit_job(job, run_times)


class SharedEngineJobStore(SQLAlchemyJobStore):
    """APScheduler's job store on the Runtime's engine. Its own shutdown disposes the engine it was
    given, which would pull the pool from under every other thread of the process (the scheduler
    lock's session among them, bot/pipeline/leader.py); the engine is the Runtime's to close."""

    def shutdown(self) -> None:
        """The engine stays open: the Runtime disposes it."""


class StoredJobs(BaseScheduler):
    """APScheduler's API over the stored jobs, with no loop that would run them: `tick` and
    `sync_jobs` read and move next run times themselves."""

    def wakeup(self) -> None:
        """Nothing runs by itself here."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)


class SchedulerService:
    def __init__(self, settings: Settings, engine: Engine, *, campaigns: Campaigns, segment_engine: SegmentEngine,
                 releaser: HandoffReleaser, clock: Callable[[], datetime] = utcnow,
                 on_enqueued: Callable[[], None] | None = None, automations: Automations | None = None):
        self.settings = settings
        self.engine = engine
        self.campaigns = campaigns
        self.specs = {spec.id: spec for spec in job_specs(settings, campaigns, segment_engine, releaser,
                                                                   automations)}
        self.clock = clock
        self.on_enqueued = on_enqueued or (lambda: None)
        self.owner = f"scheduler-{uuid.uuid4().hex[:12]}"
        self._scheduler: BackgroundScheduler | None = None

    # ------------------------------------------------------------ APScheduler

    def _make_scheduler(self, kind: type[BaseScheduler] = BackgroundScheduler) -> BaseScheduler:
        # APScheduler gets its own MetaData; the table itself is made by our migrations.
        store = SharedEngineJobStore(engine=self.engine, tablename=apscheduler_jobs.name)
        return kind(
            jobstores={"default": store}, executors={"default": LedgerExecutor(self)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1}, timezone=UTC)

    def sync_jobs(self, scheduler: BaseScheduler, now: datetime) -> None:
        """Make the stored jobs those of the configuration, keeping the next run time of every job
        whose schedule did not change (so a run missed while we were down is still owed)."""
        existing = {job.id: job for job in scheduler.get_jobs()}
        minute = now.replace(second=0, microsecond=0)
        for spec in self.specs.values():
            job = existing.pop(spec.id, None)
            if job is None:
                # A cron from the start of this minute (a campaign set for 10:00 and first seen
                # at 10:00:20 still goes today); a polling job one interval after its first
                # sight, so that a first start does not, say, recompute every segment at once.
                start = now + spec.trigger.interval if isinstance(spec.trigger, IntervalTrigger) else minute
                first = spec.trigger.get_next_fire_time(None, start)
                scheduler.add_job(run_scheduled, trigger=spec.trigger, args=(spec.id,), id=spec.id, name=spec.id,
                                  next_run_time=first, replace_existing=True)
            elif repr(job.trigger) != repr(spec.trigger):
                log.info("schedule of %s changed: %s", spec.id, spec.trigger)
                scheduler.reschedule_job(spec.id, trigger=spec.trigger)
        for stale in existing:
            log.info("job %s is no longer configured; removed", stale)
            scheduler.remove_job(stale)

    def start(self) -> None:
        global _active
        _active = self
        scheduler = self._make_scheduler()
        scheduler.start(paused=True)
        self.sync_jobs(scheduler, self.clock())
        self._scheduler = scheduler
        self.reclaim()
        threading.Thread(target=self.run_all_owed, name="wabot-scheduler-recover", daemon=True).start()
        scheduler.resume()
        log.info("scheduler running %d job(s): %s", len(self.specs), ", ".join(self.specs))

    def stop(self) -> None:
        global _active
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if _active is self:
            _active = None

    # ------------------------------------------------------------ the runs we owe

    def owe(self, job_id: str, scheduled_at: datetime) -> None:
        with self.engine.begin() as conn:
            insert_ignoring_conflicts(conn, scheduled_runs, [{
                "job_id": job_id, "scheduled_at": scheduled_at.astimezone(UTC), "state": "due", "attempts": 0,
            }], ["job_id", "scheduled_at"])

    def reclaim(self) -> int:
        """Runs left `running` by a scheduler process that died are owed again."""
        r = scheduled_runs.c
        with self.engine.begin() as conn:
            count = conn.execute(sa.update(scheduled_runs).where(r.state == "running", r.owner != self.owner)
                                 .values(state="due", owner=None)).rowcount
        if count:
            log.warning("%d scheduled run(s) were interrupted by a restart; running them again", count)
        return count

    def run_all_owed(self) -> None:
        r = scheduled_runs.c
        with self.engine.connect() as conn:
            owed = conn.execute(sa.select(r.job_id).where(r.state == "due").distinct()).scalars().all()
        for job_id in owed:
            try:
                self.run_owed(job_id)
            except Exception:
                log.exception("catching up job %s failed", job_id)

    def run_owed(self, job_id: str, now: datetime | None = None) -> object:
        """Claim this job's owed runs, do the job once for all of them, mark them done with it."""
        now = now or self.clock()
        r = scheduled_runs.c
        spec = self.specs.get(job_id)
        with self.engine.begin() as conn:
            claimed = conn.execute(
                sa.update(scheduled_runs).where(r.job_id == job_id, r.state == "due")
                .values(state="running", owner=self.owner, started_at=now, attempts=r.attempts + 1)
                .returning(r.scheduled_at, r.attempts)).all()
            if claimed and spec is None:
                conn.execute(sa.update(scheduled_runs).where(r.job_id == job_id, r.owner == self.owner,
                                                            r.state == "running")
                             .values(state="failed", finished_at=now, error="no longer configured"))
                return None
        if not claimed:
            return None
        mine = sa.and_(r.job_id == job_id, r.owner == self.owner, r.state == "running")
        try:
            with self.engine.begin() as conn:
                result = spec.run(conn, now)
                conn.execute(sa.update(scheduled_runs).where(mine).values(state="done", finished_at=now, error=None))
        except Exception as exc:
            attempts = max(a for _, a in claimed)
            with self.engine.begin() as conn:
                conn.execute(sa.update(scheduled_runs).where(mine).values(
                    state="failed" if attempts >= MAX_ATTEMPTS else "due", owner=None,
                    error=f"{exc.__class__.__name__}: {exc}"[:2000]))
            log.exception("job %s failed (attempt %d of %d)", job_id, attempts, MAX_ATTEMPTS)
            raise
        log.info("job %s done (scheduled at %s)", job_id, ", ".join(s.isoformat() for s, _ in claimed))
        self.on_enqueued()
        return result

    # ------------------------------------------------------------ wabot tick

    def tick(self, now: datetime) -> tuple[dict[str, object], dict[str, str]]:
        """Run once every job due at `now`, as a running scheduler would have.

        Returns (results of the jobs that ran, errors of those that failed); one failing job does
        not keep the others from running."""
        global _active
        _active = self
        scheduler = self._make_scheduler(StoredJobs)
        scheduler.start(paused=True)
        results: dict[str, object] = {}
        failures: dict[str, str] = {}
        try:
            self.sync_jobs(scheduler, now)
            self.reclaim()
            for spec in self.specs.values():
                job = scheduler.get_job(spec.id)
                fire = now if spec.poll else job.next_run_time
                if fire is None or fire > now:
                    continue
                self.owe(spec.id, fire)
                try:
                    results[spec.id] = self.run_owed(spec.id, now)
                except Exception as exc:  # logged by run_owed; the other jobs still run
                    failures[spec.id] = f"{exc.__class__.__name__}: {exc}"
                if not spec.poll:
                    job.modify(next_run_time=spec.trigger.get_next_fire_time(fire, now + timedelta(seconds=1)))
        finally:
            scheduler.shutdown(wait=False)
            if _active is self:
                _active = None
        return results, failures
