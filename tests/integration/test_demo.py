"""`wabot demo --no-serve`: a believable store, through the real importers, idempotent."""
from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from bot.core.tables import customers, inbound_messages
from segments.tables import orders, segment_members
from tests.conftest import make_env


def run_demo(database_url, tmp_path):
    # The real `python -m bot.cli` on purpose (bot/cli/__main__.py, its exit status, stdout through a pipe):
    # the entry point end to end. Other command tests run in process, through tests/support/cli.py.
    return subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--no-serve"], capture_output=True, text=True,
                          env=make_env(database_url, tmp_path), cwd=tmp_path, timeout=120)


def counts(engine):
    with engine.connect() as conn:
        return {
            "customers": conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar(),
            "orders": conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar(),
            "messages": conn.execute(sa.select(sa.func.count()).select_from(inbound_messages)).scalar(),
            "segments": dict(conn.execute(sa.select(segment_members.c.segment, sa.func.count())
                                          .group_by(segment_members.c.segment)).all()),
        }


def test_demo_seeds_every_kind_of_customer_once(engine, database_url, tmp_path):
    first = run_demo(database_url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "demo store seeded" in first.stdout and "segments:" in first.stdout
    seeded = counts(engine)
    assert seeded["customers"] >= 30 and seeded["orders"] >= 100 and seeded["messages"] >= 20
    for segment in ("vip", "loyal", "lapsed", "first_time_buyer", "repeat_buyer", "sale_shopper", "former_vip",
                    "chat_engaged", "window_open"):
        assert seeded["segments"].get(segment, 0) >= 1, segment
    again = run_demo(database_url, tmp_path)
    assert again.returncode == 0, again.stderr
    after = counts(engine)
    assert (after["customers"], after["orders"], after["messages"]) == \
        (seeded["customers"], seeded["orders"], seeded["messages"])
