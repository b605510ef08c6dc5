"""`wabot serve --workers N`: N HTTP processes and one background process under one command, on
SQLite and PostgreSQL; one signal stops them all; a background process that dies is started
again; /metrics counts what every process did."""
from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from bot.core.tables import outbox
from bot.whatsapp import simulate
from tests.conftest import make_env, signed_post
from tests.support.crash import Processes, wait_until

pytestmark = pytest.mark.slow
SERVING = "wabot serving on"


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def descendants(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def topology(pid: int) -> tuple[int, list[int], int]:
    """(gunicorn's arbiter, its workers, the background process) under `serve`'s pid."""
    direct = children(pid)
    assert len(direct) == 2, direct
    arbiter = next(c for c in direct if children(c))
    (background,) = [c for c in direct if c != arbiter]
    return arbiter, children(arbiter), background


def reading_until(read, good, what: str, timeout: float = 30.0):
    """`read()` again until `good` holds of what it read; that reading."""
    last = []

    def check() -> bool:
        last[:] = [read()]
        return good(last[0])

    wait_until(check, timeout, what)
    return last[0]


def replies(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox)
                            .where(outbox.c.kind == "reply", outbox.c.state == "sent")).scalar_one()


def counter(text: str, name: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


def test_serve_runs_n_http_processes_and_one_background_process_and_answers_across_them(
        engine, database_url, tmp_path, fake_graph):
    procs = Processes(make_env(database_url, tmp_path, fake_graph), tmp_path)
    try:
        proc = procs.healthy(procs.serve("serve", "--workers", "3"))
        procs.wait(lambda: SERVING in proc.log(), what="the banner")
        assert "3 HTTP processes and a background process" in proc.log()
        arbiter, workers, background = reading_until(lambda: topology(proc.process.pid), lambda t: len(t[1]) == 3,
                                                     what="3 HTTP workers")
        session = requests.Session()
        customers = [f"4915111{i:05d}" for i in range(60)]
        for i, wa_id in enumerate(customers):  # new connections: gunicorn spreads them over its workers
            payload = simulate.text_payload(wa_id, "hi", message_id=f"wamid.serve.{i}")
            assert signed_post(proc.url, payload).ok
        procs.wait(lambda: replies(engine) == len(customers), what="every message answered", timeout=60)
        # /metrics, answered by any one HTTP worker, adds up what each process counted.
        metrics = reading_until(lambda: session.get(f"{proc.url}/metrics", timeout=5).text,
                                lambda t: counter(t, "wabot_outbound_messages_total") >= 60,
                                what="metrics of the background process")
        assert counter(metrics, "wabot_inbound_events_total") == len(customers)
        assert counter(metrics, "wabot_outbound_messages_total") == len(customers)
        assert sorted(r.recipient for r in fake_graph.messages()) == sorted(customers)  # one reply each
    finally:
        procs.kill_all()


def test_one_signal_stops_every_process_of_serve_cleanly(database_url, tmp_path, fake_graph):
    procs = Processes(make_env(database_url, tmp_path, fake_graph), tmp_path)
    try:
        proc = procs.healthy(procs.serve("serve", "--workers", "2"))
        # serve, gunicorn's arbiter, 2 workers, the background process
        every = reading_until(lambda: [proc.process.pid, *descendants(proc.process.pid)],
                              lambda pids: len(pids) == 1 + 1 + 2 + 1, what="every process to start")
        os.killpg(proc.process.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole group
        assert proc.process.wait(30) == 0
        wait_until(lambda: not any(alive(pid) for pid in every), what="every process to end", timeout=15)
        assert "Traceback" not in proc.log()
    finally:
        procs.kill_all()


def test_a_background_process_that_dies_is_started_again(engine, database_url, tmp_path, fake_graph):
    procs = Processes(make_env(database_url, tmp_path, fake_graph), tmp_path)
    try:
        proc = procs.healthy(procs.serve("serve", "--workers", "1"))
        _, _, background = topology(proc.process.pid)
        os.kill(background, signal.SIGKILL)
        restarted = wait_until(lambda: [c for c in children(proc.process.pid) if c != background and not children(c)],
                               what="a new background process", timeout=20)
        assert restarted and "starting it again" in proc.log()
        payload = simulate.text_payload("491511100099", "hi", message_id="wamid.after-restart")
        assert signed_post(proc.url, payload).ok
        procs.wait(lambda: replies(engine) == 1, what="the new background process to answer", timeout=30)
    finally:
        procs.kill_all()


def test_serve_dies_with_its_http_server_and_says_so(database_url, tmp_path, fake_graph):
    procs = Processes(make_env(database_url, tmp_path, fake_graph), tmp_path)
    try:
        proc = procs.healthy(procs.serve("serve", "--workers", "1"))
        arbiter, _, background = topology(proc.process.pid)
        os.kill(arbiter, signal.SIGKILL)
        assert proc.process.wait(30) == 1
        assert "the http process ended" in proc.log()
        wait_until(lambda: not alive(background), what="the background process to be stopped", timeout=20)
    finally:
        procs.kill_all()
