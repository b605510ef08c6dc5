"""Simulated delivered and read statuses in the sandbox (bot/pipeline/sandbox.py): planned by a hash
of the message id, stored through the inbound queue as Meta's status webhooks are, applied by the
inbound worker, so the outbox and the stats show a funnel. Off unless asked for (`wabot demo`,
`wabot serve --sandbox-statuses`): exact counts elsewhere stay exact."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.conversation import outbox as outbox_queue
from bot.core.tables import customers, inbound_events, outbox, sandbox_messages
from bot.core.times import utcnow
from bot.pipeline.sandbox import RESTART_LOOK_BACK_SECONDS, StatusPlan, StatusSimulator
from bot.runtime import Runtime
from bot.whatsapp import simulate
from tests.conftest import free_port, make_env, signed_post, start_process, wait_healthy
from tests.support.idle import wait_idle

FAST = StatusPlan(delivered_after=(0.0, 0.05), read_after=(0.0, 0.05))


def test_the_plan_is_a_pure_function_of_the_message_id():
    plan = StatusPlan()
    for n in range(200):
        message_id = f"wamid.sandbox.{n:032x}"
        first = plan.statuses(message_id)
        assert first == plan.statuses(message_id) == StatusPlan().statuses(message_id)
        assert [status for status, _ in first] in ([], ["delivered"], ["delivered", "read"])
        if first:
            delivered = first[0][1]
            assert plan.delivered_after[0] <= delivered <= plan.delivered_after[1]
        if len(first) == 2:
            assert plan.read_after[0] <= first[1][1] - first[0][1] <= plan.read_after[1]


def test_a_realistic_share_is_delivered_and_read():
    plan = StatusPlan()
    outcomes = [plan.statuses(f"wamid.sandbox.{n}") for n in range(4000)]
    delivered = sum(1 for o in outcomes if o)
    read = sum(1 for o in outcomes if len(o) == 2)
    assert 4000 > delivered > read > 0  # the funnel: sent > delivered > read
    assert abs(delivered / 4000 - plan.delivered_share) < 0.02
    assert abs(read / delivered - plan.read_share) < 0.03


@pytest.mark.parametrize("plan", [
    dict(delivered_share=1.5), dict(read_share=-0.1), dict(delivered_after=(2.0, 1.0)), dict(read_after=(-1.0, 1.0)),
])
def test_a_plan_that_cannot_be_is_refused(plan):
    with pytest.raises(ValueError):
        StatusPlan(**plan)


def _queue_messages(engine, count: int) -> list[str]:
    now = utcnow()
    wa_ids = [f"1555010{n:04d}" for n in range(count)]
    with engine.begin() as conn:
        for wa_id in wa_ids:
            customer_id = conn.execute(sa.insert(customers).values(wa_id=wa_id, created_at=now, updated_at=now)
                                       .returning(customers.c.id)).scalar_one()
            outbox_queue.enqueue(conn, recipient=wa_id, customer_id=customer_id, now=now,
                                 message={"type": "text", "text": {"body": "hello"}})
    return wa_ids


def _run_until_planned_done(simulator: StatusSimulator, runtime: Runtime, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    simulator.run_once()
    while simulator.pending():
        assert time.monotonic() < deadline, "statuses still planned after the timeout"
        time.sleep(0.02)
        simulator.run_once()
    runtime.worker().drain()


def test_statuses_go_through_the_inbound_queue_and_move_the_outbox(settings_for, engine):
    runtime = Runtime.from_settings(settings_for(), engine=engine)
    assert runtime.settings.sandbox
    _queue_messages(engine, 60)
    runtime.sender().drain()
    woken = []
    simulator = StatusSimulator(engine, FAST, on_stored=lambda: woken.append(True))
    _run_until_planned_done(simulator, runtime)
    with engine.connect() as conn:
        sent = dict(conn.execute(sa.select(outbox.c.wa_message_id, outbox.c.state)).all())
        events = conn.execute(sa.select(inbound_events.c.kind, inbound_events.c.type, inbound_events.c.state)).all()
        read_at = dict(conn.execute(sa.select(customers.c.wa_id, customers.c.last_read_at)).all())
        recipients = dict(conn.execute(sa.select(sandbox_messages.c.wa_message_id, sandbox_messages.c.recipient)).all())
    assert len(sent) == 60 and woken
    expected = {}
    for message_id in sent:
        planned = [status for status, _ in FAST.statuses(message_id)]
        expected[message_id] = planned[-1] if planned else "sent"
    assert sent == expected  # each message exactly as its id planned
    assert {(kind, state) for kind, _, state in events} == {("status", "done")}
    assert len(events) == sum(len(FAST.statuses(m)) for m in sent)
    states = list(sent.values())
    assert len(states) > states.count("delivered") + states.count("read") > states.count("read") > 0
    for message_id, state in sent.items():  # a read receipt is the customer's last_read_at
        assert (read_at[recipients[message_id]] is not None) == (state == "read")


def test_statuses_of_messages_sent_by_another_process_before_the_start_are_produced_once(settings_for, engine):
    runtime = Runtime.from_settings(settings_for(), engine=engine)
    _queue_messages(engine, 20)
    runtime.sender().drain()  # recorded before the simulator starts: recent enough to be still due
    first = StatusSimulator(engine, FAST)
    _run_until_planned_done(first, runtime)
    again = StatusSimulator(engine, FAST)  # a restart: it looks back, and the queue drops what it stored
    _run_until_planned_done(again, runtime)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(inbound_events)).scalar_one()
        planned = sum(len(FAST.statuses(m)) for m in conn.execute(sa.select(outbox.c.wa_message_id)).scalars())
    assert stored == planned


def test_messages_too_old_to_be_due_are_left_alone(settings_for, engine):
    runtime = Runtime.from_settings(settings_for(), engine=engine)
    _queue_messages(engine, 5)
    runtime.sender().drain()
    clock = [utcnow() + timedelta(seconds=FAST.longest + RESTART_LOOK_BACK_SECONDS + 5)]  # started long after those were sent
    simulator = StatusSimulator(engine, FAST, clock=lambda: clock[0])
    assert simulator.run_once() == 0 and simulator.pending() == 0
    with engine.begin() as conn:  # recorded after the start: planned
        conn.execute(sa.insert(sandbox_messages).values(recipient="15550109999", wa_message_id="wamid.sandbox.new",
                                                        payload={"type": "text"}, created_at=clock[0]))
    simulator.run_once()
    clock[0] += timedelta(seconds=FAST.longest)
    simulator.run_once()
    assert simulator.pending() == 0
    with engine.connect() as conn:
        keys = conn.execute(sa.select(inbound_events.c.event_key)).scalars().all()
    assert sorted(keys) == sorted(f"status:wamid.sandbox.new:{status}" for status, _ in FAST.statuses("wamid.sandbox.new"))


def test_a_served_sandbox_without_the_flag_produces_no_statuses(start_server, engine):
    server = start_server()
    assert server.post(simulate.text_payload("15550108888", "hi", name="Ana")).status_code == 200
    wait_idle(engine)
    time.sleep(StatusPlan().delivered_after[1] + 0.5)  # when a simulated status would have come
    with engine.connect() as conn:
        kinds = conn.execute(sa.select(inbound_events.c.kind)).scalars().all()
        recorded = conn.execute(sa.select(sa.func.count()).select_from(sandbox_messages)).scalar_one()
    assert kinds == ["message"] and recorded == 1


def test_serve_with_the_flag_simulates_them(database_url, tmp_path, engine):
    port = free_port()
    log_path = tmp_path / "serve.log"
    process = start_process(["serve", "--port", str(port), "--sandbox-statuses"], make_env(database_url, tmp_path),
                            tmp_path, log_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process, log_path)
        assert "delivered and read statuses simulated" in log_path.read_text()
        for n in range(6):
            assert signed_post(url, simulate.text_payload(f"1555010{n:04d}", "hi", name="Ana")).status_code == 200
        deadline = time.monotonic() + 30
        while True:
            with engine.connect() as conn:
                sent = dict(conn.execute(sa.select(outbox.c.wa_message_id, outbox.c.state)
                                         .where(outbox.c.wa_message_id.is_not(None))).all())
            expected = {m: ([s for s, _ in StatusPlan().statuses(m)] or ["sent"])[-1] for m in sent}
            if len(sent) == 6 and sent == expected:
                break
            assert time.monotonic() < deadline, f"outbox {sent}, planned {expected}"
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(20)
