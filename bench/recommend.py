"""Cross-sell suggestions: the one-query version (segments/orders.py:suggestions) against a baseline
that walks the neighbours in Python, one query per neighbour, on the same synthetic shop.

    python bench/recommend.py [--customers 5000] [--products 300] [--samples 100]

Uses WABOT_DATABASE_URL when set (e.g. PostgreSQL), else a temporary SQLite file. Prints the time
per suggestion for both and their ratio; both must agree on the top suggestion.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core import db
from bot.core.tables import customers
from segments import orders as store
from segments.tables import line_items, orders, products

NOW = datetime(2026, 11, 28, tzinfo=timezone.utc)


def seed(engine: sa.Engine, n_customers: int, n_products: int, rng: random.Random) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(products), [{"id": p, "title": f"Product {p}", "status": "active"}
                                           for p in range(1, n_products + 1)])
        conn.execute(sa.insert(customers), [{"id": c, "wa_id": f"1555{c:07d}", "created_at": NOW, "updated_at": NOW}
                                            for c in range(1, n_customers + 1)])
        order_rows, item_rows, order_id = [], [], 0
        for customer_id in range(1, n_customers + 1):
            # Shoppers stay near a "taste" of related products, so co-purchases mean something.
            taste = rng.randrange(n_products)
            for _ in range(rng.randint(1, 5)):
                order_id += 1
                order_rows.append({"id": order_id, "customer_id": customer_id, "total_price": Decimal("20"),
                                   "created_at": NOW - timedelta(days=rng.randint(1, 300)), "ingested_at": NOW,
                                   "counted": True})
                picked = {(taste + rng.randint(-8, 8)) % n_products + 1 for _ in range(rng.randint(1, 4))}
                for position, product_id in enumerate(sorted(picked), start=1):
                    item_rows.append({"order_id": order_id, "position": position, "product_id": product_id,
                                      "variant_id": product_id * 10, "title": f"Product {product_id}",
                                      "quantity": 1, "price": Decimal("10")})
        conn.execute(sa.insert(orders), order_rows)
        conn.execute(sa.insert(line_items), item_rows)


def baseline(conn: sa.Connection, customer_id: int) -> list[int]:
    """What the single query replaces: neighbours found, then each neighbour's orders read in turn."""
    o, li = orders.c, line_items.c
    join = line_items.join(orders, o.id == li.order_id)
    owned = {r[0] for r in conn.execute(sa.select(li.product_id).select_from(join).where(o.customer_id == customer_id))}
    if not owned:
        return []
    neighbours = {r[0] for r in conn.execute(sa.select(o.customer_id).select_from(join)
                                             .where(li.product_id.in_(owned), o.customer_id != customer_id))}
    counts: Counter[int] = Counter()
    for neighbour in neighbours:
        bought = {r[0] for r in conn.execute(sa.select(li.product_id).select_from(join)
                                             .where(o.customer_id == neighbour))}
        counts.update(bought - owned)
    return [p for p, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]


def timed(fn, samples: list[int]) -> tuple[list[float], list]:
    took, results = [], []
    for customer_id in samples:
        started = time.perf_counter()
        results.append(fn(customer_id))
        took.append((time.perf_counter() - started) * 1000)
    return took, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(7)
    url = os.environ.get("WABOT_DATABASE_URL")
    tmp = None
    if not url:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench.db"
    engine = db.make_engine(url)
    db.upgrade(engine)
    started = time.perf_counter()
    seed(engine, args.customers, args.products, rng)
    with engine.connect() as conn:
        n_orders = conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar()
    print(f"shop: {args.customers} customers, {args.products} products, {n_orders} orders "
          f"({engine.dialect.name}, seeded in {time.perf_counter() - started:.1f}s)")
    samples = rng.sample(range(1, args.customers + 1), args.samples)
    with engine.connect() as conn:
        one_query, ours = timed(lambda c: [s.product_id for s in store.suggestions(conn, c, NOW)], samples)
        loops, theirs = timed(lambda c: baseline(conn, c), samples)
    agree = sum(1 for a, b in zip(ours, theirs) if a[:1] == b[:1]) / len(samples)
    for name, took in (("one query (segments/orders.py)", one_query), ("python loop baseline", loops)):
        print(f"{name:28s} median {statistics.median(took):7.2f} ms   p95 {sorted(took)[int(len(took) * .95) - 1]:7.2f} ms")
    print(f"ratio baseline/one query: {statistics.median(loops) / statistics.median(one_query):.1f}x; "
          f"same top suggestion for {agree:.0%} of customers")
    engine.dispose()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
