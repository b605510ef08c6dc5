"""Segment refresh at store scale: import, full refresh, incremental absorption, against a floor.

    python bench/segments_refresh.py                       # 1,000,000 customers, 10,000,000 orders, SQLite
    python bench/segments_refresh.py --customers 10000 --orders 100000
    python bench/segments_refresh.py --database-url postgresql://postgres@127.0.0.1:5432/bench

What it does, in one process:
1. writes a store of N customers' orders as Shopify order objects in a JSON-lines file (a year of
   orders before a fixed `now`; a skewed number of orders per customer; 1-2 line items each; 4%
   cancelled or refunded; 30% discounted) and imports it through `segments.importer.import_file`,
   the code behind `wabot orders import` (parsing, phone join, batched upserts, aggregates);
2. gives every fifth customer a last inbound message in the past 60 days (chat history);
3. times the floor: one hand-written SQL GROUP BY over the orders computing the per-customer
   aggregates the segments need (count, cents, discounted, first/last order, 180-day count),
   materialised into a temporary table;
4. times full refreshes: the first (every membership is new and written), a second at the same
   `now` (nothing changed) and a third a day later (time has moved: some customers change);
5. times the absorption of 1,000 new orders: parsing the order objects, storing them with their
   aggregates (as the webhook does) and the partial refresh of the customers they touched;
6. prints peak memory (the process's maximum resident set size).

Targets (issue 3): full refresh within 3x of the floor; 1,000 orders absorbed in under 1 s; peak
memory under 2 GiB. The generated file and database are removed unless --keep is given; with
--keep, a later run with --skip-import (same --workdir) measures again without importing.
Figures measured at full size: docs/segments.md, "Performance".
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core import db  # noqa: E402
from bot.core.config import Settings  # noqa: E402
from bot.core.tables import UTCDateTime, customers  # noqa: E402
from segments import store  # noqa: E402
from segments.engine import SegmentEngine  # noqa: E402
from segments.importer import import_file  # noqa: E402
from segments.shopify import order_from_json  # noqa: E402
from segments.tables import orders  # noqa: E402

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
PRODUCTS = [(9000 + i, 90000 + i, f"SKU-{i:03d}", f"Product {i}") for i in range(200)]


def phone(index: int) -> str:
    return f"+1{2000000000 + index}"


def order_json(order_id: int, customer: int, created: datetime, rnd: random.Random) -> str:
    items = []
    total = 0
    for position in range(1 + (rnd.random() < 0.5)):
        product_id, variant_id, sku, title = PRODUCTS[rnd.randrange(len(PRODUCTS))]
        cents = rnd.randrange(500, 15000)
        total += cents
        items.append(f'{{"id":{order_id * 10 + position},"product_id":{product_id},"variant_id":{variant_id},'
                     f'"sku":"{sku}","title":"{title}","quantity":1,"price":"{cents // 100}.{cents % 100:02d}"}}')
    discounted = rnd.random() < 0.3
    roll = rnd.random()
    status = "refunded" if roll < 0.02 else "paid"
    cancelled = f'"{created.isoformat()}"' if 0.02 <= roll < 0.04 else "null"
    return (f'{{"id":{order_id},"name":"#{order_id}","phone":"{phone(customer)}",'
            f'"created_at":"{created.isoformat()}","updated_at":"{created.isoformat()}",'
            f'"cancelled_at":{cancelled},"financial_status":"{status}",'
            f'"total_price":"{total // 100}.{total % 100:02d}","total_discounts":"{"5.00" if discounted else "0.00"}",'
            f'"currency":"USD","shipping_address":{{"country_code":"US","province_code":"NY","city":"New York"}},'
            f'"line_items":[{",".join(items)}]}}\n')


def pick_customer(rnd: random.Random, customers_n: int) -> int:
    # Skewed: a few customers buy often, most once or twice.
    return int(customers_n * rnd.random() ** 2.5)


def generate(path: Path, customers_n: int, orders_n: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    year = 365 * 86400
    with path.open("w") as out:
        buffer = []
        for order_id in range(1, orders_n + 1):
            created = NOW - timedelta(seconds=rnd.randrange(year))
            buffer.append(order_json(order_id, pick_customer(rnd, customers_n), created, rnd))
            if len(buffer) >= 10000:
                out.write("".join(buffer))
                buffer = []
        out.write("".join(buffer))


def floor_query(conn: sa.Connection, now: datetime) -> float:
    """The per-customer aggregates in one hand-written GROUP BY, materialised."""
    conn.exec_driver_sql("DROP TABLE IF EXISTS bench_floor")
    money = "CAST(ROUND(total_price * 100) AS BIGINT)"
    counted = "counted" if conn.dialect.name == "postgresql" else "counted = 1"
    discounted = "is_discounted" if conn.dialect.name == "postgresql" else "is_discounted = 1"
    start = time.perf_counter()
    conn.execute(sa.text(
        f"CREATE TEMPORARY TABLE bench_floor AS SELECT customer_id, count(*) AS orders_count, sum({money}) AS cents,"
        f" sum(CASE WHEN {discounted} THEN 1 ELSE 0 END) AS discounted, min(created_at) AS first_at,"
        f" max(created_at) AS last_at, sum(CASE WHEN created_at > :since THEN 1 ELSE 0 END) AS recent"
        f" FROM orders WHERE {counted} AND customer_id IS NOT NULL AND created_at <= :now GROUP BY customer_id"
    ).bindparams(sa.bindparam("since", type_=UTCDateTime()), sa.bindparam("now", type_=UTCDateTime())),
        {"since": now - timedelta(days=180), "now": now})
    seconds = time.perf_counter() - start
    conn.exec_driver_sql("DROP TABLE IF EXISTS bench_floor")
    return seconds


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    parser.add_argument("--workdir", type=Path, default=None, help="where the generated file (and SQLite) go")
    parser.add_argument("--keep", action="store_true", help="keep the generated file and database")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--skip-import", action="store_true",
                        help="measure on the store a previous --keep run left in --workdir / --database-url")
    args = parser.parse_args()

    own_workdir = args.workdir is None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="wabot-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    data = workdir / "orders.jsonl"
    engine = db.make_engine(url)
    if engine.dialect.name == "postgresql" and not args.skip_import:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    db.upgrade(engine)
    print(f"database: {engine.dialect.name} ({url}); {args.customers:,} customers, {args.orders:,} orders", flush=True)

    try:
        if args.skip_import:
            rate = float("nan")
            print("import: skipped (--skip-import), measuring the kept store", flush=True)
            with engine.begin() as conn:  # forget the memberships of the run that kept the store
                for table in ("segment_members", "segment_events", "segment_state", "segment_refreshes",
                              "segment_pending"):
                    conn.exec_driver_sql(f"DELETE FROM {table}")
                conn.execute(sa.delete(orders).where(orders.c.id > args.orders))
                store.rebuild_all_stats(conn, NOW)
        else:
            started = time.perf_counter()
            generate(data, args.customers, args.orders)
            print(f"generated {data.stat().st_size / 2**20:,.0f} MiB of order JSON lines in"
                  f" {time.perf_counter() - started:.1f} s", flush=True)
            report = import_file(engine, "orders", data, region="US", now=NOW, batch_size=args.batch_size,
                                 on_bad=lambda where, reason: print(f"bad: {where}: {reason}"))
            rate = report.imported / report.seconds
            print(f"import: {report.imported:,} orders, {report.customers_created:,} customers in"
                  f" {report.seconds:.1f} s = {rate:,.0f} orders/s (peak memory so far {peak_mib():,.0f} MiB)",
                  flush=True)
            with engine.begin() as conn:  # chat history: every fifth customer wrote within 60 days
                c = customers.c
                conn.execute(sa.update(customers).where(c.id % 5 == 0).values(
                    last_inbound_at=sa.literal(NOW - timedelta(days=1), UTCDateTime())))
                conn.execute(sa.update(customers).where(c.id % 10 == 0).values(
                    last_inbound_at=sa.literal(NOW - timedelta(days=45), UTCDateTime())))

        segments = SegmentEngine(Settings())
        with engine.begin() as conn:
            floor = floor_query(conn, NOW)
        print(f"floor (hand-written GROUP BY of the aggregates, materialised): {floor:.2f} s", flush=True)

        timings = {}
        for label, at in (("first (all memberships new)", NOW), ("second (same now, nothing changed)", NOW),
                          ("a day later (time moved on)", NOW + timedelta(days=1))):
            with engine.begin() as conn:
                result = segments.refresh(conn, at)
            timings[label] = result.seconds
            print(f"full refresh, {label}: {result.seconds:.2f} s = {result.seconds / floor:.2f}x floor;"
                  f" {result.customers:,} customers, {result.changed:,} rewritten", flush=True)
        print("  members: " + ", ".join(f"{k} {v:,}" for k, v in result.counts.items()), flush=True)

        with engine.begin() as conn:
            floor_later = floor_query(conn, NOW + timedelta(days=1))
        steady = timings["a day later (time moved on)"]
        print(f"floor again: {floor_later:.2f} s; steady full refresh / floor = {steady / floor_later:.2f}x"
              f" (target < 3x)", flush=True)

        # 1,000 new orders arriving (as webhooks would bring them), absorbed incrementally.
        rnd = random.Random(99)
        with engine.connect() as conn:
            next_id = conn.execute(sa.select(sa.func.max(orders.c.id))).scalar() + 1
        at = NOW + timedelta(days=1, hours=1)
        bodies = [json.loads(order_json(next_id + i, pick_customer(rnd, args.customers + 1000),
                                        at - timedelta(minutes=rnd.randrange(50)), rnd)) for i in range(1000)]
        start = time.perf_counter()
        records = [order_from_json(body, "US") for body in bodies]
        with engine.begin() as conn:
            outcome = store.store_orders(conn, records, at)
        stored = time.perf_counter() - start
        with engine.begin() as conn:
            partial = segments.refresh_changed(conn, at)
        absorbed = time.perf_counter() - start
        print(f"1,000 new orders absorbed in {absorbed:.3f} s (target < 1 s): stored with aggregates in"
              f" {stored:.3f} s, partial refresh of {partial.customers:,} customers in {partial.seconds:.3f} s"
              f" ({outcome.customers_created} new customers)", flush=True)
        print(f"peak memory: {peak_mib():,.0f} MiB (target < 2048 MiB)", flush=True)
        print(f"summary: import {rate:,.0f} orders/s; floor {floor:.2f} s;"
              f" full refresh first {timings['first (all memberships new)']:.2f} s,"
              f" steady {steady:.2f} s ({steady / floor_later:.2f}x floor); 1,000 orders {absorbed:.3f} s;"
              f" peak {peak_mib():,.0f} MiB")
    finally:
        engine.dispose()
        if not args.keep:
            data.unlink(missing_ok=True)
            if args.database_url is None:
                for suffix in ("", "-wal", "-shm"):
                    (workdir / f"bench.db{suffix}").unlink(missing_ok=True)
            if own_workdir:
                shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
