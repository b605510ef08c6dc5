"""Usernames (docs/usernames.md): a customer known only by their business-scoped user id (BSUID) is
answered through the send body's `recipient`; a later message with their phone number and the same
user id makes the username record and the phone record (with its orders) one customer; a
`user_id_update` re-keys them; the console, `segments explain` and campaigns take a BSUID; Rasa
mode marks the message read with the typing indicator. Through the real server, the signed webhook
and the fake Graph API, except the merge's table-by-table check, which calls the worker's step."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.schema  # noqa: F401 - every table, for the walk over those holding a customer_id
from bot.automations.tables import cod_confirmations
from bot.campaigns.tables import campaign_sends
from bot.conversation import handoff, outbox
from bot.core.phones import is_user_id
from bot.core.tables import (
    conversations,
    customer_aliases,
    customers,
    handoff_log,
    inbound_events,
    inbound_messages,
    metadata,
)
from bot.core.tables import outbox as outbox_table
from bot.pipeline import identity
from bot.whatsapp import messages, simulate
from segments.store import recompute_stats
from segments.tables import checkouts, customer_attributes, customer_tags, segment_events, segment_members
from tests.conftest import ROOT, fuzz_examples, make_env
from tests.integration.test_action_server import start_actions  # noqa: F401 - the fixture
from tests.integration.test_hostile_input import app as hostile_app  # noqa: F401 - the fixture
from tests.integration.test_hostile_input import post
from tests.integration.test_rasa_mode import start_rasa  # noqa: F401 - the fixture
from tests.support.cli import run_cli
from tests.support.idle import wait_idle, wait_texts
from tests.support.seed import add_customer, add_order, add_product

BSUID = "BR.13491208655302741918"
PHONE = "5511987654321"
TOML = """
[store]
name = "Acme Home"
shop_domain = "acme.myshopify.com"
timezone = "America/Sao_Paulo"

[policy]
consent = "any"
quiet_hours = []

[campaigns.flash]
rule = 'has_tag("flash")'
category = "marketing"
text = "Flash sale today, {first_name}!"
"""
AGENTS = {"WABOT_AGENT_TOKENS": "ana:tok-ana"}


def now() -> datetime:
    return datetime.now(timezone.utc)


def rows(engine, query) -> list:
    with engine.connect() as conn:
        return conn.execute(query).all()


def cli(database_url, tmp_path, fake_graph, *args: str):
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    result = run_cli(list(args), env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def explain(database_url, tmp_path, fake_graph, key: str) -> dict:
    return json.loads(cli(database_url, tmp_path, fake_graph, "segments", "explain", key, "--json"))


def api(server, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{server.url}{path}", headers={"Authorization": "Bearer tok-ana"},
                            timeout=10, **kwargs)


@pytest.fixture
def phone_buyer(engine) -> int:
    """A customer imported from Shopify by phone, with two orders: a repeat buyer."""
    with engine.begin() as conn:
        customer_id = add_customer(conn, PHONE, "Ana")
        add_product(conn, 1, "Coffee", [11])
        for order_id, days in ((7001, 40), (7002, 5)):
            add_order(conn, order_id, customer_id, [(1, 11, "Coffee", 2, "9.00")], name=f"#{order_id}",
                      created_at=now() - timedelta(days=days))
        recompute_stats(conn, [customer_id], now())
    return customer_id


# ---------------------------------------------------------------- answered without a phone number

def test_a_username_only_customer_is_answered_through_recipient(start_server, fake_graph, engine):
    server = start_server(fake_graph, toml=TOML)
    assert server.post(simulate.username_text_payload(BSUID, "hi", name="Ana", username="@ana")).status_code == 200
    assert wait_texts(fake_graph, engine, BSUID, 1)[0].startswith("Hi Ana!")
    body = fake_graph.messages(BSUID)[0].body
    assert body["recipient"] == BSUID and "to" not in body
    customer = rows(engine, sa.select(customers.c.wa_id, customers.c.user_id, customers.c.phone_country))
    assert customer == [(BSUID, BSUID, "BR")]


# ---------------------------------------------------------------- the merge

def test_the_phone_message_joins_the_username_record_to_the_phone_buyer(start_server, fake_graph, engine,
                                                                         database_url, tmp_path, phone_buyer):
    server = start_server(fake_graph, toml=TOML, **AGENTS)
    server.post(simulate.username_text_payload(BSUID, "hi", name="Ana"))
    wait_texts(fake_graph, engine, BSUID, 1)
    cli(database_url, tmp_path, fake_graph, "segments", "refresh")
    before = explain(database_url, tmp_path, fake_graph, BSUID)
    assert before["wa_id"] == BSUID and "repeat_buyer" not in [s["segment"] for s in before["segments"]]
    assert len(rows(engine, sa.select(customers.c.id))) == 2

    server.post(simulate.username_text_payload(BSUID, "where is my order", wa_id=PHONE, name="Ana"))
    assert "#7002" in wait_texts(fake_graph, engine, PHONE, 1)[0]  # the phone's orders are theirs now
    assert fake_graph.messages(PHONE)[0].body["to"] == PHONE

    assert rows(engine, sa.select(customers.c.id, customers.c.wa_id, customers.c.user_id)) == \
        [(phone_buyer, PHONE, BSUID)]
    assert {r.customer_id for r in rows(engine, sa.select(inbound_messages.c.customer_id))} == {phone_buyer}
    assert {r.customer_id for r in rows(engine, sa.select(outbox_table.c.customer_id))} == {phone_buyer}

    cli(database_url, tmp_path, fake_graph, "segments", "refresh")
    after = explain(database_url, tmp_path, fake_graph, BSUID)
    assert (after["wa_id"], after["user_id"]) == (PHONE, BSUID)
    assert "repeat_buyer" in [s["segment"] for s in after["segments"]]

    conversation = api(server, "GET", f"/api/conversations/{BSUID}")
    assert conversation.status_code == 200
    transcript = [(t["direction"], t["text"]) for t in conversation.json()["transcript"]]
    assert [text for direction, text in transcript if direction == "in"] == ["hi", "where is my order"]
    assert len([1 for direction, _ in transcript if direction == "out"]) == 2  # the greeting and the answer

    # Written again by username only: found by the user id, no new customer; the answer goes to the phone.
    server.post(simulate.username_text_payload(BSUID, "thanks"))
    wait_texts(fake_graph, engine, PHONE, 2)
    assert len(rows(engine, sa.select(customers.c.id))) == 1


def test_the_merge_moves_everything_of_the_username_record(engine):
    """Every table holding a customer_id (the walk over the metadata finds them, those added later
    too): after the merge, nothing refers to the username record, and the rules of each hold."""
    t0 = now() - timedelta(days=3)
    with engine.begin() as conn:
        target = add_customer(conn, PHONE, "Ana", last_inbound_at=t0, now=t0)
        source = identity.arrive(conn, wa_id=None, user_id=BSUID, profile_name="ana", sent_at=t0 + timedelta(hours=1),
                                 now=t0).id
        conn.execute(sa.update(customers).where(customers.c.id == source).values(
            opted_out=True, opted_out_at=t0, language_choice="pt"))
        conn.execute(sa.update(customers).where(customers.c.id == target).values(
            consent_at=t0, accepts_marketing=True, shopify_customer_id=99))
        conn.execute(sa.insert(inbound_messages).values(wa_message_id="wamid.u1", customer_id=source, type="text",
                                                        text="hola", sent_at=t0, received_at=t0))
        handoff.transition(conn, source, handoff.AGENT, actor="agent:ana", agent="ana", now=t0 + timedelta(hours=2))
        handoff.transition(conn, target, handoff.PENDING, actor="bot", now=t0)
        queued = outbox.enqueue(conn, recipient=BSUID, customer_id=source, message=messages.text_message("x"), now=t0)
        for customer_id, cycle in ((source, "c1"), (target, "c1"), (source, "c2")):
            conn.execute(sa.insert(campaign_sends).values(
                campaign="flash", kind="campaign", customer_id=customer_id, recipient="-", cycle=cycle,
                send_group="all", category="marketing", status="queued", planned_at=t0))
        for customer_id, value, at in ((source, "newer", t0 + timedelta(hours=1)), (target, "older", t0)):
            conn.execute(sa.insert(customer_attributes).values(customer_id=customer_id, name="pet", value=value,
                                                               source="chat", updated_at=at))
        conn.execute(sa.insert(customer_attributes).values(customer_id=target, name="size", value="L",
                                                           source="import", updated_at=t0 + timedelta(days=1)))
        conn.execute(sa.insert(customer_attributes).values(customer_id=source, name="size", value="M",
                                                           source="chat", updated_at=t0))
        conn.execute(sa.insert(customer_tags), [{"customer_id": source, "tag": "a"}, {"customer_id": target, "tag": "a"},
                                                {"customer_id": source, "tag": "b"}])
        conn.execute(sa.insert(segment_members).values(segment="x", customer_id=source, entered_at=t0, reason={}))
        conn.execute(sa.insert(segment_events).values(segment="x", customer_id=source, change="enter", at=t0))
        conn.execute(sa.insert(cod_confirmations).values(order_id=1, customer_id=source, state="awaiting", asked_at=t0))
        conn.execute(sa.insert(checkouts).values(token="tok", customer_id=source, created_at=t0,
                                                 source_updated_at=t0, ingested_at=t0))
    with engine.begin() as conn:
        merged = identity.arrive(conn, wa_id=PHONE, user_id=BSUID, profile_name="Ana", sent_at=now(), now=now())
    assert merged.id == target
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if "customer_id" in table.c and table.name != "customers":
                left = conn.execute(sa.select(sa.func.count()).select_from(table)
                                    .where(table.c.customer_id == source)).scalar()
                assert left == 0, f"{table.name} still refers to the username record"
        row = conn.execute(sa.select(customers).where(customers.c.id == target)).one()
        assert conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar() == 1
        assert (row.user_id, row.opted_out, row.consent_at is not None, row.accepts_marketing) == (BSUID, True, True, True)
        assert (row.shopify_customer_id, row.language_choice, row.first_name) == (99, "pt", "Ana")
        assert conn.execute(sa.select(conversations.c.state, conversations.c.agent)).all() == [("agent", "ana")]
        assert {r.customer_id for r in conn.execute(sa.select(handoff_log.c.customer_id))} == {target}
        assert conn.execute(sa.select(outbox_table.c.customer_id).where(outbox_table.c.id == queued)).scalar() == target
        assert sorted(r.cycle for r in conn.execute(sa.select(campaign_sends.c.cycle))) == \
            ["c1", f"c1~merged:{source}", "c2"]  # both sends of one run kept, apart
        attrs = dict(conn.execute(sa.select(customer_attributes.c.name, customer_attributes.c.value)).all())
        assert attrs == {"pet": "newer", "size": "L"}
        assert sorted(conn.execute(sa.select(customer_tags.c.tag)).scalars()) == ["a", "b"]
    with engine.begin() as conn:  # a merge done again finds nothing to move
        identity.merge(conn, source_id=source, target_id=target, now=now())
        assert identity.arrive(conn, wa_id=PHONE, user_id=BSUID, profile_name=None, sent_at=now(), now=now()).id == target


def test_concurrent_arrivals_of_one_person_leave_one_customer(engine):
    """Username-only and phone messages of the same people, in racing transactions (several worker
    processes on PostgreSQL): each person ends as one customer, keyed by the phone."""
    people = [(f"BR.{9000 + i}00000000", f"55119000{i:05d}") for i in range(12)]
    errors: list[BaseException] = []

    def arrive(wa_id, user_id):
        try:
            with engine.begin() as conn:
                identity.arrive(conn, wa_id=wa_id, user_id=user_id, profile_name=None, sent_at=now(), now=now())
        except BaseException as exc:  # reported below, with the test's own assertion
            errors.append(exc)

    threads = [threading.Thread(target=arrive, args=args) for user_id, phone in people
               for args in ((None, user_id), (phone, user_id), (None, user_id))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    found = rows(engine, sa.select(customers.c.wa_id, customers.c.user_id).order_by(customers.c.wa_id))
    assert sorted(found) == sorted((phone, user_id) for user_id, phone in people)


# ---------------------------------------------------------------- a changed user id

def test_user_id_update_re_keys_the_customer(start_server, fake_graph, engine):
    new = "BR.99911122233344455566"
    server = start_server(fake_graph, toml=TOML)
    server.post(simulate.username_text_payload(BSUID, "hi", name="Ana"))
    wait_texts(fake_graph, engine, BSUID, 1)
    first = fake_graph.messages(BSUID)[0]
    (customer_id,) = rows(engine, sa.select(customers.c.id))[0]

    assert server.post(simulate.user_id_update_payload(BSUID, new)).status_code == 200
    wait_idle(engine, graph=fake_graph)
    assert rows(engine, sa.select(customers.c.id, customers.c.wa_id, customers.c.user_id)) == [(customer_id, new, new)]
    assert rows(engine, sa.select(customer_aliases.c.alias, customer_aliases.c.customer_id)) == [(BSUID, customer_id)]

    # A late status of the earlier answer, under the old id, still reaches the same customer.
    server.post(simulate.status_payload("wamid.unknown-to-the-outbox", "read", BSUID))
    wait_idle(engine, graph=fake_graph)
    assert rows(engine, sa.select(customers.c.last_read_at))[0][0] is not None
    assert first.recipient == BSUID

    server.post(simulate.username_text_payload(new, "hello again"))
    wait_texts(fake_graph, engine, new, 1)
    assert fake_graph.messages(new)[0].body["recipient"] == new
    server.post(simulate.username_text_payload(BSUID, "sent before the change, delivered late"))
    wait_texts(fake_graph, engine, new, 2)  # answered at the id Meta knows them by now
    assert rows(engine, sa.select(customers.c.id, customers.c.user_id)) == [(customer_id, new)]
    assert BSUID not in server.log() and new not in server.log()
    assert len(rows(engine, sa.select(inbound_messages.c.id).where(inbound_messages.c.customer_id == customer_id))) == 3


@pytest.mark.parametrize("update", [
    {"user_id": {"previous": BSUID}},  # no current id
    {"user_id": {"previous": BSUID, "current": BSUID}},
    {"user_id": {"previous": "5511987654321", "current": "BR.1"}},  # a phone number is not a user id
    {"user_id": "BR.2"},
    "not an object",
])
def test_a_malformed_user_id_update_is_quarantined_and_changes_nothing(start_server, fake_graph, engine, update):
    server = start_server(fake_graph, toml=TOML)
    server.post(simulate.username_text_payload(BSUID, "hi"))
    wait_texts(fake_graph, engine, BSUID, 1)
    payload = simulate.user_id_update_payload(BSUID, "BR.1")
    payload["entry"][0]["changes"][0]["value"]["user_id_update"] = [update]
    assert server.post(payload).status_code == 200
    wait_idle(engine, graph=fake_graph)
    assert rows(engine, sa.select(inbound_events.c.state).where(inbound_events.c.kind == "quarantined")) == \
        [("quarantined",)]
    assert rows(engine, sa.select(customers.c.wa_id, customers.c.user_id)) == [(BSUID, BSUID)]
    assert rows(engine, sa.select(customer_aliases)) == []


VALID_IDS = st.sampled_from([BSUID, "BR.99911122233344455566", "US.ENT.11815799212886844830", "IN.42"])
IDS = st.one_of(VALID_IDS, VALID_IDS, VALID_IDS, st.sampled_from([PHONE, "", "BR.", "x" * 161]),
                st.text(max_size=12), st.integers(), st.none())  # mostly real ids: the changes are applied
UPDATES = st.lists(st.one_of(
    st.fixed_dictionaries({"user_id": st.fixed_dictionaries({"previous": IDS, "current": IDS})},
                          optional={"wa_id": IDS, "timestamp": st.one_of(st.integers(), st.text(max_size=12)),
                                    "parent_user_id": st.dictionaries(st.text(max_size=8), IDS, max_size=2)}),
    st.dictionaries(st.text(max_size=8), IDS, max_size=3), IDS), min_size=1, max_size=3)


@settings(max_examples=fuzz_examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(updates=UPDATES)
def test_fuzzed_user_id_updates_never_fail_and_never_make_a_customer(hostile_app, engine, updates):  # noqa: F811
    """Whatever a `user_id_update` holds: 200, the worker never fails on it, every event is applied
    or quarantined, and no customer is made (two may become one)."""
    if not rows(engine, sa.select(customers.c.id)):  # the first example of this database
        with engine.begin() as conn:  # a username customer and a phone customer with a user id
            identity.arrive(conn, wa_id=None, user_id=BSUID, profile_name=None, sent_at=now(), now=now())
            identity.arrive(conn, wa_id=PHONE, user_id="US.ENT.11815799212886844830", profile_name=None,
                            sent_at=now(), now=now())
    before = len(rows(engine, sa.select(customers.c.id)))
    payload = simulate.user_id_update_payload(BSUID, "BR.1")
    payload["entry"][0]["changes"][0]["value"]["user_id_update"] = updates
    assert post(hostile_app, json.dumps(payload).encode()).status_code == 200
    hostile_app.extensions["wabot"].worker().drain()
    states = {r.state for r in rows(engine, sa.select(inbound_events.c.state))}
    assert states <= {"done", "quarantined"}, states
    after = rows(engine, sa.select(customers.c.wa_id, customers.c.user_id))
    assert 1 <= len(after) <= before
    assert all(user_id is None or is_user_id(user_id) for _, user_id in after)
    assert len({wa_id for wa_id, _ in after}) == len(after)
    user_ids = [user_id for _, user_id in after if user_id]
    assert len(set(user_ids)) == len(user_ids), after  # one customer per person


# ---------------------------------------------------------------- the console, explain, campaigns

def test_the_console_and_explain_take_a_username_customer(start_server, fake_graph, engine, database_url, tmp_path):
    server = start_server(fake_graph, toml=TOML, **AGENTS)
    server.post(simulate.username_text_payload(BSUID, "hi", name="Ana"))
    wait_texts(fake_graph, engine, BSUID, 1)
    shown = api(server, "GET", f"/api/conversations/{BSUID}")
    assert shown.status_code == 200
    detail = shown.json()
    assert (detail["wa_id"], detail["phone"], detail["user_id"], detail["attributes"]["country"]) == \
        (BSUID, None, BSUID, "BR")
    assert api(server, "POST", f"/api/conversations/{BSUID}/claim").status_code == 200
    sent = api(server, "POST", f"/api/conversations/{BSUID}/messages", json={"text": "Ana here, how can I help?"})
    assert sent.status_code in (200, 201, 202), sent.text
    assert wait_texts(fake_graph, engine, BSUID, 2)[1] == "Ana here, how can I help?"
    assert "to" not in fake_graph.messages(BSUID)[1].body
    assert api(server, "GET", "/api/conversations/BR.00000000000000000000").status_code == 404
    assert BSUID not in server.log() and BSUID[-4:] in server.log()  # logged masked (bot/core/logmask.py)

    text = cli(database_url, tmp_path, fake_graph, "segments", "explain", BSUID)
    assert text.splitlines()[0].startswith(f"username {BSUID} (Ana) at ")
    assert explain(database_url, tmp_path, fake_graph, BSUID)["user_id"] == BSUID


def test_a_campaign_reaches_a_username_customer_through_recipient(start_server, fake_graph, engine, database_url,
                                                                  tmp_path):
    server = start_server(fake_graph, toml=TOML)
    server.post(simulate.username_text_payload(BSUID, "hi", name="Ana"))
    wait_texts(fake_graph, engine, BSUID, 1)
    with engine.begin() as conn:
        conn.execute(sa.insert(customer_tags).values(customer_id=conn.execute(sa.select(customers.c.id)).scalar(),
                                                     tag="flash"))
    run = json.loads(cli(database_url, tmp_path, fake_graph, "campaigns", "run", "flash", "--json"))
    assert (run["eligible"], run["freeform"], run["skipped"]) == (1, 1, {})
    assert wait_texts(fake_graph, engine, BSUID, 2)[1] == "Flash sale today, Ana!"
    body = fake_graph.messages(BSUID)[1].body
    assert body["recipient"] == BSUID and "to" not in body


# ---------------------------------------------------------------- the typing indicator

@pytest.mark.database_agnostic
def test_rasa_mode_marks_the_message_read_with_the_typing_indicator(start_server, start_actions,  # noqa: F811
                                                                    start_rasa, fake_graph, engine):  # noqa: F811
    actions = start_actions(TOML)
    rasa = start_rasa(actions.url)
    server = start_server(fake_graph, toml=TOML, WABOT_RASA_URL=rasa.url)
    server.post(simulate.username_text_payload(BSUID, "hi", name="Ana", message_id="wamid.typing"))
    assert wait_texts(fake_graph, engine, BSUID, 1)[0].startswith("Hi Ana!")
    reads = [r for r in fake_graph.requests if r.body.get("status") == "read"]
    assert [r.body for r in reads] == [{"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.typing",
                                        "typing_indicator": {"type": "text"}}]
    assert reads[0].arrived <= fake_graph.messages(BSUID)[0].arrived  # before the answer


def test_without_rasa_no_typing_indicator_is_sent(start_server, fake_graph, engine):
    server = start_server(fake_graph, toml=TOML)
    server.post(simulate.username_text_payload(BSUID, "hi"))
    wait_texts(fake_graph, engine, BSUID, 1)
    assert [r for r in fake_graph.requests if r.body.get("status") == "read"] == []
