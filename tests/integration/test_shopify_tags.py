"""The tagger (bot/pipeline/tagger.py) against the fake Admin API over HTTP: a pending
cash-on-delivery answer becomes its tag on the order once; a 5xx is tried again after 30 s,
doubling; userErrors end `failed` after max_attempts, with the one-line error; two taggers racing
tag each order once; no log line carries the token or a phone number."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
import sqlalchemy as sa

from bot.automations.tables import cod_confirmations
from bot.core import db
from bot.core.retry import Backoff
from bot.core.tables import customers
from bot.pipeline.tagger import LEASE, ShopifyTagger, retry_after
from bot.shopify.admin import AdminClient
from bot.shopify.config import admin_config
from tests.support.fake_shopify import FakeShopify

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
PHONE = "5511987654321"
QUICK = Backoff(base=0.01, cap=0.05, jitter=False)


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    shop = FakeShopify(restore_rate=100_000).start()
    shop.load(orders=[{"id": 1001, "tags": "vip"}, *({"id": 2000 + k} for k in range(20))])
    yield shop
    shop.stop()


def client_for(fake: FakeShopify, attempts: int = 1) -> AdminClient:
    """One try a call: the tagger's own backoff spaces the retries (30 s, 60 s ...)."""
    return AdminClient(admin_config(fake.env()), attempts=attempts, backoff=QUICK)


def add_answer(engine: sa.Engine, order_id: int, tag: str | None = "cod-confirmed", state: str | None = "pending",
               next_at: datetime | None = None) -> None:
    with engine.begin() as conn:
        customer_id = conn.execute(sa.select(customers.c.id).where(customers.c.wa_id == PHONE)).scalar()
        if customer_id is None:
            customer_id = conn.execute(sa.insert(customers).values(wa_id=PHONE, created_at=T0, updated_at=T0)
                                       .returning(customers.c.id)).scalar()
        conn.execute(sa.insert(cod_confirmations).values(
            order_id=order_id, customer_id=customer_id, order_name=f"#{order_id}", state="confirmed", asked_at=T0,
            answered_at=T0, answer_source="button", tag=tag, tag_state=state, tag_next_at=next_at))


def row(engine: sa.Engine, order_id: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(cod_confirmations).where(cod_confirmations.c.order_id == order_id))
                    .one()._mapping)


def test_a_pending_answer_is_tagged_once(engine, fake, caplog):
    caplog.set_level(logging.DEBUG)
    add_answer(engine, 1001)
    add_answer(engine, 2001, state="done")  # already tagged
    add_answer(engine, 2002, state=None)  # no tag asked for
    add_answer(engine, 2003, next_at=T0 + timedelta(minutes=1))  # not due yet
    clock = Clock()
    tagger = ShopifyTagger(engine, client_for(fake), clock=clock)
    assert tagger.run_once() == {"tagged": 1, "failed": 0, "retrying": 0}
    assert fake.tags_of(1001) == ["vip", "cod-confirmed"]  # added to what the order had
    assert fake.tag_calls == {1001: 1}
    tagged = row(engine, 1001)
    assert (tagged["tag_state"], tagged["tagged_at"], tagged["tag_error"], tagged["tag_attempts"]) == \
        ("done", T0, None, 0)
    assert tagger.run_once() == {"tagged": 0, "failed": 0, "retrying": 0}
    assert len(fake.operations("WabotTagsAdd")) == 1
    assert row(engine, 2001)["tag_state"] == "done" and row(engine, 2002)["tag_state"] is None
    clock.advance(timedelta(minutes=1))
    assert tagger.run_once()["tagged"] == 1 and fake.tags_of(2003) == ["cod-confirmed"]
    assert fake.token not in caplog.text and PHONE not in caplog.text and PHONE[-8:] not in caplog.text


def test_a_5xx_is_tried_again_later_with_backoff(engine, fake):
    add_answer(engine, 1001)
    clock = Clock()
    tagger = ShopifyTagger(engine, client_for(fake), clock=clock)
    fake.fail_next(503, times=2)
    assert tagger.run_once() == {"tagged": 0, "failed": 0, "retrying": 1}
    first = row(engine, 1001)
    assert (first["tag_state"], first["tag_attempts"], first["tag_next_at"]) == ("pending", 1, T0 + timedelta(seconds=30))
    assert "HTTP 503" in first["tag_error"] and "\n" not in first["tag_error"]
    assert fake.token not in first["tag_error"]

    clock.advance(timedelta(seconds=29))
    assert tagger.run_once() == {"tagged": 0, "failed": 0, "retrying": 0}  # not due: nothing sent
    clock.advance(timedelta(seconds=1))
    assert tagger.run_once()["retrying"] == 1
    assert row(engine, 1001)["tag_next_at"] == clock.now + timedelta(seconds=60)  # doubled

    clock.advance(timedelta(seconds=60))
    assert tagger.run_once() == {"tagged": 1, "failed": 0, "retrying": 0}
    done = row(engine, 1001)
    assert (done["tag_state"], done["tagged_at"], done["tag_attempts"]) == ("done", clock.now, 2)
    assert fake.tags_of(1001) == ["vip", "cod-confirmed"] and fake.tag_calls == {1001: 1}


def test_the_backoff_doubles_up_to_an_hour():
    assert [retry_after(n).total_seconds() for n in range(1, 10)] == \
        [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_after(10_000) == timedelta(hours=1)


def test_user_errors_end_failed_after_max_attempts(engine, fake):
    add_answer(engine, 1001)
    clock = Clock()
    tagger = ShopifyTagger(engine, client_for(fake), clock=clock, max_attempts=3)
    fake.refuse_tags(times=10, message="Tags are invalid")
    results = []
    for _ in range(3):
        results.append(tagger.run_once())
        clock.advance(timedelta(hours=1))
    assert results == [{"tagged": 0, "failed": 0, "retrying": 1}] * 2 + [{"tagged": 0, "failed": 1, "retrying": 0}]
    failed = row(engine, 1001)
    assert (failed["tag_state"], failed["tag_attempts"], failed["tag_next_at"]) == ("failed", 3, None)
    assert failed["tag_error"] == "Shopify refused the tags of order 1001: tags: Tags are invalid"
    clock.advance(timedelta(days=1))
    assert tagger.run_once() == {"tagged": 0, "failed": 0, "retrying": 0}
    assert len(fake.operations("WabotTagsAdd")) == 3 and fake.tags_of(1001) == ["vip"]


def test_an_order_shopify_does_not_have_is_a_user_error(engine, fake):
    add_answer(engine, 999_999)
    tagger = ShopifyTagger(engine, client_for(fake), clock=Clock(), max_attempts=1)
    assert tagger.run_once() == {"tagged": 0, "failed": 1, "retrying": 0}
    assert row(engine, 999_999)["tag_error"] == "Shopify refused the tags of order 999999: id: Order does not exist"


def test_a_pending_row_without_a_tag_fails_at_once(engine, fake):
    add_answer(engine, 1001, tag=None)
    tagger = ShopifyTagger(engine, client_for(fake), clock=Clock())
    assert tagger.run_once() == {"tagged": 0, "failed": 1, "retrying": 0}
    assert (row(engine, 1001)["tag_state"], row(engine, 1001)["tag_error"]) == ("failed", "no tag to add")
    assert not fake.operations("WabotTagsAdd")


def test_a_claim_is_a_lease(engine, fake):
    """A process that died holding a claim: the row waits out the lease, then is tagged."""
    add_answer(engine, 1001)
    with engine.begin() as conn:  # what a claim leaves behind
        conn.execute(sa.update(cod_confirmations).values(tag_next_at=T0 + LEASE))
    clock = Clock()
    tagger = ShopifyTagger(engine, client_for(fake), clock=clock)
    assert tagger.run_once()["tagged"] == 0
    clock.advance(LEASE)
    assert tagger.run_once()["tagged"] == 1


def test_two_taggers_racing_tag_each_order_once(database_url, engine, fake):
    orders = [2000 + k for k in range(20)]
    for order_id in orders:
        add_answer(engine, order_id)
    engines = [db.make_engine(database_url) for _ in range(2)]  # two processes' worth of connections
    taggers = [ShopifyTagger(e, client_for(fake), clock=Clock()) for e in engines]
    start = threading.Barrier(len(taggers))
    results: list[dict] = []
    errors: list[BaseException] = []

    def run(tagger: ShopifyTagger) -> None:
        try:
            start.wait(10)
            for _ in range(3):
                results.append(tagger.run_once())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in taggers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for e in engines:
        e.dispose()
    assert not errors, errors
    assert sum(r["tagged"] for r in results) == len(orders)
    assert fake.tag_calls == {order_id: 1 for order_id in orders}
    assert len(fake.operations("WabotTagsAdd")) == len(orders)
    with engine.connect() as conn:
        assert set(conn.execute(sa.select(cod_confirmations.c.tag_state)).scalars()) == {"done"}


def test_run_forever_survives_errors_and_stops(engine, fake, caplog):
    add_answer(engine, 1001)
    tagger = ShopifyTagger(engine, client_for(fake), clock=Clock())
    calls = []
    real = tagger.run_once

    def flaky() -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real()

    tagger.run_once = flaky
    stop = threading.Event()
    thread = threading.Thread(target=tagger.run_forever, args=(stop, 0.01))
    thread.start()
    deadline = threading.Event()
    for _ in range(500):
        if fake.tag_calls.get(1001):
            break
        deadline.wait(0.01)
    stop.set()
    thread.join(10)
    assert not thread.is_alive() and fake.tag_calls == {1001: 1}
    assert "tagging orders in Shopify failed" in caplog.text
