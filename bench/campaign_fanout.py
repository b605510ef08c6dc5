"""A campaign to 100,000 customers through the real planner, ledger, outbox and sender, against a
fast local fake of the Graph API running in its own process.

    python bench/campaign_fanout.py [--customers 100000] [--rate 1000] [--database-url URL]

Prints, side by side:
- planning time (audience read from the segment engine + one decision per customer) and the time
  to record the run (ledger and outbox rows);
- the fake server's own ceiling on this machine: the same HTTP client (bot.whatsapp.graph.HttpTransport,
  the same number of connections) sending as fast as it can, with no database and no limit;
- the sustained send rate with WABOT_RATE_LIMIT-style pacing at --rate, from the fake server's
  receive timestamps, and the most messages it received in any sliding second (must not exceed
  the limit);
- the targets: planning under 5 s; at least 900 messages/s sustained, or the fake's ceiling,
  whichever is lower.

Exit status 1 when a target is missed or the limit was exceeded.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core import db  # noqa: E402
from bot.core.config import load_settings  # noqa: E402
from bot.core.tables import customers  # noqa: E402
from bot.pipeline.sender import Sender, concurrency_for  # noqa: E402
from bot.runtime import Features  # noqa: E402
from bot.whatsapp import graph, messages  # noqa: E402
from segments.tables import customer_tags  # noqa: E402

NOW = datetime(2026, 6, 2, 15, 0, tzinfo=timezone.utc)
TOML = """
[store]
name = "Bench Store"
timezone = "UTC"

[policy]
consent = "any"
max_marketing_per_7d = 5
daily_unique_limit = 10000000
quiet_hours = []

[segments.newsletter]
rule = 'has_tag("newsletter")'

[campaigns.fanout]
segment = "newsletter"
text = "Hi {first_name}, our summer sale starts today at {store_name}."
template = { name = "summer_sale", language = "en_US", body = ["{first_name}"] }
"""
PREFIXES = ["1212555", "5511987", "4915123", "9198765", "5255123", "6281234", "4479111"]
COUNTRIES = ["US", "BR", "DE", "IN", "MX", "ID", "GB"]


class FakeServer:
    """bench/fast_fake_graph.py as a child process; its receive times come back on stop()."""

    def __init__(self, workdir: Path, name: str):
        self.ready = workdir / f"{name}.ready"
        self.times_file = workdir / f"{name}.times"
        self.process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fast_fake_graph.py"),
                                         "--ready-file", str(self.ready), "--times-file", str(self.times_file)])
        deadline = time.monotonic() + 20
        while not (self.ready.exists() and self.ready.read_text().strip()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("the fake Graph server did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(self.ready.read_text())}"

    def stop(self) -> list[int]:
        self.process.terminate()
        self.process.wait(30)
        text = self.times_file.read_text() if self.times_file.exists() else ""
        return sorted(int(line) for line in text.split())


def rate_of(times: list[int]) -> float:
    return (len(times) - 1) / ((times[-1] - times[0]) / 1e9) if len(times) > 1 else 0.0


def busiest_second(times: list[int]) -> int:
    """The most requests received in any window of one second (sliding, not calendar seconds)."""
    best = start = 0
    for end, t in enumerate(times):
        while t - times[start] >= 1_000_000_000:
            start += 1
        best = max(best, end - start + 1)
    return best


def generate(engine: sa.Engine, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        k = i % len(PREFIXES)
        opened = rng.random() < 0.3  # 30% wrote in the last day: free-form, free
        last = NOW - timedelta(hours=rng.uniform(0.5, 20)) if opened else NOW - timedelta(days=rng.uniform(2, 90))
        rows.append({"wa_id": f"{PREFIXES[k]}{i:06d}", "first_name": f"Customer{i}", "phone_country": COUNTRIES[k],
                     "accepts_marketing": True, "opted_out": False, "marketing_paused": False,
                     "last_inbound_at": last, "first_inbound_at": last, "created_at": NOW - timedelta(days=100),
                     "updated_at": NOW - timedelta(days=1)})
    with engine.begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(sa.insert(customers), rows[start:start + 10_000])
        ids = conn.execute(sa.select(customers.c.id)).scalars().all()
        for start in range(0, len(ids), 10_000):
            conn.execute(sa.insert(customer_tags), [{"customer_id": i, "tag": "newsletter"}
                                                    for i in ids[start:start + 10_000]])


def ceiling(workdir: Path, connections: int, requests: int) -> float:
    """The fake server's rate with the sender's HTTP client and no limit, measured by the server."""
    server = FakeServer(workdir, "ceiling")
    transport = graph.HttpTransport(server.url, "v26.0", "1", "token", pool_size=connections)
    body = graph.envelope("15550000000", messages.text_message("ceiling"), "outbox:0")
    try:
        with ThreadPoolExecutor(connections) as pool:
            list(pool.map(lambda _: transport.send(body), range(requests)))
    finally:
        transport.close()
    return rate_of(server.stop())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="messages a second (WABOT_RATE_LIMIT)")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file in a temporary directory")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wabot-fanout-") as tmp:
        workdir = Path(tmp)
        (workdir / "wabot.toml").write_text(TOML)
        url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
        schema = None
        if url.startswith("postgres"):
            # A schema of its own, dropped at the end: the bench never touches existing data.
            schema = f"wabot_bench_{os.getpid()}"
            with db.make_engine(url).begin() as conn:
                conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        settings = load_settings({"WABOT_DATABASE_URL": url, "WABOT_CONFIG": str(workdir / "wabot.toml"),
                                  "WABOT_RATE_LIMIT": str(args.rate), "WABOT_WHATSAPP_TOKEN": "bench",
                                  "WABOT_PHONE_NUMBER_ID": "1"}, cwd=workdir)
        engine = db.make_engine(url)
        db.upgrade(engine)
        with engine.connect() as conn:
            if conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar_one():
                raise SystemExit("the bench needs an empty database")
        started = time.perf_counter()
        generate(engine, args.customers)
        print(f"store: {args.customers:,} customers generated in {time.perf_counter() - started:.1f}s "
              f"({'PostgreSQL' if url.startswith('postgres') else 'SQLite'})")

        connections = concurrency_for(args.rate)
        fake_ceiling = ceiling(workdir, connections, min(40_000, args.customers))
        print(f"fake Graph server ceiling: {fake_ceiling:,.0f} messages/s "
              f"(same client, {connections} connections, no database, no limit)")

        campaigns = Features.build(settings).campaigns
        with engine.begin() as conn:
            started = time.perf_counter()
            batch = campaigns.plan_batch(conn, "fanout", NOW)
            planning = time.perf_counter() - started
            summary = batch.result.summary
            started = time.perf_counter()
            written = campaigns.record(conn, batch, "manual", NOW)
            recording = time.perf_counter() - started
        print(f"planning: {planning:.2f}s for {summary['audience']:,} customers "
              f"({summary['freeform']:,} free-form, {summary['template']:,} template, "
              f"{summary['audience'] - summary['eligible']:,} skipped)")
        print(f"recording the run: {recording:.2f}s ({written['queued']:,} ledger and outbox rows)")

        server = FakeServer(workdir, "campaign")
        transport = graph.HttpTransport(server.url, "v26.0", "1", "bench", pool_size=connections)
        sender = Sender(engine, transport, rate_limit=args.rate, concurrency=connections, clock=lambda: NOW)
        started = time.perf_counter()
        try:
            sender.drain(timeout=float("inf"))
        finally:
            sender.close()
            transport.close()
        wall = time.perf_counter() - started
        times = server.stop()
        engine.dispose()
        if schema is not None:
            with db.make_engine(args.database_url).begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

    sustained, busiest = rate_of(times), busiest_second(times)
    target = min(900.0, fake_ceiling)
    print(f"sending: {len(times):,} messages in {wall:.1f}s; sustained {sustained:,.0f}/s "
          f"(from the server's receive times) against a limit of {args.rate:,.0f}/s")
    print(f"busiest sliding second at the server: {busiest:,} messages (limit {args.rate:,.0f})")
    print(f"side by side: sustained {sustained:,.0f}/s = {sustained / args.rate:.1%} of the limit, "
          f"{sustained / fake_ceiling:.1%} of the fake server's ceiling ({fake_ceiling:,.0f}/s)")
    checks = {
        "planning under 5 s": planning < 5.0,
        f"sustained at least {target:,.0f}/s (900/s or the fake's ceiling)": sustained >= target,
        "never above the limit in any second": busiest <= args.rate,
        "every queued message sent once": len(times) == written["queued"],
    }
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISSED'}] {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
