"""`wabot shopify sync` of a generated store from the fake Admin API, against the importers' speed.

    python bench/shopify_sync.py                          # 100,000 orders, SQLite
    python bench/shopify_sync.py --orders 20000
    python bench/shopify_sync.py --database-url postgresql://postgres@127.0.0.1:5432/bench

What it does, in one process:
1. writes a store of Shopify REST order objects as JSON lines (bench/segments_refresh.py's
   generator: a year of orders, 1-2 line items each, a skewed number of orders per customer);
2. the baseline: imports that file into an empty database through `segments.importer.import_file`,
   the code behind `wabot orders import`;
3. loads the same orders into the fake Admin API (tests/support/fake_shopify.py, a real HTTP server
   in a child process), has it write the bulk exports ahead (Shopify's own time to write an export
   is not ours to measure), and syncs into a second empty database through `bot.shopify.sync.sync`,
   the code behind `wabot shopify sync`: bulk runs and polls, the streamed download of the JSONL,
   its reassembly (orders and their line items on separate lines), the GraphQL-to-record mapping,
   the same batch writer, the aggregates;
4. checks that both databases hold the same orders, line items and aggregates, and prints both
   rates and their ratio.

CPU seconds (of this process: the client, not the fake) are printed beside wall time, because on
a shared machine the wall time of two runs minutes apart says little.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.segments_refresh import NOW, generate  # noqa: E402
from bot.core import db  # noqa: E402
from bot.shopify.admin import AdminClient  # noqa: E402
from bot.shopify.bulk import poll_delays  # noqa: E402
from bot.shopify.config import admin_config  # noqa: E402
from bot.shopify.sync import sync  # noqa: E402
from segments.importer import import_file  # noqa: E402
from segments.tables import customer_order_stats, line_items, orders  # noqa: E402


@contextmanager
def database(base: str | None, workdir: Path, name: str) -> Iterator[sa.Engine]:
    """An empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if base is None:
        engine = db.make_engine(f"sqlite:///{workdir / f'{name}.db'}")
        db.upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = db.make_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    engine = db.make_engine(f"{base}{separator}options={quote(f'-csearch_path={schema}')}")
    try:
        db.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


# The fake in a process of its own: its heap (the shop's objects, the export) and its serving
# threads would otherwise cost the client's garbage collector and GIL, and no real sync pays that.
FAKE = """
import json, sys
from bot.shopify import queries
from tests.support.fake_shopify import FakeShopify
fake = FakeShopify(restore_rate=1000.0).start()  # a Shopify Plus bucket: 1,000 points a second
with open(sys.argv[1]) as handle:
    fake.load(orders=(json.loads(line) for line in handle))
for name in queries.ORDER_OF_SYNC:
    fake.prepare(queries.bulk_query(queries.KINDS[name]))
print(json.dumps(fake.env()), flush=True)
sys.stdin.read()
fake.stop()
"""


@contextmanager
def fake_shop(path: Path) -> Iterator[dict[str, str]]:
    """The WABOT_SHOPIFY_* variables of a fake Shopify serving the orders of `path`."""
    process = subprocess.Popen([sys.executable, "-c", FAKE, str(path)], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the fake Shopify did not start")
        yield json.loads(line)
    finally:
        process.stdin.close()
        process.wait(30)


def contents(engine: sa.Engine) -> tuple:
    """What both ways must agree on: counts and sums of what was stored."""
    with engine.connect() as conn:
        return (conn.execute(sa.select(sa.func.count(), sa.func.sum(orders.c.total_price)).select_from(orders)).one(),
                conn.execute(sa.select(sa.func.count(), sa.func.sum(line_items.c.quantity))
                             .select_from(line_items)).one(),
                conn.execute(sa.select(sa.func.count(), sa.func.sum(customer_order_stats.c.orders_count),
                                       sa.func.sum(customer_order_stats.c.total_cents))
                             .select_from(customer_order_stats)).one())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=None, help="default: a tenth of the orders")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL; default: SQLite files")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    customers_n = args.customers or max(1, args.orders // 10)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="wabot-shopify-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(args, customers_n, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, customers_n: int, workdir: Path) -> None:
    path = workdir / "orders.jsonl"
    started = time.perf_counter()
    generate(path, customers_n, args.orders)
    print(f"generated {args.orders:,} orders of {customers_n:,} customers in {time.perf_counter() - started:.1f} s"
          f" ({path.stat().st_size / 2**20:.0f} MiB of JSON lines)")

    with database(args.database_url, workdir, "import") as engine:
        cpu = time.process_time()
        report = import_file(engine, "orders", path, region="US", now=NOW)
        import_cpu = time.process_time() - cpu
        imported = contents(engine)
    assert report.bad == 0 and report.imported == args.orders, report
    print(f"file import:  {report.seconds:7.1f} s  {report.rate:8,.0f} orders/s  ({import_cpu:.1f} s of CPU)")

    started = time.perf_counter()
    with fake_shop(path) as env:
        print(f"fake Shopify loaded and its exports written in {time.perf_counter() - started:.1f} s (not timed)")
        client = AdminClient(admin_config(env))
        with database(args.database_url, workdir, "sync") as engine:
            cpu = time.process_time()
            synced = sync(client, engine, region="US", now=NOW, poll_delays=lambda: poll_delays(0.05, 1.0))
            sync_cpu = time.process_time() - cpu
            stored = contents(engine)
        client.close()
    kinds = synced.kinds["orders"]
    assert synced.bad == 0 and kinds.imported == args.orders, synced
    assert stored == imported, f"the sync stored {stored}, the import {imported}"
    rate = args.orders / synced.seconds
    stats = client.stats
    print(f"shopify sync: {synced.seconds:7.1f} s  {rate:8,.0f} orders/s  ({sync_cpu:.1f} s of CPU;"
          f" {stats.requests} API requests, {stats.downloaded / 2**20:.0f} MiB downloaded,"
          f" {stats.budget_waited:.1f} s waiting for the budget)")
    print(f"sync / import: {synced.seconds / report.seconds:.2f}x the time, {sync_cpu / import_cpu:.2f}x the CPU"
          " (same orders, line items and aggregates)")


if __name__ == "__main__":
    main()
