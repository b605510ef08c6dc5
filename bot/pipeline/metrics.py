"""Prometheus metrics: inbound events by type, outbound messages by status, request latency,
and the depth of the inbound queue and the outbox (read from the database at scrape time, so
they are right whichever process did the work).

Under `wabot serve` the counters are counted in several processes (HTTP workers, the background
process): `share_across_processes` puts them in prometheus_client's multiprocess files, and
/metrics adds them up, so a scrape answered by any process shows the whole product.
(`gunicorn` + `wabot worker` deployments set PROMETHEUS_MULTIPROC_DIR themselves; docs/deployment.md.)"""
from __future__ import annotations

import logging
import os

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.engine import Engine

from bot.conversation import intake, outbox
from bot.core import db

log = logging.getLogger(__name__)

# Label values come from payloads: only names we know become series, anything else is "other",
# so a hostile body cannot make thousands of them.
KNOWN_LABELS = frozenset({
    # message types
    "text", "image", "audio", "video", "document", "sticker", "location", "contacts", "interactive", "button",
    "reaction", "order", "system", "unsupported", "unknown", "request_welcome", "edit", "revoke",
    # statuses
    "sent", "delivered", "read", "played", "failed", "deleted", "warning",
    # webhook fields
    "messages", "user_preferences", "account_update", "account_alerts", "account_review_update",
    "business_capability_update", "message_template_status_update", "message_template_quality_update",
    "message_template_components_update", "template_category_update", "phone_number_name_update",
    "phone_number_quality_update", "security", "history", "smb_message_echoes", "smb_app_state_sync",
    "user_id_update", "invalid", "stop", "resume",
})


def metric_label(value: str | None) -> str:
    return value if value in KNOWN_LABELS else "other"


class QueueDepthCollector:
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):
        try:
            with db.reading(self.engine) as conn:
                outbox_depth, inbound_depth = outbox.depth(conn), intake.pending_count(conn)
                set_aside = intake.counts_by_state(conn, ("dead", "quarantined"))
        except Exception:  # a scrape must not fail because the database is briefly away
            log.warning("could not read queue depths for /metrics", exc_info=True)
            return
        yield GaugeMetricFamily("wabot_outbox_depth", "Outbound messages queued or being sent", value=outbox_depth)
        yield GaugeMetricFamily("wabot_inbound_pending", "Stored inbound events not yet processed",
                                value=inbound_depth)
        yield GaugeMetricFamily("wabot_inbound_dead", "Inbound events whose processing failed repeatedly "
                                "(wabot events list --state dead)", value=set_aside["dead"])
        yield GaugeMetricFamily("wabot_inbound_quarantined", "Inbound parts that could not be read as events "
                                "(wabot events list --state quarantined)", value=set_aside["quarantined"])


MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def share_across_processes(directory: str) -> None:
    """From now on, in this process (a child of `serve`), metrics live in `directory`'s files.
    prometheus_client picks its value class when it is imported; this process imported it
    before it was forked, so it is told again."""
    os.environ[MULTIPROCESS_DIR] = directory
    values.ValueClass = values.get_value_class()


def process_ended(pid: int) -> None:
    if os.environ.get(MULTIPROCESS_DIR):
        multiprocess.mark_process_dead(pid)


class Metrics:
    def __init__(self, engine: Engine | None = None):
        disable_created_metrics()  # the *_created series only double what Prometheus scrapes
        self.registry = CollectorRegistry()
        self.inbound = Counter("wabot_inbound_events", "Inbound webhook events stored, by kind and type",
                               ["kind", "type"], registry=self.registry)
        self.duplicates = Counter("wabot_inbound_duplicates", "Inbound events dropped as already stored",
                                  registry=self.registry)
        self.outbound = Counter("wabot_outbound_messages", "Outbound send outcomes by status",
                                ["status"], registry=self.registry)
        self.latency = Histogram("wabot_request_seconds", "HTTP request latency by endpoint",
                                 ["endpoint", "method", "status"], registry=self.registry,
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
        self._depths = QueueDepthCollector(engine) if engine is not None else None
        if self._depths is not None:
            self.registry.register(self._depths)

    def render(self) -> bytes:
        """The exposition text of /metrics: this process's counters, or every process's."""
        directory = os.environ.get(MULTIPROCESS_DIR)
        if not directory:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        if self._depths is not None:
            registry.register(self._depths)
        return generate_latest(registry)
