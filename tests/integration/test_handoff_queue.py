"""The agents' queue (segment priority, then waiting time) and the auto-release timer."""
from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from bot.conversation import handoff, inbox
from bot.core.config import Settings, parse_file_config
from bot.core.tables import handoff_log, outbox
from bot.pipeline.handoff_release import HandoffReleaser
from flows.replies import ReplyBook
from tests.support.seed import NOW, add_customer, add_segment


def pend(conn, customer_id: int, minutes_ago: int) -> None:
    assert handoff.transition(conn, customer_id, handoff.PENDING, actor="bot", now=NOW - timedelta(minutes=minutes_ago))


def test_vips_first_then_the_longest_wait(engine):
    with engine.begin() as conn:
        ids = {name: add_customer(conn, f"1555000{n:04d}", name, last_inbound_at=NOW)
               for n, name in enumerate(["early_nobody", "late_vip", "early_vip", "loyal", "claimed", "bot"])}
        pend(conn, ids["early_nobody"], 50)
        pend(conn, ids["late_vip"], 5)
        pend(conn, ids["early_vip"], 20)
        pend(conn, ids["loyal"], 1)
        handoff.transition(conn, ids["claimed"], handoff.AGENT, actor="agent:ana", agent="ana", now=NOW)
        for name in ("late_vip", "early_vip"):
            add_segment(conn, ids[name], "vip")
            add_segment(conn, ids[name], "repeat_buyer")
        add_segment(conn, ids["loyal"], "loyal")
        add_segment(conn, ids["claimed"], "vip")
    with engine.connect() as conn:
        queue = inbox.queue(conn, [handoff.PENDING, handoff.AGENT])
        bots = inbox.queue(conn, [handoff.BOT])
    assert [(e.name, e.priority, e.priority_segment) for e in queue] == [
        ("early_vip", 1, "vip"), ("late_vip", 2, "vip"), ("loyal", 3, "loyal"), ("early_nobody", 4, None),
        ("claimed", 5, "vip")]
    assert queue[0].segments == ("repeat_buyer", "vip") and queue[-1].agent == "ana"
    assert [e.name for e in bots] == ["bot"]


def test_release_timed_out_only_after_the_agents_silence(engine):
    with engine.begin() as conn:
        waiting = add_customer(conn, "15550000001", "Wes", last_inbound_at=NOW)
        claimed = add_customer(conn, "15550000002", "Cat", last_inbound_at=NOW - timedelta(days=2))
        pend(conn, waiting, 0)
        handoff.transition(conn, claimed, handoff.AGENT, actor="agent:ana", agent="ana", now=NOW)
        handoff.touch_agent(conn, claimed, NOW + timedelta(minutes=30))
        timeout = timedelta(minutes=60)
        assert handoff.release_timed_out(conn, NOW + timedelta(minutes=59), timeout) == []
        first = handoff.release_timed_out(conn, NOW + timedelta(minutes=60), timeout)
        assert [(r.customer_id, r.from_state) for r in first] == [(waiting, handoff.PENDING)]
        second = handoff.release_timed_out(conn, NOW + timedelta(minutes=90), timeout)
        assert [(r.customer_id, r.from_state, r.agent) for r in second] == [(claimed, handoff.AGENT, "ana")]
        assert handoff.get(conn, claimed).state == handoff.BOT
        log = conn.execute(sa.select(handoff_log.c.actor, handoff_log.c.reason)
                           .where(handoff_log.c.to_state == handoff.BOT)).all()
    assert [tuple(r) for r in log] == [("timeout", "no agent activity for 60 min")] * 2


def test_the_releaser_runs_on_its_timer_and_tells_only_those_still_in_their_window(engine):
    with engine.begin() as conn:
        inside = add_customer(conn, "15550000001", "Ina", last_inbound_at=NOW - timedelta(minutes=90))
        outside = add_customer(conn, "15550000002", "Otto", last_inbound_at=NOW - timedelta(hours=30))
        pend(conn, inside, 61)
        pend(conn, outside, 61)
    settings = Settings(file=parse_file_config({"policy": {"handoff_timeout_minutes": 60}}))
    woken = threading.Event()
    stop = threading.Event()
    releaser = HandoffReleaser(engine, settings, replies=ReplyBook.from_settings(settings), clock=lambda: NOW,
                               on_enqueued=woken.set, interval=0.01)
    thread = threading.Thread(target=releaser.run_forever, args=(stop,))
    thread.start()
    assert woken.wait(5)
    stop.set()
    thread.join(5)
    with engine.connect() as conn:
        told = conn.execute(sa.select(outbox.c.recipient, outbox.c.kind, outbox.c.category)).all()
        assert handoff.get(conn, inside).state == handoff.get(conn, outside).state == handoff.BOT
    assert [tuple(r) for r in told] == [("15550000001", "reply", "service")]
