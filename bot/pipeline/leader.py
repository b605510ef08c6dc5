"""One active scheduler among any number: leadership is a PostgreSQL advisory lock.

Each `wabot scheduler` (and each `serve`'s background process) tries the lock every POLL seconds;
the one that holds it runs the jobs, the others stand by. The lock belongs to a database session,
so when the active process dies, however it dies, PostgreSQL ends its session and frees the lock,
and a standby takes over at its next try (within POLL seconds of the death; the contract asks
for 30). The active one checks its session on the same beat and stops the jobs if it has lost it.

Two schedulers active at once for a moment (a lock session cut while its process lives on) would
still run each job once per due time: the runs are claimed through `scheduled_runs`
(bot/pipeline/scheduler.py). On SQLite there is no second process to elect: the process leads.
See docs/scheduling.md.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

SCHEDULER_LOCK = int.from_bytes(hashlib.blake2b(b"wabot:scheduler", digest_size=8).digest(), "big", signed=True)
POLL_SECONDS = 5.0


class Leadership:
    """Runs `lead` while this process holds the lock, `step_down` when it stops or loses it."""

    def __init__(self, engine: Engine, lead: Callable[[], None], step_down: Callable[[], None], *,
                 key: int = SCHEDULER_LOCK, poll: float = POLL_SECONDS):
        self.engine = engine
        self.lead, self.step_down = lead, step_down
        self.key, self.poll = key, poll
        self.leading = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.engine.dialect.name != "postgresql":
            self._become_leader()  # one process on one file: nobody to elect
            return
        self._thread = threading.Thread(target=self._run, name="wabot-leadership", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.poll + 10)
        if self.leading.is_set():  # SQLite, or the thread did not get to it
            self._step_down()

    def _become_leader(self) -> None:
        self.leading.set()
        self.lead()

    def _step_down(self) -> None:
        if self.leading.is_set():
            self.leading.clear()
            self.step_down()

    def _run(self) -> None:
        announced_standby = False
        while not self._stop.is_set():
            conn: Connection | None = None
            locked = False
            try:
                conn = self.engine.connect()
                locked = self._try_lock(conn)
                if not locked:
                    if not announced_standby:
                        log.info("standing by: another scheduler is active; taking over when it stops")
                        announced_standby = True
                    self._stop.wait(self.poll)
                    continue
                log.info("active: this process holds the scheduler lock and runs the jobs")
                announced_standby = False
                self._become_leader()
                while not self._stop.wait(self.poll):
                    conn.execute(sa.text("SELECT 1"))  # our session, and with it the lock, still there?
                    conn.commit()
                self._step_down()
                conn.execute(sa.select(sa.func.pg_advisory_unlock(self.key)))
                conn.commit()
                locked = False
            except Exception:  # a lost session: whatever we ran stops; try again at the next beat
                if self.leading.is_set():
                    log.exception("lost the scheduler lock's database session; stopping the jobs")
                else:
                    log.exception("could not reach the database for the scheduler lock")
                self._step_down()
                self._stop.wait(self.poll)
            finally:
                if conn is not None:
                    if locked:  # never back into the pool holding the lock: end the session itself
                        conn.invalidate()
                    conn.close()

    def _try_lock(self, conn: Connection) -> bool:
        got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(self.key))).scalar_one()
        conn.commit()  # a session lock outlives the transaction; end it so no snapshot is held
        return bool(got)
