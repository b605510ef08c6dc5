"""`wabot orders|customers|products import`: a file streamed into the store in batches.

Each batch is parsed (bad records are reported with their line and reason and left out), then
written in one transaction, so an interrupted import keeps what it finished and a rerun is
idempotent. Orders defer their aggregates to the end of the import, where the customers touched
are recomputed in one set-wise pass.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.core import safejson
from bot.core.logmask import mask_text
from bot.core.times import utcnow
from segments import checkouts, fulfillments, shopify, store
from segments.shopify import RowError
from segments.sources import Bad, Progress, Record, read_records
from segments.sqlutil import bulk_page_cache

log = logging.getLogger(__name__)

KINDS = ("orders", "customers", "products")
BadRow = Callable[[str, str], None]  # (where, reason)


@dataclass
class ImportReport:
    kind: str
    records: int = 0
    imported: int = 0
    stale: int = 0
    bad: int = 0
    customers_created: int = 0
    without_customer: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def parse(kind: str, record: Record, region: str):
    """The typed record for one input record, or RowError."""
    if record.headers is not None:  # CSV rows
        if kind == "orders":
            return shopify.order_from_csv(record.value, region)
        if kind == "products":
            return shopify.product_from_csv(record.value)
        return shopify.customer_from_csv(record.value[0], record.headers, region)
    if kind == "orders":
        return shopify.order_from_json(record.value, region)
    if kind == "products":
        return shopify.product_from_json(record.value)
    return shopify.customer_from_json(record.value, region)


def write(conn: Connection, kind: str, records: Sequence, now: datetime, *, defer_stats: bool = False
          ) -> store.StoreOutcome:
    """Write a batch of one kind: orders (with the fulfillments they carry, completing the
    checkouts they name), customers, products, checkouts or fulfillments."""
    if kind == "orders":
        outcome = store.store_orders(conn, records, now, defer_stats=defer_stats)
        shipped = [f for r in records for f in r.fulfillments]
        if shipped:
            fulfillments.store_fulfillments(conn, shipped, now)
        checkouts.complete_by_orders(conn, [r.checkout_token for r in records if r.checkout_token],
                                     [r.checkout_id for r in records if r.checkout_id], now)
        return outcome
    if kind == "customers":
        return store.store_customers(conn, records, now)
    if kind == "checkouts":
        return checkouts.store_checkouts(conn, records, now)
    if kind == "fulfillments":
        return fulfillments.store_fulfillments(conn, records, now)
    return store.store_products(conn, records, now)


def import_file(engine: Engine, kind: str, path: Path, *, region: str, now: datetime | None = None,
                on_bad: BadRow | None = None, progress: Progress | None = None,
                batch_size: int = 1000) -> ImportReport:
    if kind not in KINDS:
        raise ValueError(kind)
    report = ImportReport(kind)
    started = time.perf_counter()
    clock = (lambda: now) if now else utcnow
    complain = on_bad or (lambda where, reason: None)

    def bad(where: str, reason: str) -> None:
        report.bad += 1
        complain(where, reason)

    with engine.connect() as conn, bulk_page_cache(conn):
        batch: list[tuple[str, object]] = []
        for item in read_records(path, kind, progress):
            report.records += 1
            if isinstance(item, Bad):
                bad(item.where, item.reason)
                continue
            problem = safejson.problem(item.value)  # NUL, lone surrogates, absurd sizes: never sent to the database
            if problem:
                bad(item.where, problem)
                continue
            try:
                batch.append((item.where, parse(kind, item, region)))
            except RowError as exc:
                bad(item.where, str(exc))
            except (ValueError, TypeError, ArithmeticError, AttributeError) as exc:  # a shape no reader expected
                bad(item.where, f"unreadable record: {exc.__class__.__name__}")
            if len(batch) >= batch_size:
                write_batch(conn, kind, batch, clock(), report, bad)
                batch = []
        if batch:
            write_batch(conn, kind, batch, clock(), report, bad)
        if kind == "orders":
            with conn.begin():
                store.flush_pending_stats(conn, clock())
    report.seconds = time.perf_counter() - started
    return report


def write_batch(conn: Connection, kind: str, batch: list[tuple[str, object]], now: datetime,
                report: ImportReport, bad: BadRow) -> None:
    """Write one batch of (where, record) pairs in its own transaction, counted in `report`; a batch
    the database refuses is written record by record, the refused ones reported to `bad`. Shared by
    file imports and `wabot shopify sync`."""
    try:
        with conn.begin():
            _account(report, write(conn, kind, [r for _, r in batch], now, defer_stats=True))
        return
    except (sa.exc.IntegrityError, sa.exc.DataError):
        log.info("a batch of %d %s failed; retrying one by one to find the bad records", len(batch), kind)
    # The database refused the batch: find the record(s) it refuses, keep the others.
    for where, record in batch:
        try:
            with conn.begin():
                _account(report, write(conn, kind, [record], now, defer_stats=True))
        except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
            bad(where, f"refused by the database: {mask_text(str(exc.orig).splitlines()[0])}")


def _account(report: ImportReport, outcome: store.StoreOutcome) -> None:
    report.imported += outcome.applied
    report.stale += outcome.stale
    report.customers_created += outcome.customers_created
    report.without_customer += outcome.without_customer


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
