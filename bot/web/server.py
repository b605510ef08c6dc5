"""`wabot serve`: gunicorn serving the app, with the inbound worker and the sender running on
threads of the same worker process, so one command runs the whole product."""
from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from bot.runtime import Runtime

log = logging.getLogger(__name__)


class WabotServer(BaseApplication):
    def __init__(self, app_factory, *, host: str, port: int, threads: int = 8, background: bool = True,
                 on_started=None):
        self.app_factory = app_factory
        self.bind = f"{host}:{port}"
        self.threads = threads
        self.background = background
        self.on_started = on_started
        super().__init__()

    def load_config(self) -> None:
        # One worker process: the worker and the sender live beside the HTTP threads, and the
        # rate limit is that process's. Scale out with gunicorn + `wabot worker` instead.
        self.cfg.set("bind", [self.bind])
        self.cfg.set("workers", 1)
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("threads", self.threads)
        self.cfg.set("keepalive", 5)
        self.cfg.set("graceful_timeout", 10)
        self.cfg.set("accesslog", None)
        self.cfg.set("loglevel", "warning")
        self.cfg.set("post_worker_init", self._post_worker_init)
        self.cfg.set("worker_exit", self._worker_exit)
        if self.on_started:
            self.cfg.set("when_ready", lambda _arbiter: self.on_started())

    def load(self):
        return self.app_factory()

    def _post_worker_init(self, worker) -> None:
        if self.background:
            runtime: Runtime = worker.wsgi.extensions["wabot"]
            runtime.start_background(scheduler=True)

    @staticmethod
    def _worker_exit(_server, worker) -> None:
        app = getattr(worker, "wsgi", None)
        if app is not None and "wabot" in getattr(app, "extensions", {}):
            app.extensions["wabot"].close()
