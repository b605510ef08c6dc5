"""The composition root: one place that turns Settings into everything a process runs on.

Each process (`wabot serve`'s workers, `wabot worker`, `wabot scheduler`, a command, the web
app under gunicorn) builds one Runtime: the database engine, the metrics, and the features —
the intent router, the reply book, the segment engine and the campaigns — once each. Building a
feature checks the part of wabot.toml it owns (an [intents] entry, a reply, a rule), so a bad
configuration stops the process at start with one line naming the key (docs/architecture.md).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy.engine import Engine

from bot.automations.engine import Automations
from bot.campaigns.reorder import check_selectors
from bot.campaigns.runs import Campaigns, SegmentAudiences, check_audiences, check_coupon_codes
from bot.core import db
from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.pipeline.handoff_release import HandoffReleaser
from bot.pipeline.leader import Leadership
from bot.pipeline.metrics import Metrics
from bot.pipeline.ratelimit import SharedRateLimiter, rate_key
from bot.pipeline.sandbox import SandboxTransport
from bot.pipeline.scheduler import SchedulerService
from bot.pipeline.sender import PACING, Sender, concurrency_for
from bot.pipeline.tagger import ShopifyTagger
from bot.pipeline.worker import InboundWorker
from bot.shopify.admin import AdminClient
from bot.shopify.config import admin_config
from bot.whatsapp import graph
from flows.checks import check_settings
from flows.nlu import IntentRouter
from flows.replies import ReplyBook
from segments.engine import SegmentEngine
from segments.membership import current_segments

log = logging.getLogger(__name__)
SANDBOX_CONCURRENCY = 16
INBOUND_THREADS_POSTGRES = 4
INBOUND_POLL_SECONDS = 0.02


def make_transport(settings: Settings, engine: Engine, pool_size: int = 16) -> graph.Transport:
    if settings.sandbox:
        return SandboxTransport(engine)
    return graph.HttpTransport(settings.graph_url, settings.graph_version, settings.phone_number_id,
                               settings.whatsapp_token or "", pool_size=pool_size)


@dataclass(frozen=True)
class Features:
    """What the configuration means, built once: each part checks its own tables of wabot.toml."""

    router: IntentRouter
    replies: ReplyBook
    segment_engine: SegmentEngine
    campaigns: Campaigns
    automations: Automations

    @classmethod
    def build(cls, settings: Settings) -> "Features":
        """Raise ConfigError naming the first key a feature cannot use."""
        router = IntentRouter.from_config(settings.file.intents)  # [intents]
        replies = check_settings(settings)  # [replies], [sale] early_access, [preferences]
        segment_engine = SegmentEngine(settings)  # [segments.*] rules, [segment_params]
        check_selectors(settings.file.reorder, str(settings.config_path or "wabot.toml"))  # [reorder.days]
        check_audiences(settings, segment_engine)  # [campaigns.*] segment or rule
        check_coupon_codes(settings)  # templates' copy-code buttons filled from discount_code
        campaigns = Campaigns(settings, SegmentAudiences(segment_engine), router)
        campaigns.check_buttons()  # [campaigns.*] buttons: what each tap leads to
        return cls(router, replies, segment_engine, campaigns, Automations(settings, campaigns))

    def warnings(self, settings: Settings) -> list[str]:
        """Configuration that loads but will not do what its author meant: the settings' own
        warnings, then the features' (a reply shadowed by a segment that contains its own)."""
        return [*settings.warnings(), *self.replies.warnings]


def check_configuration(settings: Settings) -> Features:
    """The start check of every process: the features built from the settings, and the warnings
    about configuration that loads but will not do what its author meant."""
    features = Features.build(settings)
    for warning in features.warnings(settings):
        log.warning(warning)
    return features




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

    def __exit__(self, *exc) -> None:
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
    features: Features
    # Set by the webhook when it stores events, and by the worker when it queues replies, so the
    # next stage starts at once instead of on its next poll.
    inbound_wake: threading.Event = field(default_factory=threading.Event)
    outbound_wake: threading.Event = field(default_factory=threading.Event)
    requests_in_flight: "InFlight" = field(default_factory=lambda: InFlight())
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None,
                      features: Features | None = None) -> "Runtime":
        features = features or Features.build(settings)
        engine = engine or db.make_engine(settings.database_url)
        return cls(settings=settings, engine=engine, metrics=Metrics(engine), features=features)

    @property
    def campaigns(self) -> Campaigns:
        return self.features.campaigns

    @property
    def automations(self) -> Automations:
        return self.features.automations

    @property
    def segment_engine(self) -> SegmentEngine:
        return self.features.segment_engine

    def worker(self, **overrides) -> InboundWorker:
        options = dict(metrics=self.metrics, segment_lookup=current_segments, on_enqueued=self.outbound_wake.set,
                       yield_to_requests=self.requests_in_flight.wait_idle)
        options.update(overrides)
        return InboundWorker(self.engine, self.settings, router=self.features.router, replies=self.features.replies,
                             **options)

    def handoff_releaser(self, **overrides) -> HandoffReleaser:
        options = dict(segment_lookup=current_segments, on_enqueued=self.outbound_wake.set)
        options.update(overrides)
        return HandoffReleaser(self.engine, self.settings, replies=self.features.replies, **options)

    def scheduler(self, **overrides) -> SchedulerService:
        options = dict(on_enqueued=self.outbound_wake.set)
        options.update(overrides)
        return SchedulerService(self.settings, self.engine, campaigns=self.features.campaigns,
                                segment_engine=self.features.segment_engine,
                                releaser=self.handoff_releaser(), automations=self.features.automations,
                                **options)

    def sender(self, concurrency: int | None = None, **overrides) -> Sender:
        concurrency = concurrency or concurrency_for(self.settings.rate_limit)
        if self.settings.sandbox:  # the sandbox answers at once: threads waiting on Meta's latency would only contend
            concurrency = min(concurrency, SANDBOX_CONCURRENCY)
        transport = make_transport(self.settings, self.engine, pool_size=concurrency)
        delivery = self.settings.file.delivery
        options = dict(metrics=self.metrics, backoff=delivery.backoff(), unknown_resend=delivery.unknown_resend())
        if self.engine.dialect.name == "postgresql":
            # WABOT_RATE_LIMIT is the number's limit, across every sender process (docs/sending.md).
            options["limiter"] = SharedRateLimiter(self.engine, rate_key(self.settings.phone_number_id),
                                                   self.settings.rate_limit * PACING)
        options.update(overrides)
        sender = Sender(self.engine, transport, rate_limit=self.settings.rate_limit, concurrency=concurrency,
                        **options)
        self._closers.append(sender.close)
        close_transport = getattr(transport, "close", None)
        if close_transport is not None:
            self._closers.append(close_transport)
        return sender

    def tagger(self) -> ShopifyTagger | None:
        """The Shopify tagger, when cash-on-delivery confirmation is on and the Admin API is
        configured (WABOT_SHOPIFY_SHOP and WABOT_SHOPIFY_TOKEN, docs/shopify.md)."""
        if self.settings.file.automations.cod_confirmation is None:
            return None
        try:
            config = admin_config(fallback_shop=self.settings.store.shop_domain)
        except ConfigError as exc:
            log.warning("cash-on-delivery answers will not be tagged in Shopify: %s", exc)
            return None
        client = AdminClient(config, attempts=2)  # the tagger's own backoff spaces the longer retries
        self._closers.append(client.close)
        return ShopifyTagger(self.engine, client)

    def start_background(self, *, inbound: bool = True, outbound: bool = True, scheduler: bool = False,
                         concurrency: int | None = None, inbound_threads: int | None = None) -> None:
        """Run the inbound worker and the sender on threads of this process (and, for `serve`,
        the scheduler)."""
        if scheduler:
            self.start_scheduler()
        if inbound:
            # PostgreSQL lets several threads process different customers' events at once (each
            # claim skips the rows another holds); SQLite has one writer, so one thread.
            threads = 1 if self.engine.dialect.name != "postgresql" else (inbound_threads or INBOUND_THREADS_POSTGRES)
            for n in range(threads):
                worker = self.worker()
                # Requests stored by another process cannot wake this one: the first thread looks
                # every 20 ms (a reply's floor), the others, there for bursts, every 100 ms.
                poll = INBOUND_POLL_SECONDS if n == 0 else INBOUND_POLL_SECONDS * 5
                self._spawn(f"wabot-inbound-{n}", lambda worker=worker, poll=poll: worker.run_forever(
                    self._stop, self.inbound_wake, idle_wait=poll))
        if outbound:
            sender = self.sender(concurrency)
            self._spawn("wabot-sender", lambda: sender.run_forever(self._stop, wake=self.outbound_wake))
            tagger = self.tagger()
            if tagger is not None:  # cash-on-delivery answers become tags in Shopify (docs/automations.md)
                self._spawn("wabot-shopify-tagger", lambda: tagger.run_forever(self._stop))

    def start_scheduler(self) -> Leadership:
        """The scheduler, standing by until this process holds the scheduler lock (bot/pipeline/leader.py)."""
        service = self.scheduler()
        leadership = Leadership(self.engine, service.start, service.stop)
        leadership.start()
        self._closers.append(leadership.stop)
        return leadership

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
