"""`wabot shopify sync` against the fake Admin API over HTTP: a bulk sync of a generated store is the
same store as importing the same data from files (rows and segments), either way round; a sync
repeated changes nothing; `--since` picks up changes and leaves older copies alone; a bad token,
shop or version is one line, a non-zero exit and nothing written; progress only on a terminal."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from bot.cli.main import cli
from bot.cli.shopify import shopify_group
from bot.core.config import Settings
from bot.core.tables import customers
from segments import store
from segments.engine import SegmentEngine
from segments.shopify import order_from_json
from segments.tables import (
    customer_attributes,
    customer_order_stats,
    customer_tags,
    line_items,
    orders,
    product_tags,
    products,
    variants,
)
from tests.conftest import ROOT, make_env
from tests.support import cli as cli_support
from tests.support import storegen
from tests.support.fake_shopify import FakeShopify
from tests.support.storegen import NOW

ORDER_SEGMENTS = ("first_time_buyer", "repeat_buyer", "loyal", "lapsed", "aov_low", "aov_mid", "aov_high",
                  "sale_shopper", "vip")


@pytest.fixture(autouse=True)
def shopify_command() -> Iterator[None]:
    """`wabot shopify` in the command group, as bot/cli/main.py will register it."""
    added = "shopify" not in cli.commands
    if added:
        cli.add_command(shopify_group)
    yield
    if added:
        cli.commands.pop("shopify")


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    shop = FakeShopify(restore_rate=100_000).start()  # a generous budget; tests of throttling set their own
    yield shop
    shop.stop()
    assert not shop.token_leaks, f"the access token was sent with the export download: {shop.token_leaks}"


def wabot(database_url: str, tmp_path: Path, fake: FakeShopify, *args: str, **env: str):
    return cli_support.run_cli(args, env=make_env(database_url, tmp_path, **{**fake.env(), **env}), cwd=tmp_path)


# -- the shop ---------------------------------------------------------------------------------------

def shop_customers(generated: storegen.GenStore) -> list[dict]:
    """Shopify customers for the generated buyers: consent, tags, a locale, a note (an attribute)."""
    out = []
    for i, wa_id in enumerate(w for w in generated.customers if w.startswith("1415555")):
        out.append({"id": 5_000_000 + int(wa_id[-4:]), "phone": f"+{wa_id}", "first_name": f"First{i}",
                    "last_name": f"Last{i}", "email": f"c{i}@example.com", "tags": "vip, newsletter" if i % 5 == 0 else "",
                    "email_marketing_consent": {"state": "subscribed" if i % 3 == 0 else "not_subscribed"},
                    "locale": "es" if i % 7 == 0 else None, "note": "likes tea" if i % 11 == 0 else None,
                    "updated_at": (NOW - timedelta(days=30)).isoformat()})
    return out


def shop_products() -> list[dict]:
    return [{"id": 101 + k, "title": f"Product {101 + k}", "handle": f"product-{101 + k}",
             "product_type": "Cushions" if k == 0 else "Tea", "vendor": "Acme", "tags": "home, soft",
             "status": "active", "updated_at": (NOW - timedelta(days=60)).isoformat(),
             "variants": [{"id": (101 + k) * 10 + v, "title": f"Size {v}", "sku": "SKU-1" if k == v == 0 else f"SKU-{k}-{v}",
                           "price": "10.00", "updated_at": (NOW - timedelta(days=60)).isoformat()} for v in range(3)]}
            for k in range(4)]


@pytest.fixture(scope="module")
def generated() -> storegen.GenStore:
    return storegen.generate(seed=19, buyers=100, chat_only=0)


@pytest.fixture
def shop(fake: FakeShopify, generated: storegen.GenStore) -> FakeShopify:
    return fake.load(orders=[o.as_json() for o in generated.all_orders()], customers=shop_customers(generated),
                     products=shop_products())


def write_files(shop: FakeShopify, tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for kind, items in (("products", shop.products), ("customers", shop.customers), ("orders", shop.orders)):
        paths[kind] = tmp_path / f"{kind}.jsonl"
        paths[kind].write_text("".join(json.dumps(item) + "\n" for item in items.values()))
    return paths


def import_files(database_url: str, tmp_path: Path, shop: FakeShopify) -> None:
    for kind, path in write_files(shop, tmp_path).items():
        result = wabot(database_url, tmp_path, shop, kind, "import", str(path))
        assert result.returncode == 0, result.stderr


# Columns that say when a row was written, not what it holds; customers are compared by wa_id.
WRITE_TIMES = {"customers": {"id", "created_at", "updated_at"}, "orders": {"ingested_at"},
               "customer_attributes": {"updated_at"}, "customer_order_stats": {"updated_at"}}


def snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row a sync or an import writes."""
    with engine.connect() as conn:
        wa_of = dict(conn.execute(sa.select(customers.c.id, customers.c.wa_id)).all())
        out = {}
        for table in (customers, orders, line_items, customer_tags, customer_attributes, customer_order_stats,
                      products, variants, product_tags):
            columns = [c for c in table.columns if c.name not in WRITE_TIMES.get(table.name, ())]
            rows = []
            for row in conn.execute(sa.select(*columns)):
                values = dict(row._mapping)
                if "customer_id" in values:
                    values["customer_id"] = wa_of.get(values["customer_id"])
                rows.append(tuple(sorted((k, str(v)) for k, v in values.items())))
            out[table.name] = sorted(rows)
    return out


def refresh(engine: sa.Engine):
    with engine.begin() as conn:
        return SegmentEngine(Settings()).refresh(conn, NOW)


def members(engine: sa.Engine) -> dict[str, set[str]]:
    segments = SegmentEngine(Settings())
    with engine.connect() as conn:
        out = {}
        for name in ORDER_SEGMENTS:
            ids = segments.member_ids(conn, NOW, segment=name)
            out[name] = set(conn.execute(sa.select(customers.c.wa_id).where(customers.c.id.in_(ids))).scalars())
    return out


# -- bulk sync = file import ------------------------------------------------------------------------

def test_a_bulk_sync_is_the_same_store_as_importing_the_files(database_url, engine, tmp_path, shop, generated):
    result = wabot(database_url, tmp_path, shop, "shopify", "sync")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    n_orders, n_customers = len(shop.orders), len(shop.customers)
    assert "\n" not in line and line.startswith(f"synced {n_orders:,} orders, {n_customers:,} customers, 4 products,"
                                                " 0 checkouts from fake-shop.myshopify.com (bulk export)"), line
    assert [r.operation for r in shop.requests].count("WabotBulkRun") == 3
    assert not shop.operations("WabotOrderPage")  # the history through bulk exports only
    synced = snapshot(engine)
    assert len(synced["orders"]) == n_orders and len(synced["line_items"]) == n_orders
    assert len(synced["products"]) == 4 and len(synced["variants"]) == 12
    assert {name: len(rows) for name, rows in synced.items()}["customer_tags"] == 2 * len(
        [c for c in shop.customers.values() if c["tags"]])
    first = refresh(engine)
    expected = storegen.expected_segments(generated, NOW)
    assert all(expected[name] for name in ORDER_SEGMENTS), "a segment left empty would prove nothing"
    assert members(engine) == {name: expected[name] for name in ORDER_SEGMENTS}

    import_files(database_url, tmp_path, shop)  # the same data from files, over the synced store
    assert snapshot(engine) == synced
    again = refresh(engine)
    assert again.counts == first.counts and again.changed == 0


def test_files_first_then_a_sync_changes_nothing(database_url, engine, tmp_path, shop):
    import_files(database_url, tmp_path, shop)
    imported = snapshot(engine)
    first = refresh(engine)
    result = wabot(database_url, tmp_path, shop, "shopify", "sync")
    assert result.returncode == 0, result.stderr
    assert snapshot(engine) == imported
    again = refresh(engine)
    assert again.counts == first.counts and again.changed == 0


def test_a_sync_repeated_changes_nothing(database_url, engine, tmp_path, shop):
    assert wabot(database_url, tmp_path, shop, "shopify", "sync").returncode == 0
    once = snapshot(engine)
    first = refresh(engine)
    result = wabot(database_url, tmp_path, shop, "shopify", "sync")
    assert result.returncode == 0, result.stderr
    assert "new customer" not in result.stdout  # nobody created twice
    assert snapshot(engine) == once
    assert refresh(engine).changed == 0 and first.changed > 0


# -- --since ----------------------------------------------------------------------------------------

def test_since_reads_the_changes_through_pages(database_url, engine, tmp_path, shop, generated):
    assert wabot(database_url, tmp_path, shop, "shopify", "sync").returncode == 0
    later = NOW + timedelta(days=60)  # after every generated order (some are dated after NOW)
    victim = next(o for o in generated.all_orders() if o.wa_id and not o.cancelled and o.financial_status == "paid")
    shop.update_order(victim.id, later, financial_status="refunded")
    new = {**victim.as_json(), "id": 990_001, "name": "#990001", "created_at": later.isoformat(),
           "updated_at": later.isoformat(), "line_items": [
               {"id": 990_001_0 + k, "product_id": 102, "variant_id": 1020 + k % 3, "sku": f"SKU-1-{k % 3}",
                "title": "Product 102", "quantity": 1, "price": "1.00"} for k in range(23)]}  # three pages of items
    shop.load(orders=[new])
    before = len(shop.requests)
    result = wabot(database_url, tmp_path, shop, "shopify", "sync", "--since", (later - timedelta(minutes=5)).isoformat())
    assert result.returncode == 0, result.stderr
    assert "synced 2 orders, 0 customers, 0 products" in result.stdout and "(changes)" in result.stdout
    sent = shop.requests[before:]
    assert "WabotBulkRun" not in [r.operation for r in sent]
    pages = [r for r in sent if r.operation == "WabotOrderPage"]
    assert pages and all(r.variables["query"].startswith("updated_at:>='") for r in pages)
    assert len([r for r in sent if r.operation == "WabotOrderChildren"]) >= 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(orders.c.financial_status, orders.c.counted)
                            .where(orders.c.id == victim.id)).one() == ("refunded", False)
        assert conn.execute(sa.select(sa.func.count()).select_from(line_items)
                            .where(line_items.c.order_id == 990_001)).scalar() == 23
        stats = conn.execute(sa.select(customer_order_stats.c.orders_count).join(
            customers, customers.c.id == customer_order_stats.c.customer_id).where(customers.c.wa_id == victim.wa_id)
        ).scalar()
    counted = [o for o in generated.customers[victim.wa_id].orders if o.counts_at(NOW + timedelta(days=999))]
    assert stats == len(counted)  # one refunded, one new: the aggregates follow


def test_an_older_copy_from_shopify_is_ignored(database_url, engine, tmp_path, shop, generated):
    order = next(o for o in generated.all_orders() if o.wa_id)
    newer = {**order.as_json(), "updated_at": (NOW + timedelta(days=2)).isoformat(), "financial_status": "refunded"}
    with engine.begin() as conn:  # a webhook delivered a change Shopify's API does not show yet
        store.store_orders(conn, [order_from_json(newer, "US")], NOW)
    shop.update_order(order.id, NOW + timedelta(days=1), financial_status="paid")
    result = wabot(database_url, tmp_path, shop, "shopify", "sync", "--since", NOW.isoformat())
    assert result.returncode == 0, result.stderr
    assert "1 older than the stored copy, ignored" in result.stdout
    with engine.connect() as conn:
        assert conn.execute(sa.select(orders.c.financial_status).where(orders.c.id == order.id)).scalar() == "refunded"


def test_a_bad_since_is_one_line(database_url, tmp_path, shop):
    result = wabot(database_url, tmp_path, shop, "shopify", "sync", "--since", "yesterday")
    assert result.returncode != 0 and result.stderr.strip().count("\n") == 0
    assert "--since" in result.stderr and "Traceback" not in result.stderr


# -- what is wrong, in one line, with nothing written -----------------------------------------------

def assert_nothing_written(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        for table in (orders, customers, products):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0


@pytest.mark.parametrize("env, says", [
    ({"WABOT_SHOPIFY_TOKEN": "shpat_wrong"}, "Shopify refused the access token (HTTP 401)"),
    ({"WABOT_SHOPIFY_API_VERSION": "2026-13"}, "WABOT_SHOPIFY_API_VERSION: '2026-13' is not a Shopify API version"),
    ({"WABOT_SHOPIFY_API_VERSION": "2024-01"}, "older than 2025-07"),
    ({"WABOT_SHOPIFY_TOKEN": ""}, "WABOT_SHOPIFY_TOKEN is not set"),
    ({"WABOT_SHOPIFY_SHOP": "", "WABOT_SHOPIFY_API_URL": ""}, "WABOT_SHOPIFY_SHOP is not set"),
    ({"WABOT_SHOPIFY_SHOP": "no-such-shop.invalid", "WABOT_SHOPIFY_API_URL": ""}, "cannot find the host"),
    ({"WABOT_SHOPIFY_API_URL": "{url}/elsewhere"}, "(HTTP 404): check WABOT_SHOPIFY_SHOP and WABOT_SHOPIFY_API_VERSION"),
], ids=["token", "version", "old version", "no token", "no shop", "unknown host", "no API there"])
def test_what_is_wrong_is_one_line_and_nothing_is_written(database_url, engine, tmp_path, shop, env, says):
    env = {k: v.format(url=shop.url) for k, v in env.items()}
    result = wabot(database_url, tmp_path, shop, "shopify", "sync", **env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("wabot: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert says in result.stderr
    assert shop.token not in result.stderr + result.stdout
    assert_nothing_written(engine)


def test_a_failed_bulk_export_is_one_line(database_url, engine, tmp_path, shop):
    shop.fail_bulk = "INTERNAL_SERVER_ERROR"
    result = wabot(database_url, tmp_path, shop, "shopify", "sync")
    assert result.returncode == 2
    assert "bulk export of products ended FAILED (INTERNAL_SERVER_ERROR)" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_version_shopify_no_longer_serves_is_said(database_url, engine, tmp_path, fake, generated):
    fake.versions = ("2026-10",)  # asked for 2026-07: answered by the oldest it serves, as Shopify does
    fake.load(orders=[o.as_json() for o in generated.all_orders()[:20]])
    result = wabot(database_url, tmp_path, fake, "shopify", "sync", WABOT_SHOPIFY_API_VERSION="2026-07")
    assert result.returncode == 0
    assert "answered with API version 2026-10 instead of 2026-07" in result.stderr


def test_bad_records_are_named_the_others_imported(database_url, engine, tmp_path, fake, generated):
    good = [o.as_json() for o in generated.all_orders()[:10]]
    broken = {**good[0], "id": 777, "created_at": None}
    huge = {**good[1], "id": 778, "line_items": [{**good[1]["line_items"][0], "quantity": 10**12}]}
    fake.load(orders=[*good, broken, huge])
    result = wabot(database_url, tmp_path, fake, "shopify", "sync")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("shopify orders: export line") and "no created_at" in line for line in lines)
    assert any("quantity" in line and "out of range" in line for line in lines)
    assert lines[-1] == "wabot: error: 2 bad records from Shopify (listed above); the other 10 were imported"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar() == 10


# -- progress ---------------------------------------------------------------------------------------

def test_progress_only_on_a_terminal(database_url, tmp_path, shop):
    piped = wabot(database_url, tmp_path, shop, "shopify", "sync")
    assert piped.returncode == 0 and "Downloading" not in piped.stdout and "%" not in piped.stdout
    runner = ("import sys; from bot.cli.main import cli, main; from bot.cli.shopify import shopify_group;"
              " cli.add_command(shopify_group); sys.exit(main(sys.argv[1:]))")
    primary, secondary = pty.openpty()
    env = make_env(database_url, tmp_path, **shop.env())
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen([sys.executable, "-c", runner, "shopify", "sync"], env=env, cwd=tmp_path,
                               stdout=secondary, stderr=subprocess.PIPE)
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait(60)
    os.close(primary)
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.returncode == 0, stderr
    assert b"Shopify is exporting orders" in output and b"Downloading orders" in output and b"100%" in output
    assert b"synced" in output
