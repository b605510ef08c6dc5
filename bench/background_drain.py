"""How fast `wabot serve`'s background process answers a backlog, with no HTTP load: N messages
from distinct customers are stored in the inbound queue first (as the webhook would have), then
`wabot serve` starts; the figure is replies handed to the sandbox transport per second, from the
first reply to the last. It isolates the inbound worker and the sender from the request path
(bench/webhook_throughput.py measures them together); docs/performance.md uses it.

    python bench/background_drain.py [--messages 3000]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench]   (emptied first)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webhook_throughput import free_port, fresh_database, text_message  # noqa: E402


def store_backlog(engine, count: int) -> None:
    from bot.conversation import intake
    from bot.core.times import utcnow
    from bot.whatsapp.events import parse_body

    deliveries = [(parse_body(text_message(f"3{i:09d}", i, f"wamid.drain.{i}")), utcnow()) for i in range(count)]
    with engine.begin() as conn:
        intake.store_many(conn, deliveries)


def main() -> None:
    import sqlalchemy as sa

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL to measure on (emptied first)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url, engine = fresh_database(opts.database_url, f"{tmp}/drain.db")
        store_backlog(engine, opts.messages)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("WABOT_")},
               "PYTHONPATH": str(ROOT), "HOME": tmp, "WABOT_APP_SECRET": "bench-secret",
               "WABOT_RATE_LIMIT": "2000", "WABOT_DATABASE_URL": url}
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(free_port())], env=env,
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        first = None
        count = sa.text("SELECT count(*) FROM sandbox_messages")
        try:
            deadline = time.time() + 600
            while time.time() < deadline:
                time.sleep(0.1)
                with engine.connect() as conn:
                    answered = conn.execute(count).scalar()
                if answered and first is None:
                    first = time.time()
                if answered >= opts.messages:
                    break
        finally:
            proc.terminate()
            proc.wait(30)
            engine.dispose()
    database = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    if first is None or answered < opts.messages:
        print(f"{database}: only {answered} of {opts.messages} answered within 10 minutes")
        return
    seconds = time.time() - first
    print(f"{database}: {opts.messages} stored messages answered by `wabot serve`'s background process in "
          f"{seconds:.1f} s from the first reply to the last = {opts.messages / seconds:.0f} replies/s")


if __name__ == "__main__":
    main()
