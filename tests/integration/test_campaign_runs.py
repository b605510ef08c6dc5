"""Campaign runs against a generated store, sent by the real outbox sender to the local fake Graph
API (which refuses free-form text outside the window with 131047, as Meta does). Audiences here
are plain customer tags, so these tests do not depend on the segment engine."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.campaigns.audience import load
from bot.campaigns.runs import Campaigns
from bot.campaigns.tables import campaign_runs, campaign_sends
from bot.core.errors import WabotError
from bot.core.tables import customers, inbound_messages, outbox
from bot.pipeline.sender import Sender
from bot.whatsapp import graph
from segments.tables import orders
from tests.support.campaign_store import (
    INDIA_MORNING,
    NOW,
    POLICY_TOML,
    QUIET,
    TagAudience,
    expected,
    generate,
    local_zone,
    oracle,
    quiet_end,
)
from tests.support.fake_graph import refuse_outside_window

UTC = timezone.utc
TOML = POLICY_TOML + """
[campaigns.spring]
segment = "audience"
text = "Hi {first_name}, spring is here at {store_name}"
template = { name = "spring", language = "en_US", body = ["{first_name}"] }

[campaigns.texts_only]
segment = "audience"
text = "Just text, {first_name}"

[campaigns.tested]
segment = "audience"
test_fraction = 0.5
variants = [{ text = "Variant A", template = { name = "a" } }, { text = "Variant B", template = { name = "b" } }]
"""


@pytest.fixture
def world(engine, settings_for, fake_graph):
    settings = settings_for(graph=fake_graph, toml=TOML)
    store = generate(engine, NOW, n=150)
    clock = {"now": NOW}
    fake_graph.responder = refuse_outside_window(store.last_inbound, lambda: clock["now"])
    transport = graph.HttpTransport(settings.graph_url, settings.graph_version, settings.phone_number_id,
                                    settings.whatsapp_token or "")
    sender = Sender(engine, transport, rate_limit=1000, clock=lambda: clock["now"])
    yield settings, store, clock, sender
    sender.close()


def run(engine, settings, name, now, **kwargs):
    with engine.begin() as conn:
        return Campaigns(settings, TagAudience()).run(conn, name, now, **kwargs)


def delivered_forms(fake_graph, start: int = 0) -> dict[str, list[str]]:
    forms: dict[str, list[str]] = {}
    for r in fake_graph.requests[start:]:
        if r.status == 200 and r.type:
            forms.setdefault(r.recipient, []).append("template" if r.type == "template" else "freeform")
    return forms




def test_every_decision_matches_the_contract_and_a_second_run_sends_nothing(engine, world, fake_graph):
    settings, store, clock, sender = world
    want = oracle(store, NOW, has_text=True, has_template=True)
    report = run(engine, settings, "spring", NOW)
    sender.drain()

    assert report["audience"] == len(want)
    assert report["eligible"] == sum(1 for what, _ in want.values() if what == "send")
    got = delivered_forms(fake_graph)
    for person in store.people:
        what, how = want.get(person.id, ("out", None))
        if what == "send":
            # every free-form send is inside the window, so Meta never refused one
            assert got.pop(person.wa_id) == [how], person
        else:
            assert person.wa_id not in got, person
    assert got == {}
    assert not [r for r in fake_graph.requests if r.status != 200]
    skipped = {}
    for what, how in want.values():
        if what == "skip":
            skipped[how] = skipped.get(how, 0) + 1
        elif what == "defer":
            skipped["quiet_hours"] = skipped.get("quiet_hours", 0) + 1
    assert report["skipped"] == skipped

    # deferrals wait in the ledger for the end of the customer's quiet hours
    with engine.connect() as conn:
        deferred = conn.execute(sa.select(campaign_sends.c.customer_id, campaign_sends.c.due_at)
                                .where(campaign_sends.c.status == "deferred")).all()
    people = {p.id: p for p in store.people}
    assert {d.customer_id for d in deferred} == {cid for cid, (what, _) in want.items() if what == "defer"}
    for d in deferred:
        zone = local_zone(people[d.customer_id].wa_id, "America/New_York")
        assert d.due_at == quiet_end(NOW, zone, *QUIET)

    before = len(fake_graph.requests)
    again = run(engine, settings, "spring", NOW)
    sender.drain()
    assert again["eligible"] == 0 and again["queued"] == 0
    assert set(again["skipped"]) <= {"already_sent", "opted_out", "no_consent", "in_handoff", "frequency_cap",
                                     "no_wa_id", "window_closed_no_template", "blocked_country"}
    assert len(fake_graph.requests) == before


def test_deferred_sends_go_at_the_end_of_quiet_hours_with_the_form_of_that_moment(engine, world, fake_graph):
    settings, store, clock, sender = world
    want = oracle(store, NOW, has_text=True, has_template=True)
    run(engine, settings, "spring", NOW)
    sender.drain()
    deferred = {cid for cid, (what, _) in want.items() if what == "defer"}
    assert deferred, "the generated store should have customers in quiet hours"
    due = INDIA_MORNING
    start = len(fake_graph.requests)

    with engine.begin() as conn:
        early = Campaigns(settings, TagAudience()).run_deferred(conn, due - timedelta(minutes=1))
    assert early == {}

    clock["now"] = due
    with engine.begin() as conn:
        Campaigns(settings, TagAudience()).run_deferred(conn, due)
    sender.drain()
    got = delivered_forms(fake_graph, start)
    people = {p.id: p for p in store.people}
    for cid in deferred:
        person = people[cid]
        is_open = person.last_inbound_at is not None and due - person.last_inbound_at < timedelta(hours=24)
        assert got.pop(person.wa_id) == ["freeform" if is_open else "template"]
    assert got == {}


def test_frequency_cap_counts_every_campaign(engine, world, fake_graph):
    settings, store, clock, sender = world
    run(engine, settings, "spring", NOW)
    sender.drain()
    with engine.connect() as conn:
        got_spring = {r[0] for r in conn.execute(sa.select(outbox.c.customer_id).where(outbox.c.source == "campaign:spring"))}
    later = NOW + timedelta(hours=1)
    clock["now"] = later
    start = len(fake_graph.requests)
    report = run(engine, settings, "texts_only", later)
    sender.drain()
    got = delivered_forms(fake_graph, start)
    for person in store.people:
        if not person.in_audience:
            continue
        person.marketing_7d += 1 if person.id in got_spring else 0
        what, how = expected(person, later, has_text=True, has_template=False, quiet=QUIET,
                             store_zone="America/New_York", cap=2)
        assert (person.wa_id in got) == (what == "send"), (person, what, how)
    assert report["skipped"].get("frequency_cap", 0) > 0
    assert report["skipped"].get("window_closed_no_template", 0) > 0


def test_free_form_refused_by_meta_goes_again_as_the_template(engine, world, fake_graph):
    settings, store, clock, sender = world
    person = next(p for p in store.people if p.in_audience and p.wa_id and not p.opted_out and not p.marketing_paused
                  and (p.accepts_marketing or p.consent_at) and p.state not in ("pending", "agent")
                  and p.marketing_7d < 2 and p.country in ("US", "BR", "DE")
                  and p.last_inbound_at is not None and NOW - p.last_inbound_at < timedelta(hours=24))
    # the customer's window closes between planning and sending
    clock["now"] = person.last_inbound_at + timedelta(hours=24, minutes=1)
    run(engine, settings, "spring", NOW)
    sender.drain()
    sent = [r for r in fake_graph.requests if r.recipient == person.wa_id]
    assert [(r.status, r.type) for r in sent] == [(400, "text"), (200, "template")]


def test_test_group_and_promotion_cover_the_audience_once(engine, world, fake_graph):
    settings, store, clock, sender = world
    test = run(engine, settings, "tested", NOW)
    sender.drain()
    assert test["group"] == "test" and test["held_back"] > 0
    with engine.begin() as conn:
        # variant B draws more replies
        rows = conn.execute(sa.select(campaign_sends.c.customer_id, campaign_sends.c.variant, outbox.c.sent_at)
                            .join(outbox, outbox.c.id == campaign_sends.c.outbox_id)).all()
        for i, r in enumerate(rows):
            if r.sent_at is not None and (r.variant == 1 or i % 4 == 0):
                conn.execute(sa.insert(inbound_messages).values(
                    wa_message_id=f"wamid.reply.{i}", customer_id=r.customer_id, type="text", text="yes!",
                    sent_at=r.sent_at + timedelta(hours=1), received_at=r.sent_at + timedelta(hours=1)))
        campaigns = Campaigns(settings, TagAudience())
        # an hour later: nobody's caps or quiet hours have changed since the test run
        result = campaigns.promote(conn, "tested", NOW + timedelta(hours=1))
        with pytest.raises(WabotError, match="promoted already"):
            campaigns.promote(conn, "tested", NOW + timedelta(hours=1))
    clock["now"] = NOW + timedelta(hours=1)
    sender.drain()
    assert result["winner"]["variant"] == 1 and result["winner"]["test"]["against"] == 0
    assert result["rest"]["group"] == "rest"
    with engine.connect() as conn:
        ledger = conn.execute(sa.select(campaign_sends.c.customer_id, campaign_sends.c.send_group,
                                        campaign_sends.c.variant, campaign_sends.c.status)
                              .where(campaign_sends.c.campaign == "tested")).all()
    test_ids = [r.customer_id for r in ledger if r.send_group == "test"]
    rest_ids = [r.customer_id for r in ledger if r.send_group == "rest"]
    assert not set(test_ids) & set(rest_ids)
    assert len(test_ids) == len(set(test_ids)) and len(rest_ids) == len(set(rest_ids))
    assert {r.variant for r in ledger if r.send_group == "rest"} == {1}
    # everyone the contract lets us message now or later got exactly one of the two
    reachable = {cid for cid, (what, _) in oracle(store, NOW, has_text=True, has_template=True).items()
                 if what in ("send", "defer")}
    assert set(test_ids) | set(rest_ids) == reachable
    counts: dict[str, int] = {}
    for r in fake_graph.requests:
        if r.status == 200 and r.type:
            counts[r.recipient] = counts.get(r.recipient, 0) + 1
    assert set(counts.values()) == {1}


def test_stats_per_group_and_variant(engine, world, fake_graph):
    settings, store, clock, sender = world
    run(engine, settings, "spring", NOW)
    sender.drain()
    with engine.begin() as conn:
        sent = conn.execute(sa.select(outbox.c.id, outbox.c.customer_id, outbox.c.sent_at)
                            .where(outbox.c.source == "campaign:spring").order_by(outbox.c.id)).all()
        assert len(sent) >= 8
        delivered, read, replied, converted = sent[:6], sent[:3], sent[:2], sent[:1]
        for r in delivered:
            conn.execute(sa.update(outbox).where(outbox.c.id == r.id)
                         .values(state="delivered", delivered_at=r.sent_at + timedelta(minutes=1)))
        for r in read:
            conn.execute(sa.update(outbox).where(outbox.c.id == r.id)
                         .values(state="read", read_at=r.sent_at + timedelta(minutes=5)))
        for i, r in enumerate(replied):
            conn.execute(sa.insert(inbound_messages).values(
                wa_message_id=f"wamid.r{i}", customer_id=r.customer_id, type="text", text="hi",
                sent_at=r.sent_at + timedelta(hours=2), received_at=r.sent_at + timedelta(hours=2)))
        # a reply two days later is not a reply to this campaign
        conn.execute(sa.insert(inbound_messages).values(
            wa_message_id="wamid.late", customer_id=sent[5].customer_id, type="text", text="late",
            sent_at=sent[5].sent_at + timedelta(days=2), received_at=sent[5].sent_at + timedelta(days=2)))
        for r in converted:
            conn.execute(sa.insert(orders).values(id=9001, customer_id=r.customer_id,
                                                  created_at=r.sent_at + timedelta(days=3), total_price=10,
                                                  ingested_at=r.sent_at + timedelta(days=3)))
        conn.execute(sa.update(outbox).where(outbox.c.id == sent[7].id)
                     .values(state="failed", error_code=131049, failed_at=NOW, sent_at=None))
        stats = Campaigns(settings, TagAudience()).stats(conn, "spring")
    [group] = stats["groups"]
    assert (group["group"], group["variant"]) == ("all", 0)
    assert group["sent"] == len(sent) - 1 and group["delivered"] == 6 and group["read"] == 3
    assert group["replied"] == 2 and group["converted"] == 1
    assert group["failed"] == 1 and group["failed_by_code"] == {"131049": 1}
    assert group["rates"]["replied"] == round(2 / group["sent"], 4)
    assert stats["total"]["sent"] == group["sent"]


def test_unknown_campaign_is_a_one_line_error(engine, world):
    settings, *_ = world
    with pytest.raises(WabotError, match="no campaign named 'nope'.*spring"):
        run(engine, settings, "nope", NOW)


def test_opted_out_between_planning_and_sending_gets_nothing(engine, world, fake_graph):
    settings, store, clock, sender = world
    run(engine, settings, "spring", NOW)
    with engine.begin() as conn:
        queued = conn.execute(sa.select(outbox.c.customer_id).where(outbox.c.state == "queued")).scalars().all()
        conn.execute(sa.update(customers).where(customers.c.id == queued[0]).values(opted_out=True))
    sender.drain()
    with engine.connect() as conn:
        state = conn.execute(sa.select(outbox.c.state).where(outbox.c.customer_id == queued[0],
                                                             outbox.c.source == "campaign:spring")).scalar_one()
        runs = conn.execute(sa.select(sa.func.count()).select_from(campaign_runs)).scalar_one()
    assert state == "cancelled" and runs == 1


def _status_failed(conn, outbox_id: int, code: int, at: datetime) -> None:
    from bot.conversation.outbox import apply_status, callback_data
    from bot.whatsapp.events import ErrorInfo, StatusUpdate

    wamid = conn.execute(sa.select(outbox.c.wa_message_id).where(outbox.c.id == outbox_id)).scalar_one()
    apply_status(conn, StatusUpdate(wamid, "failed", at, None, (ErrorInfo(code, "refused"),),
                                    callback_data(outbox_id), None, None), at)


def _reachable_sent(conn) -> list:
    return conn.execute(sa.select(outbox.c.id, outbox.c.customer_id).where(
        outbox.c.source == "campaign:spring", outbox.c.state == "sent").order_by(outbox.c.id)).all()


def test_marketing_limit_131049_is_recorded_and_never_tried_twice(engine, world, fake_graph):
    """131049 is final for the message, and the campaign does not try that customer again: the
    24 h pause of other marketing templates (`recently_limited`) is tested in test_template_health.py."""
    settings, store, clock, sender = world
    run(engine, settings, "spring", NOW)
    sender.drain()
    with engine.begin() as conn:
        held = _reachable_sent(conn)[0]
        _status_failed(conn, held.id, 131049, NOW + timedelta(minutes=5))
        assert Campaigns(settings, TagAudience()).stats(conn, "spring")["total"]["failed_by_code"] == {"131049": 1}
    soon = run(engine, settings, "spring", NOW + timedelta(hours=2))
    assert soon["queued"] == 0  # not retried at once
    later = NOW + timedelta(hours=25)
    clock["now"] = later
    run(engine, settings, "spring", later)
    with engine.connect() as conn:
        retried = conn.execute(sa.select(outbox.c.customer_id).where(
            outbox.c.source == "campaign:spring", outbox.c.created_at == later)).scalars().all()
    assert held.customer_id not in retried


def test_marketing_stopped_131050_pauses_marketing(engine, world, fake_graph):
    settings, store, clock, sender = world
    run(engine, settings, "spring", NOW)
    sender.drain()
    with engine.begin() as conn:
        stopped = _reachable_sent(conn)[0]
        _status_failed(conn, stopped.id, 131050, NOW + timedelta(minutes=5))
        paused = conn.execute(sa.select(customers.c.marketing_paused)
                              .where(customers.c.id == stopped.customer_id)).scalar_one()
    assert paused is True
    later = NOW + timedelta(days=40)  # past dedupe_days: only the pause keeps the customer out
    with engine.begin() as conn:
        campaigns = Campaigns(settings, TagAudience())
        rows = {r.recipient.customer_id: r for r in load(
            conn, TagAudience().member_ids(conn, later, segment="audience"), later,
            reached=campaigns.reached("spring", settings.file.campaigns["spring"], later))}
        preview = campaigns.preview(conn, "spring", later)
    assert rows[stopped.customer_id].recipient.marketing_paused
    assert preview["skipped"]["opted_out"] >= 1
