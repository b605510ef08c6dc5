"""Wiring: one place that turns Settings into an engine, a transport, a worker and a sender.

The web app, `wabot serve`, `wabot worker` and the tests all build their pieces here, so the
same configuration always yields the same objects.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy.engine import Engine

from bot.core import db
from bot.whatsapp import graph
from bot.core.config import Settings
from bot.pipeline.handoff_release import HandoffReleaser
from bot.pipeline.metrics import Metrics
from bot.pipeline.sender import Sender, concurrency_for
from bot.pipeline.sandbox import SandboxTransport
from bot.pipeline.worker import InboundWorker
from segments.membership import current_segments

log = logging.getLogger(__name__)


def make_transport(settings: Settings, engine: Engine, pool_size: int = 16) -> graph.Transport:
    if settings.sandbox:
        return SandboxTransport(engine)
    return graph.HttpTransport(settings.graph_url, settings.graph_version, settings.phone_number_id,
                               settings.whatsapp_token or "", pool_size=pool_size)




class InFlight:
    """Counts webhook requests being handled, so background work in the same process can let
    them go first."""

    def __init__(self, max_wait: float = 0.05):
        self._count = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.max_wait = max_wait

    def __enter__(self) -> "InFlight":
        with self._lock:
            self._count += 1
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        with self._lock:
            self._count -= 1
            if self._count == 0:
                self._idle.notify_all()

    def wait_idle(self) -> None:
        """Wait until no request is in flight, but never longer than max_wait: under a burst the
        background still moves, only slower."""
        with self._lock:
            self._idle.wait_for(lambda: self._count == 0, timeout=self.max_wait)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    metrics: Metrics
    # Set by the webhook when it stores events, and by the worker when it queues replies, so the
    # next stage starts at once instead of on its next poll.
    inbound_wake: threading.Event = field(default_factory=threading.Event)
    outbound_wake: threading.Event = field(default_factory=threading.Event)
    requests_in_flight: "InFlight" = field(default_factory=lambda: InFlight())
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> "Runtime":
        engine = engine or db.make_engine(settings.database_url)
        return cls(settings=settings, engine=engine, metrics=Metrics(engine))

    def worker(self) -> InboundWorker:
        return InboundWorker(self.engine, self.settings, metrics=self.metrics, segment_lookup=current_segments,
                             on_enqueued=self.outbound_wake.set, yield_to_requests=self.requests_in_flight.wait_idle)

    def handoff_releaser(self) -> HandoffReleaser:
        return HandoffReleaser(self.engine, self.settings, segment_lookup=current_segments,
                               on_enqueued=self.outbound_wake.set)

    def sender(self, concurrency: int | None = None) -> Sender:
        concurrency = concurrency or concurrency_for(self.settings.rate_limit)
        transport = make_transport(self.settings, self.engine, pool_size=concurrency)
        sender = Sender(self.engine, transport, rate_limit=self.settings.rate_limit,
                        concurrency=concurrency, metrics=self.metrics)
        self._closers.append(sender.close)
        return sender

    def start_background(self, *, inbound: bool = True, outbound: bool = True, scheduler: bool = False) -> None:
        """Run the inbound worker and the sender on threads of this process (and, for `serve`,
        the scheduler)."""
        if scheduler:
            from bot.campaigns.runs import check_audiences
            from bot.pipeline.scheduler import SchedulerService

            check_audiences(self.settings)
            service = SchedulerService(self.settings, self.engine, on_enqueued=self.outbound_wake.set)
            service.start()
            self._closers.append(service.stop)
        if inbound:
            worker = self.worker()
            self._spawn("wabot-inbound", lambda: worker.run_forever(self._stop, self.inbound_wake))
        if outbound:
            sender = self.sender()
            self._spawn("wabot-sender", lambda: sender.run_forever(self._stop, wake=self.outbound_wake))

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.inbound_wake.set()
        self.outbound_wake.set()
        for thread in self._threads:
            thread.join(timeout)
        for close in self._closers:
            close()
        self._threads.clear()
        self._closers.clear()

    def close(self) -> None:
        """Stop the background and release the database connections."""
        self.stop()
        self.engine.dispose()
