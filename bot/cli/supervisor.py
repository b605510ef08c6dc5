"""`wabot serve`'s processes under one command: the HTTP server (gunicorn, its own N worker
processes) and one background process (inbound worker, sender, scheduler).

Children are forked from the command once the configuration is checked and the schema upgraded,
so they start from exactly what was checked (and from whatever the command's clock is). The
background process is started again if it dies (it holds no state: leases and the scheduler
lock hand its work over); if the HTTP server dies, everything stops. SIGINT or SIGTERM stops
the children gracefully (SIGTERM, then SIGKILL after GRACE seconds) and the command ends 0.
Each child asks the kernel to SIGTERM it when the command itself dies. docs/deployment.md.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)

GRACE_SECONDS = 15.0
RESTART_DELAY_SECONDS = 1.0
MAX_RESTARTS_PER_MINUTE = 5
PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    name: str
    target: Callable[[], None]
    restart: bool  # started again when it dies; otherwise its death stops everything
    process: multiprocessing.process.BaseProcess | None = None


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM this process when the supervisor dies (even by SIGKILL)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: children outlive a killed supervisor
        return
    if os.getppid() != parent:  # it died before the prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _run_child(target: Callable[[], None], parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    target()


class Supervisor:
    def __init__(self, children: list[Child]):
        self.children = children
        self._context = multiprocessing.get_context("fork")
        self._stopping = False
        self._restarts: list[float] = []

    def _start(self, child: Child) -> None:
        child.process = self._context.Process(target=_run_child, args=(child.target, os.getpid()),
                                              name=f"wabot-{child.name}", daemon=False)
        child.process.start()
        log.debug("started %s (pid %s)", child.name, child.process.pid)

    def run(self) -> int:
        """Start every child; return the command's exit status once they have all stopped."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
        status = 0
        try:
            for child in self.children:
                self._start(child)
            while not self._stopping:
                sentinels = [child.process.sentinel for child in self.children]
                multiprocessing.connection.wait(sentinels, timeout=0.5)
                for child in self.children:
                    if self._stopping or child.process.is_alive():
                        continue
                    code = child.process.exitcode
                    if child.restart and self._may_restart():
                        log.error("the %s process ended (exit %s); starting it again", child.name, code)
                        time.sleep(RESTART_DELAY_SECONDS)
                        self._start(child)
                    else:
                        log.error("the %s process ended (exit %s); stopping wabot serve", child.name, code)
                        self._stopping, status = True, 1
        finally:
            self._stop_children()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return status

    def _on_signal(self, _signum, _frame) -> None:
        self._stopping = True

    def _may_restart(self) -> bool:
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < 60]
        if len(self._restarts) >= MAX_RESTARTS_PER_MINUTE:
            return False
        self._restarts.append(now)
        return True

    def _stop_children(self) -> None:
        alive = [c for c in self.children if c.process is not None and c.process.is_alive()]
        for child in alive:
            os.kill(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in alive:
            child.process.join(max(0.0, deadline - time.monotonic()))
            if child.process.is_alive():
                log.warning("the %s process did not stop in %.0f s; killing it", child.name, GRACE_SECONDS)
                child.process.kill()
                child.process.join(5)
