"""The Admin API client against the fake over HTTP: a low cost budget slows it down instead of
failing; THROTTLED, 429, 5xx and a reset connection are retried; a broken or short export download
resumes without losing or repeating a line; an export whose children came apart is read again by
id; redirects are not followed; the token is never logged nor sent to the export's host."""
from __future__ import annotations

import dataclasses
import logging
import time
from datetime import timedelta
from typing import Iterator

import pytest
import sqlalchemy as sa

from bot.core.retry import Backoff
from bot.shopify import bulk, queries
from bot.shopify.admin import AdminClient
from bot.shopify.config import admin_config
from bot.shopify.errors import ShopifyAddressError, ShopifyUnavailable
from bot.shopify.pages import pages, since_filter
from bot.shopify.sync import sync
from segments.tables import line_items, orders
from tests.support import storegen
from tests.support.fake_shopify import FakeShopify
from tests.support.json_server import RESET
from tests.support.storegen import NOW

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only

QUICK = Backoff(base=0.01, cap=0.05, jitter=False)


@pytest.fixture(scope="module")
def generated() -> storegen.GenStore:
    return storegen.generate(seed=23, buyers=60, chat_only=0)


def shop_orders(generated: storegen.GenStore) -> list[dict]:
    """The generated orders, each phone's customer with an id of its own: storegen gives some
    phones the same Shopify customer id, which the store takes in a batch only record by record
    (segments/store.py), and these tests are about the client, not that."""
    out = []
    for order in generated.all_orders():
        body = order.as_json()
        if isinstance(body.get("customer"), dict) and body["customer"].get("id"):
            body["customer"] = {**body["customer"], "id": 6_000_000 + order.id}
        out.append(body)
    return out


@pytest.fixture
def fake(generated) -> Iterator[FakeShopify]:
    shop = FakeShopify(restore_rate=100_000).start()
    shop.load(orders=shop_orders(generated))
    yield shop
    shop.stop()
    assert not shop.token_leaks


def client_for(fake: FakeShopify, **options) -> AdminClient:
    return AdminClient(admin_config(fake.env()), backoff=QUICK, **options)


def run_sync(fake: FakeShopify, engine: sa.Engine, client: AdminClient | None = None, **options):
    client = client or client_for(fake)
    try:
        return sync(client, engine, region="US", now=NOW, poll_delays=lambda: bulk.poll_delays(0.01, 0.05),
                    **options), client
    finally:
        client.close()


def counts(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar(),
                conn.execute(sa.select(sa.func.count()).select_from(line_items)).scalar())


def test_a_low_budget_slows_the_client_instead_of_failing(generated):
    shop = FakeShopify(maximum=300, restore_rate=600).start()  # a page of 10 orders requests 622 points
    shop.load(orders=shop_orders(generated)[:40])
    try:
        client = client_for(shop)
        started = time.perf_counter()
        found = list(pages(client, queries.KINDS["orders"], since_filter(NOW - timedelta(days=9999))))
        elapsed = time.perf_counter() - started
    finally:
        shop.stop()
    assert len(found) == 40
    page_requests = shop.operations("WabotOrderPage")
    # Only the first, oversized page was answered THROTTLED; every later one was sized to the bucket
    # and sent once the bucket held it.
    assert shop.throttled == 1 and len(page_requests) > 5
    assert all(r.requested <= 300 for r in page_requests[1:])
    assert client.stats.throttle_waits >= len(page_requests) - 3
    assert client.stats.budget_waited > 0.2 and elapsed >= client.stats.budget_waited


def test_throttled_is_waited_out_and_asked_again(fake):
    client = client_for(fake)
    fake.throttle_next(2)
    assert client.query("WabotShop", queries.SHOP)["shop"]["name"] == "Fake Shop"
    assert client.stats.throttled == 2 and client.stats.budget_waited > 0
    assert len(fake.operations("WabotShop")) == 3


@pytest.mark.parametrize("answer", [
    (429, {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted"
                     " service."}, {"Retry-After": "0.3"}),
    (503, "<html>Service unavailable</html>", {}),
    (RESET, {}, {}),
], ids=["429", "503", "connection reset"])
def test_429_5xx_and_the_network_are_retried(fake, answer):
    client = client_for(fake)
    fake.queued.append(answer)
    started = time.perf_counter()
    assert client.query("WabotShop", queries.SHOP)["shop"]["name"] == "Fake Shop"
    assert client.stats.retries == 1
    if answer[0] == 429:  # Retry-After, not our own backoff
        assert client.stats.retry_waited == pytest.approx(0.3) and time.perf_counter() - started >= 0.3


def test_retries_end_in_one_line(fake):
    client = client_for(fake, attempts=3)
    fake.fail_next(502, times=5)
    with pytest.raises(ShopifyUnavailable) as caught:
        client.query("WabotShop", queries.SHOP)
    assert str(caught.value) == f"Shopify could not be reached at {fake.url}: HTTP 502 (3 tries)"


def test_a_redirect_is_not_followed(fake):
    fake.fail_next(301, {"errors": "moved"}, {"Location": "https://elsewhere.example/admin/api/2026-10/graphql.json"})
    with pytest.raises(ShopifyAddressError) as caught:
        client_for(fake).query("WabotShop", queries.SHOP)
    assert "redirects to https://elsewhere.example" in str(caught.value)


@pytest.mark.parametrize("faults", [["reset"], ["truncate"], ["500", "truncate", "reset"]])
def test_a_broken_download_resumes_without_losing_or_repeating_a_line(fake, engine, generated, faults):
    fake.download_faults.extend(faults)  # the shop has only orders: their export is the one that breaks
    report, client = run_sync(fake, engine)
    assert report.bad == 0 and report.kinds["orders"].records == len(generated.all_orders())
    assert counts(engine) == (len(generated.all_orders()), len(generated.all_orders()))
    assert client.stats.retries >= len(faults)
    ranges = [h.get("Range") for h in fake.downloads if h.get("Range")]
    if "truncate" in faults:
        assert ranges, "a short download resumes with a Range request"


def test_an_export_whose_children_came_apart_is_read_again_by_id(fake, engine, generated):
    fake.scatter = True  # children scattered up to 40 orders away, some before their order
    report, client = run_sync(fake, engine, window=2)
    assert report.refetched > 0 and report.bad == 0
    searches = [r.variables["query"] for r in fake.operations("WabotOrderPage")]
    assert searches and all(s.startswith("id:") for s in searches)
    assert counts(engine) == (len(generated.all_orders()), len(generated.all_orders()))
    with engine.connect() as conn:
        skus = dict(conn.execute(sa.select(line_items.c.order_id, line_items.c.sku)).all())
    assert skus == {o.id: o.sku for o in generated.all_orders()}


def test_a_page_too_costly_for_shopify_is_made_smaller(fake, generated):
    wide = dataclasses.replace(queries.KINDS["orders"], first=50)  # 50 orders request 3,102 points: over 1,000
    client = client_for(fake)
    found = list(pages(client, wide, None))
    assert len(found) == len(generated.all_orders())
    requested = [r.requested for r in fake.operations("WabotOrderPage")]
    assert requested[0] > 1000 and all(cost <= 1000 for cost in requested[1:])


def test_polling_reports_progress_and_an_interrupt_cancels_the_export(fake):
    fake.polls_before_done = 3
    seen = []
    export = bulk.run(client_for(fake), queries.KINDS["orders"], on_status=seen.append, delays=[0, 0, 0, 0],
                      sleep=lambda s: None)
    assert [s.status for s in seen] == ["RUNNING", "RUNNING", "COMPLETED"] and export.url and export.size
    assert seen[-1].objects == export.objects

    calls = []

    def interrupted(seconds):
        calls.append(seconds)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bulk.run(client_for(fake), queries.KINDS["orders"], delays=[0, 0, 0, 0], sleep=interrupted)
    assert len(fake.operations("WabotBulkCancel")) == 1


def test_the_token_is_never_logged(fake, engine, caplog):
    fake.queued.append((429, {"errors": "Throttled"}, {"Retry-After": "0.01"}))
    fake.download_faults.extend(["reset", "truncate"])
    with caplog.at_level(logging.DEBUG):
        run_sync(fake, engine)
        fake.fail_next(401, {"errors": "[API] Invalid API key or access token"})
        with pytest.raises(Exception) as caught:
            client_for(fake).query("WabotShop", queries.SHOP)
    assert fake.token not in caplog.text and fake.token not in str(caught.value)
    assert "trying again" in caplog.text and "resuming" in caplog.text  # the retries were logged
