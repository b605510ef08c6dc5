"""What the crash and contention tests share: real `wabot` processes (and gunicorn) that a test can
SIGKILL, a clock that reads ahead for the process restarted after a kill, PostgreSQL locks held by
the test to stop a process at a chosen statement, and a fake Graph responder that holds requests
in flight.

Every process is started in a session of its own, so that a kill reaches it and its children (a
gunicorn master and its worker) by the group's id and nothing else; `Processes.kill_all` is
meant for a `finally`. Every wait polls a condition against a deadline.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar
from urllib.parse import quote

import sqlalchemy as sa

from bot.core import db
from tests.conftest import PG_URL, free_port, wait_healthy

T = TypeVar("T")
NEEDS_POSTGRES = "needs PostgreSQL (WABOT_TEST_DATABASE_URL): "


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, what: str = "condition",
               interval: float = 0.05) -> T:
    """Poll `predicate` until it returns something true (returned), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {value!r})")
        time.sleep(interval)


# ---------------------------------------------------------------- processes


@dataclass
class Proc:
    name: str
    process: subprocess.Popen
    log_path: Path
    url: str | None = None
    killed: bool = False
    one_shot: bool = False  # a command that ends by itself (`wabot campaigns run`), not a service

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, to the process and its children (its own process group), and reap it."""
        self.killed = True
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, the graceful way; SIGKILL if it does not end in `timeout` s."""
        self.killed = True
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


class Processes:
    """The processes one test started, each with its log under `cwd`."""

    def __init__(self, env: dict[str, str], cwd: Path):
        self.env = env
        self.cwd = cwd
        self.started: list[Proc] = []

    def _popen(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        log_path = self.cwd / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(argv, env=env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        proc = Proc(name, process, log_path)
        self.started.append(proc)
        return proc

    def wabot(self, name: str, *args: str, clock_ahead: float | None = None, one_shot: bool = False,
              **env: str) -> Proc:
        """`wabot ARGS` as a process; with `clock_ahead`, its clock reads that many seconds ahead
        (tests/support/shifted_clock.py)."""
        if clock_ahead is None:
            argv = [sys.executable, "-m", "bot.cli", *args]
        else:
            argv = [sys.executable, "-m", "tests.support.shifted_clock", str(clock_ahead), *args]
        proc = self._popen(name, argv, {**self.env, **env})
        proc.one_shot = one_shot
        return proc

    def serve(self, name: str, *args: str, clock_ahead: float | None = None, **env: str) -> Proc:
        """`wabot serve ARGS` (its supervisor, gunicorn's arbiter and HTTP workers, and the
        background process with the inbound worker, the sender and the scheduler) on a free port."""
        port = free_port()
        proc = self.wabot(name, "serve", "--port", str(port), *args, clock_ahead=clock_ahead, **env)
        proc.url = f"http://127.0.0.1:{port}"
        return proc

    def gunicorn(self, name: str, workers: int = 1, **env: str) -> Proc:
        """`gunicorn 'webhook:create_app()'`: the HTTP front of a scaled deployment (it only stores)."""
        port = free_port()
        proc = self._popen(name, [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                                  str(workers), "--threads", "4", "webhook:create_app()"], {**self.env, **env})
        proc.url = f"http://127.0.0.1:{port}"
        return proc

    @staticmethod
    def healthy(proc: Proc, timeout: float = 30.0) -> Proc:
        assert proc.url is not None
        wait_healthy(proc.url, proc.process, proc.log_path, timeout)
        return proc

    @staticmethod
    def running(proc: Proc, banner: str, timeout: float = 30.0) -> Proc:
        """Wait until the process printed its start banner (`wabot worker running`, ...)."""
        def up() -> bool:
            if not proc.alive:
                raise AssertionError(f"{proc.name} exited with {proc.process.returncode}:\n{proc.log()[-4000:]}")
            return banner in proc.log()
        wait_until(up, timeout, f"{proc.name} to start")
        return proc

    def wait(self, predicate: Callable[[], T], what: str, timeout: float = 30.0, interval: float = 0.05) -> T:
        """wait_until, failing at once if a process that should be running died, and with the
        end of every log when the condition is not met in time."""
        def check() -> T:
            for proc in self.started:
                if not proc.killed and not proc.one_shot and not proc.alive:
                    raise AssertionError(f"{proc.name} exited with {proc.process.returncode} while waiting for "
                                         f"{what}:\n{proc.log()[-4000:]}")
            return predicate()
        try:
            return wait_until(check, timeout, what, interval)
        except AssertionError as exc:
            logs = "\n".join(f"--- {p.name}.log\n{p.log()[-2000:]}" for p in self.started)
            raise AssertionError(f"{exc}\n{logs}") from None

    def kill_all(self) -> None:
        for proc in self.started:
            proc.kill()


# ---------------------------------------------------------------- databases


def tagged(database_url: str, tag: str) -> str:
    """The URL with a PostgreSQL application_name, so pg_stat_activity tells our processes apart
    from those of anyone else using the same server."""
    if not database_url.startswith("postgres"):
        return database_url
    return f"{database_url}{'&' if '?' in database_url else '?'}application_name={quote(tag)}"


@contextlib.contextmanager
def fresh_database(tmp_dir: Path) -> Iterator[str]:
    """A database of its own (a PostgreSQL schema, or a SQLite file), for a fixture wider than
    one test; the same as conftest's `database_url`."""
    if not PG_URL:
        yield f"sqlite:///{tmp_dir / 'wabot.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = db.make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@dataclass(frozen=True)
class Waiter:
    pid: int
    application_name: str
    query: str
    blockers: tuple[int, ...]  # the sessions it waits for


class TableLock:
    """A PostgreSQL table lock held by the test, to stop other processes at the statement that
    needs the table: their transaction stays open, as it would in the middle of real work."""

    def __init__(self, engine: sa.Engine, table: str, mode: str):
        self.engine = engine
        self.table = table
        self.mode = mode
        self._conn: sa.Connection | None = None

    def acquire(self) -> "TableLock":
        self._conn = self.engine.connect()
        self._conn.begin()
        self._take(self._conn)
        self.pid = self._conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        return self

    def _take(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql(f'LOCK TABLE "{self.table}" IN {self.mode} MODE')

    def release(self) -> None:
        """Let the waiting processes go (idempotent: also for a `finally`)."""
        if self._conn is not None:
            self._conn.rollback()
            self._conn.close()
            self._conn = None

    def waiters(self) -> list[Waiter]:
        return waiting_on(self.engine, self.pid)


class AdvisoryLock(TableLock):
    """The product's transaction-scoped advisory lock (e.g. the campaign planning lock), held.
    Advisory locks are per database, not per schema: while it is held, campaign planning of every
    test sharing the PostgreSQL database waits too (for the second or so it is held)."""

    def __init__(self, engine: sa.Engine, key: int):
        super().__init__(engine, "", "")
        self.key = key

    def _take(self, conn: sa.Connection) -> None:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": self.key})


def waiting_on(engine: sa.Engine, pid: int) -> list[Waiter]:
    """Sessions blocked by the session `pid`, with what they are running. Read on a connection of
    its own: inside one transaction PostgreSQL shows the same snapshot of pg_stat_activity."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT pid, application_name, query, pg_blocking_pids(pid) AS blockers FROM pg_stat_activity "
            "WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": pid}).all()
    return [Waiter(r.pid, r.application_name or "", r.query or "", tuple(r.blockers)) for r in rows]


# ---------------------------------------------------------------- the fake Graph API


class Hold:
    """A fake Graph responder (FakeGraph.responder): answers the first `answer_first` message
    sends at once, then holds every later one open (the request is in flight: received, not
    answered) until `release()`. A held request is recorded by the fake when it is released,
    as Meta would have accepted it even if the sender never hears the answer."""

    def __init__(self, answer_first: int, max_hold: float = 60.0):
        self.answer_first = answer_first
        self.max_hold = max_hold
        self.seen = 0
        self.held = 0
        self._released = threading.Event()
        self._changed = threading.Condition()

    def __call__(self, body: dict):
        if not body.get("type"):
            return None  # a read receipt
        with self._changed:
            self.seen += 1
            if self.seen <= self.answer_first or self._released.is_set():
                return None
            self.held += 1
            self._changed.notify_all()
        self._released.wait(self.max_hold)  # bounded: a test that fails never hangs the fake
        return None

    def wait_held(self, count: int, timeout: float = 30.0) -> int:
        with self._changed:
            if not self._changed.wait_for(lambda: self.held >= count, timeout):
                raise AssertionError(f"fake Graph API: {self.held} request(s) held after {timeout}s, "
                                     f"expected {count} (seen {self.seen})")
            return self.held

    def release(self) -> None:
        self._released.set()
