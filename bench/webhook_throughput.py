"""POST /webhook throughput and latency: `wabot serve` against a bare Flask endpoint and pywa,
all served the same way (gunicorn gthread, one process per CPU, 8 threads each), in one run.

Drives each server from separate load-generator processes with signed, realistic text-message
payloads (every one a new message id, so nothing is deduplicated away):
  1. peak: closed loop, N connections, as fast as the server answers;
  2. half peak: open loop at half the measured peak; latency counted from the scheduled send
     time, so a stalled server cannot hide its queueing;
  3. (wabot serve only) inbound message -> reply handed to the transport, in the sandbox, at a
     steady --reply-rate from distinct customers: every message answered once, p50 and p99.
Servers: the bare endpoint (baseline), pywa (signature check, in-memory dedup, stores nothing;
skipped when pywa is not installed), wabot's request path alone (what `gunicorn
'webhook:create_app()'` runs), and `wabot serve` (HTTP processes and the background process).
Prints requests/s, p50/p99, and the ratios to the baseline; bench/RESULTS.md keeps the figures.

    python bench/webhook_throughput.py [--seconds 10] [--connections 8] [--reply-rate 300]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench]   (default: SQLite files in a temp dir;
        a PostgreSQL database given here is emptied first)
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.core.signing import meta_signature  # noqa: E402
from bot.whatsapp import simulate  # noqa: E402

SECRET = "bench-secret"
MAX_RATE_PER_CONNECTION = 1500  # prepared requests per connection per second of the peak phase
TEXTS = ["hi", "where is my order?", "thanks!", "can I reorder the same as last time", "hola", "oi, tudo bem?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def text_message(wa_id: str, i: int, message_id: str) -> dict:
    """A customer's text webhook payload, as Meta sends them since 2026: the contact carries the
    business-scoped user id too (pywa requires it)."""
    payload = simulate.text_payload(wa_id, TEXTS[i % len(TEXTS)], name=f"Customer {i}", message_id=message_id)
    payload["entry"][0]["changes"][0]["value"]["contacts"][0]["user_id"] = f"US.{wa_id}"
    return payload


def signed_bodies(worker: int, count: int, wa_prefix: str) -> list[tuple[str, bytes, str]]:
    """(wa_id, body, signature) triples with unique message ids and customers."""
    out = []
    for i in range(count):
        wa_id = f"{wa_prefix}{worker:02d}{i:07d}"
        body = json.dumps(text_message(wa_id, i, f"wamid.bench.{wa_prefix}.{worker}.{i}")).encode()
        out.append((wa_id, body, meta_signature(SECRET, body)))
    return out


def _post(conn: http.client.HTTPConnection, body: bytes, signature: str) -> int:
    conn.request("POST", "/webhook", body=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature})
    response = conn.getresponse()
    response.read()
    return response.status


def closed_loop(port: int, worker: int, seconds: float, start_at: float, queue: mp.Queue) -> None:
    # Signed ahead of time so the load generator spends its CPU on sending, not on signing.
    bodies = signed_bodies(worker, int(seconds * MAX_RATE_PER_CONNECTION), "1")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors, i = [], 0, 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline and i < len(bodies):
        _, body, sig = bodies[i]
        t0 = time.perf_counter()
        status = _post(conn, body, sig)
        latencies.append(time.perf_counter() - t0)
        errors += status != 200
        i += 1
    if i == len(bodies):
        print(f"warning: load generator {worker} ran out of prepared requests", file=sys.stderr)
    queue.put((latencies, errors))


def open_loop(port: int, worker: int, rate: float, seconds: float, start_at: float, prefix: str,
              queue: mp.Queue) -> None:
    """Send at a fixed rate; latency from the scheduled time (no coordinated omission)."""
    count = int(rate * seconds)
    bodies = signed_bodies(worker, count, prefix)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors, sent_at = [], 0, {}
    for i, (wa_id, body, sig) in enumerate(bodies):
        scheduled = start_at + i / rate
        delay = scheduled - time.time()
        if delay > 0:
            time.sleep(delay)
        sent_at[wa_id] = time.time()
        status = _post(conn, body, sig)
        latencies.append(time.time() - scheduled)
        errors += status != 200
    queue.put((latencies, errors, sent_at))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_processes(target, args_for, workers: int) -> list:
    queue: mp.Queue = mp.Queue()
    procs = [mp.Process(target=target, args=(*args_for(w), queue)) for w in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return results


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not become healthy")


def measure(name: str, port: int, seconds: float, connections: int) -> dict:
    start = time.time() + 3.0  # time to sign the requests ahead
    results = run_processes(closed_loop, lambda w: (port, w, seconds, start), connections)
    latencies = [x for lat, _ in results for x in lat]
    errors = sum(e for _, e in results)
    peak = len(latencies) / seconds
    half = peak / 2
    start = time.time() + 3.0
    per_worker = half / connections
    open_results = run_processes(open_loop, lambda w: (port, w, per_worker, seconds, start, "2"), connections)
    open_lat = [x for lat, _, _ in open_results for x in lat]
    return {
        "name": name, "peak_rps": peak, "peak_p50_ms": percentile(latencies, 50) * 1000,
        "peak_p99_ms": percentile(latencies, 99) * 1000, "errors": errors + sum(e for _, e, _ in open_results),
        "half_rps": half, "half_p50_ms": percentile(open_lat, 50) * 1000, "half_p99_ms": percentile(open_lat, 99) * 1000,
    }


def reply_latency(port: int, engine, rate: float, seconds: float, connections: int = 4) -> dict:
    """Messages from distinct customers at a steady `rate`; each must be answered once."""
    import sqlalchemy as sa

    start = time.time() + 1.0
    results = run_processes(open_loop, lambda w: (port, w, rate / connections, seconds, start, "3"), connections)
    sent_at = {wa: t for _, _, times in results for wa, t in times.items()}
    query = sa.text("SELECT recipient, min(created_at), count(*) FROM sandbox_messages WHERE recipient LIKE '3%' "
                    "GROUP BY recipient")
    deadline = time.time() + 30
    replies: dict[str, tuple[float, int]] = {}
    while time.time() < deadline:
        time.sleep(0.5)
        with engine.connect() as conn:
            replies = {wa: (_epoch(at), n) for wa, at, n in conn.execute(query)}
        if len(replies) >= len(sent_at):
            time.sleep(1.0)  # a second reply to anyone would show up now
            with engine.connect() as conn:
                replies = {wa: (_epoch(at), n) for wa, at, n in conn.execute(query)}
            break
    twice = sum(1 for _, n in replies.values() if n > 1)
    delays = [replies[wa][0] - t for wa, t in sent_at.items() if wa in replies]
    return {"messages": len(sent_at), "answered": len(delays), "twice": twice, "rate": rate,
            "p50_ms": percentile(delays, 50) * 1000, "p99_ms": percentile(delays, 99) * 1000}


def _epoch(value) -> float:
    """A stored UTC time (a datetime, or SQLite's text) as seconds since the epoch."""
    from datetime import timezone

    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def serve(args: list[str], env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, *args, "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_healthy(port, proc)
    return proc, port


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(30)


# The baselines and wabot's request path, served exactly like `wabot serve`'s HTTP processes.
SERVER = """
import os, sys
from bot.web.server import WabotServer
from {module} import create_app
port = int(sys.argv[sys.argv.index("--port") + 1])
WabotServer(create_app, host="127.0.0.1", port=port, workers=os.cpu_count()).run()
"""


def drain_time(engine, timeout: float = 300) -> float:
    """Seconds until every stored event is processed and every reply recorded."""
    import sqlalchemy as sa

    started = time.time()
    while time.time() - started < timeout:
        with engine.connect() as conn:
            pending = conn.execute(sa.text("SELECT count(*) FROM inbound_events WHERE state = 'pending'")).scalar()
            queued = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')")).scalar()
        if not pending and not queued:
            return time.time() - started
        time.sleep(0.2)
    return float("nan")


def fresh_database(url: str | None, path: str):
    """(URL, engine) of an empty database: a new SQLite file, or the PostgreSQL one emptied."""
    import sqlalchemy as sa

    from bot.core import db

    url = url or f"sqlite:///{path}"
    engine = db.make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    db.upgrade(engine)
    return url, engine


def have_pywa() -> bool:
    try:
        import pywa  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--reply-rate", type=float, default=300)
    parser.add_argument("--database-url", default=None, help="PostgreSQL to measure on (emptied first)")
    parser.add_argument("--serve-only", action="store_true",
                        help="only `wabot serve` (replies, then peak): no ratio to the baselines")
    parser.add_argument("--replies-only", action="store_true",
                        help="only the inbound-to-reply phase (quicker, while working on the background process)")
    opts = parser.parse_args()
    results = []

    with tempfile.TemporaryDirectory() as tmp:
        url, engine = fresh_database(opts.database_url, f"{tmp}/bench.db")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("WABOT_")},
               "PYTHONPATH": str(ROOT), "HOME": tmp, "WABOT_APP_SECRET": SECRET,
               # the sandbox is not Meta: let the sender keep up with the load
               "WABOT_RATE_LIMIT": "2000", "WABOT_DATABASE_URL": url}
        baselines = [("bare Flask", "bench.bare_app")] + ([("pywa", "bench.pywa_app")] if have_pywa() else [])
        for name, module in [] if opts.replies_only or opts.serve_only else [*baselines, ("wabot", "webhook")]:
            proc, port = serve(["-c", SERVER.format(module=module)], env)
            try:
                results.append(measure(name, port, opts.seconds, opts.connections))
            finally:
                stop(proc)

        engine.dispose()
        url, engine = fresh_database(opts.database_url, f"{tmp}/serve.db")
        env["WABOT_DATABASE_URL"] = url
        proc, port = serve(["-m", "bot.cli", "serve"], env)
        try:
            replies = reply_latency(port, engine, opts.reply_rate, opts.seconds)
            if not opts.replies_only:
                results.append(measure("wabot serve", port, opts.seconds, opts.connections))
                backlog = drain_time(engine)
        finally:
            stop(proc)
            engine.dispose()
        database = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    if opts.replies_only:
        print_replies(replies)
        return

    by_name = {r["name"]: r for r in results}
    if opts.serve_only:
        r = by_name["wabot serve"]
        print(f"wabot serve ({database}): peak {r['peak_rps']:.0f} req/s, p99 {r['peak_p99_ms']:.1f} ms; "
              f"backlog answered {backlog:.1f} s later")
        print_replies(replies)
        return
    bare, everything = by_name["bare Flask"], by_name["wabot serve"]
    print(f"\nPOST /webhook, {opts.connections} connections, {opts.seconds:.0f} s per phase; gunicorn gthread, "
          f"{os.cpu_count()} processes x 8 threads for all; {database}; {os.cpu_count()} CPUs\n")
    print(f"{'':44} {'peak req/s':>11} {'p50 ms':>8} {'p99 ms':>8} | {'half-peak req/s':>15} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'errors':>7} {'ratio':>6}")
    labels = {"bare Flask": "bare Flask endpoint (baseline)",
              "pywa": "pywa (signature, in-memory dedup, no store)",
              "wabot": "wabot request path (verify, parse, store)",
              "wabot serve": "wabot serve (also processing, replying)"}
    for r in results:
        print(f"{labels[r['name']]:44} {r['peak_rps']:11.0f} {r['peak_p50_ms']:8.2f} {r['peak_p99_ms']:8.2f} | "
              f"{r['half_rps']:15.0f} {r['half_p50_ms']:8.2f} {r['half_p99_ms']:8.2f} {r['errors']:7d} "
              f"{r['peak_rps'] / bare['peak_rps']:6.2f}")
    if "pywa" not in by_name:
        print("(pywa is not installed: `pip install pywa` to measure it as well)")
    ratio = everything["peak_rps"] / bare["peak_rps"]
    print(f"\nwabot serve / bare Flask (peak req/s): {ratio:.2f}   target >= 0.35  {'OK' if ratio >= 0.35 else 'BELOW'}")
    print(f"wabot serve p99 at peak: {everything['peak_p99_ms']:.1f} ms   target < 50 ms  "
          f"{'OK' if everything['peak_p99_ms'] < 50 else 'ABOVE'}")
    print(f"after both phases the backlog was processed and answered {backlog:.1f} s later")
    print_replies(replies)


def print_replies(replies: dict) -> None:
    once = replies["answered"] == replies["messages"] and replies["twice"] == 0
    print(f"inbound message -> reply handed to the transport (wabot serve, sandbox, {replies['messages']} messages "
          f"from distinct customers at {replies['rate']:.0f}/s): answered {replies['answered']}, twice "
          f"{replies['twice']}; p50 {replies['p50_ms']:.1f} ms, p99 {replies['p99_ms']:.1f} ms   targets: all once "
          f"{'OK' if once else 'NO'}, p50 < 50 ms {'OK' if replies['p50_ms'] < 50 else 'ABOVE'}, "
          f"p99 < 250 ms {'OK' if replies['p99_ms'] < 250 else 'ABOVE'}")


if __name__ == "__main__":
    main()
