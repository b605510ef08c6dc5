"""`wabot shopify sync`: the shop's products, customers, orders and abandoned checkouts into the
store.

The history comes through one bulk operation per kind (bot/shopify/bulk.py), its export streamed
line by line and reassembled (bot/shopify/jsonl.py); `since` reads the nodes changed since then
through paginated queries instead (bot/shopify/pages.py). Abandoned checkouts come last, always
through pages (all of them, or those changed since). Either way each node becomes the record
a webhook or a file import would make of it (bot/shopify/records.py) and is written by the
importers' own batch writer, in transactions of `batch_size` records: an interrupted sync keeps
what it finished, and since the store keeps the newest copy of an order (by `updated_at`), a
sync, a webhook and an import of the same order in any order leave the same row
(docs/shopify.md, "Sync").
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.core import safejson
from bot.core.times import utcnow
from bot.shopify import bulk, queries, records
from bot.shopify.admin import AdminClient
from bot.shopify.jsonl import Assembler, Node
from bot.shopify.pages import id_filters, pages, since_filter
from segments import importer, store
from segments.importer import ImportReport
from segments.shopify import RowError
from segments.sources import Bad
from segments.sqlutil import bulk_page_cache
from segments.tables import checkouts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    kind: str  # orders, customers, products, checkouts
    phase: str  # "exporting" (Shopify writes the file), "downloading" (bytes), "reading" (pages, nodes)
    done: int
    total: int | None = None


@dataclass
class SyncReport:
    shop: str
    mode: str  # "bulk" (the whole history) or "since"
    kinds: dict[str, ImportReport] = field(default_factory=dict)
    refetched: int = 0  # nodes read again by id because the export left their children apart
    seconds: float = 0.0

    @property
    def bad(self) -> int:
        return sum(r.bad for r in self.kinds.values())


def sync(client: AdminClient, engine: Engine, *, region: str, since: datetime | None = None,
         now: datetime | None = None, progress: Callable[[Progress], None] | None = None,
         on_bad: Callable[[str, str, str], None] | None = None, batch_size: int = 1000,
         poll_delays: Callable[[], Iterable[float]] | None = None, window: int = 1000) -> SyncReport:
    """Products, then customers, then orders, then abandoned checkouts. `on_bad(kind, where,
    reason)` hears of each record that could not be imported (the others are)."""
    started = time.perf_counter()
    report = SyncReport(client.config.shop, "since" if since else "bulk")
    tell = progress or (lambda _event: None)
    for name in queries.ORDER_OF_SYNC:
        kind = queries.KINDS[name]
        report.kinds[name] = ImportReport(name)
        with _Loader(engine, name, region, report.kinds[name], on_bad, now, batch_size) as loader:
            if since is not None:
                search = since_filter(since)
                for node in pages(client, kind, search, lambda n, k=name: tell(Progress(k, "reading", n))):
                    loader.add(node)
                continue
            assembler = Assembler(kind.typename, {kind.children.typename: kind.children.field} if kind.children
                                  else {}, window=window)
            export = bulk.run(client, kind, on_status=lambda s: tell(Progress(s.kind, "exporting", s.objects)),
                              delays=poll_delays() if poll_delays else None)
            for item in bulk.read(client, export, assembler,
                                  lambda done, k=name, size=export.size: tell(Progress(k, "downloading", done, size))):
                loader.add(item)
            if assembler.refetch:
                log.warning("%d %s came apart from their %s in the export: reading them again by id",
                            len(assembler.refetch), name, kind.children.field if kind.children else "children")
                report.refetched += len(assembler.refetch)
                for search in id_filters(assembler.refetch):
                    for node in pages(client, kind, search):
                        loader.add(node)
    for name in queries.PAGED_KINDS:
        kind = queries.KINDS[name]
        report.kinds[name] = ImportReport(name)
        with _Loader(engine, name, region, report.kinds[name], on_bad, now, batch_size) as loader:
            search = since_filter(since) if since is not None else None
            for node in pages(client, kind, search, lambda n, k=name: tell(Progress(k, "reading", n))):
                loader.add(node)
    report.seconds = time.perf_counter() - started
    return report


class _Loader:
    """Nodes of one kind -> records -> the importers' batch writer (segments/importer.py), with the
    same checks and accounting as a file import: a bad node is reported and left out, a batch the
    database refuses is retried record by record, order aggregates are recomputed at the end."""

    def __init__(self, engine: Engine, kind: str, region: str, report: ImportReport,
                 on_bad: Callable[[str, str, str], None] | None, now: datetime | None, batch_size: int):
        self._engine, self._kind, self._region, self._report = engine, kind, region, report
        self._on_bad = on_bad or (lambda kind, where, reason: None)
        self._clock = (lambda: now) if now else utcnow
        self._batch_size = batch_size
        self._batch: list[tuple[str, object]] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "_Loader":
        self._conn = self._stack.enter_context(self._engine.connect())
        self._stack.enter_context(bulk_page_cache(self._conn))
        self._started = time.perf_counter()
        return self

    def bad(self, where: str, reason: str) -> None:
        self._report.bad += 1
        self._on_bad(self._kind, where, reason)

    def add(self, item: Node | Bad) -> None:
        self._report.records += 1
        if isinstance(item, Bad):
            self.bad(item.where, item.reason)
            return
        try:
            rest = records.as_rest(self._kind, item.value)
            # NUL, lone surrogates, absurd sizes, numbers out of range: never sent to the database. Checked
            # on what is kept of the node (its REST object), not on the fields that are left behind.
            problem = safejson.problem(rest)
            if problem:
                self.bad(item.where, problem)
                return
            self._batch.append((item.where, records.from_rest(self._kind, rest, self._region)))
        except RowError as exc:
            self.bad(item.where, str(exc))
        except (ValueError, TypeError, ArithmeticError, AttributeError) as exc:  # a shape no reader expected
            self.bad(item.where, f"unreadable record: {exc.__class__.__name__}")
        if len(self._batch) >= self._batch_size:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            if self._kind == "checkouts":
                self._batch = self._known_tokens(self._batch)
            importer.write_batch(self._conn, self._kind, self._batch, self._clock(), self._report, self.bad)
            self._batch = []

    def _known_tokens(self, batch: list[tuple[str, object]]) -> list[tuple[str, object]]:
        """A checkout whose token could not be read off its URL ("gid:<id>", records.checkout_token)
        takes the token already stored for its id (a checkouts/* webhook's), so that one checkout
        stays one row, and its abandoned-checkout sequence one sequence."""
        ids = {r.shopify_id for _, r in batch if r.shopify_id and r.token.startswith("gid:")}
        if not ids:
            return batch
        stored: dict[int, str] = {}
        with self._conn.begin():
            for shopify_id, token in self._conn.execute(sa.select(checkouts.c.shopify_id, checkouts.c.token)
                                                        .where(checkouts.c.shopify_id.in_(sorted(ids)))):
                if shopify_id not in stored or stored[shopify_id].startswith("gid:"):  # a webhook's token wins
                    stored[shopify_id] = token
        return [(where, dataclasses.replace(r, token=stored[r.shopify_id])
                 if r.token.startswith("gid:") and r.shopify_id in stored else r) for where, r in batch]

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            # On an error the records parsed so far are not written: a sync run again reads them again.
            # Aggregates of what was written stay marked (order_stats_pending) for the next flush.
            if exc_type is None:
                self._flush()
                if self._kind == "orders":
                    with self._conn.begin():
                        store.flush_pending_stats(self._conn, self._clock())
        finally:
            self._report.seconds = time.perf_counter() - self._started
            self._stack.close()


def check_access(client: AdminClient) -> str:
    """The shop's name, read before anything is written: a wrong token, shop or API version fails
    here with its one-line error (bot/shopify/admin.py)."""
    shop = client.query("WabotShop", queries.SHOP).get("shop") or {}
    return str(shop.get("name") or client.config.shop)
