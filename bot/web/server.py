"""gunicorn serving the app with wabot's settings: `wabot serve`'s HTTP process (bot/cli/serving.py)
and the benches' servers. Background work runs in a process of its own (bot/cli/supervisor.py)."""
from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from bot.pipeline import metrics

log = logging.getLogger(__name__)


class WabotServer(BaseApplication):
    def __init__(self, app_factory, *, host: str, port: int, workers: int = 1, threads: int = 8,
                 on_started=None):
        self.app_factory = app_factory
        self.bind = f"{host}:{port}"
        self.workers = workers
        self.threads = threads
        self.on_started = on_started
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", [self.bind])
        self.cfg.set("workers", self.workers)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", self.threads)
        self.cfg.set("keepalive", 5)
        self.cfg.set("graceful_timeout", 10)
        self.cfg.set("accesslog", None)
        self.cfg.set("loglevel", "warning")
        self.cfg.set("worker_exit", self._worker_exit)
        self.cfg.set("child_exit", lambda _arbiter, worker: metrics.process_ended(worker.pid))
        if self.on_started:
            self.cfg.set("when_ready", lambda _arbiter: self.on_started())

    def load(self):
        return self.app_factory()

    @staticmethod
    def _worker_exit(_server, worker) -> None:
        app = getattr(worker, "wsgi", None)
        if app is not None and "wabot" in getattr(app, "extensions", {}):
            app.extensions["wabot"].close()
