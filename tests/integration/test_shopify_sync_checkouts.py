"""Abandoned checkouts in `wabot shopify sync`, against the fake Admin API over HTTP: paginated
`abandonedCheckouts` queries (by id: Shopify cannot sort them by update time) bring every
checkout into the `checkouts` table, the same rows as the checkouts/* webhooks would make; a sync
repeated, or over those webhooks' rows, changes nothing; `--since` reads what changed."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from bot.cli.main import cli
from bot.cli.shopify import shopify_group
from bot.core.tables import customers
from segments import importer
from segments.shopify import checkout_from_json
from segments.tables import checkouts
from tests.conftest import make_env
from tests.support import cli as cli_support
from tests.support.fake_shopify import FakeShopify
from tests.support.storegen import NOW

SHOP = "https://fake-shop.myshopify.com/548380009"


@pytest.fixture(autouse=True)
def shopify_command() -> Iterator[None]:
    added = "shopify" not in cli.commands
    if added:
        cli.add_command(shopify_group)
    yield
    if added:
        cli.commands.pop("shopify")


def shop_checkouts(count: int = 25) -> list[dict]:
    """Checkouts in every shape the sync meets: a classic recovery URL (its token in the path) or
    the new checkout's (`/checkouts/ac/<cart token>`), the phone on the customer or on the shipping
    address only, or no phone; some completed. Only what GraphQL also shows: an AbandonedCheckout
    has no token, phone, email or locale of its own."""
    out = []
    for i in range(count):
        token = f"{i:04d}cafe{i:024x}"
        at = NOW - timedelta(days=count - i)
        url = (f"{SHOP}/checkouts/{token}/recover?key=k{i}" if i % 2 == 0
               else f"{SHOP}/checkouts/ac/Z2Nw{i:08d}/recover?key=k{i}&locale=en-US")
        phone = f"+1415555{i:04d}"
        checkout = {
            "id": 30_000_000 + i, "token": token, "abandoned_checkout_url": url,
            "created_at": at.isoformat(), "updated_at": (at + timedelta(minutes=20)).isoformat(),
            "completed_at": (at + timedelta(hours=1)).isoformat() if i % 5 == 4 else None,
            "total_price": f"{10 + i}.50", "presentment_currency": "USD",
            "line_items": [{"title": "Dog Food", "quantity": 2}, {"title": "Leash", "quantity": 1}][: 1 + i % 2],
        }
        if i % 3 == 0:
            checkout["customer"] = {"id": 8_000_000 + i, "first_name": f"First{i}", "last_name": "Buyer",
                                    "email": f"b{i}@example.com", "phone": phone, "locale": "en"}
            checkout["email"] = f"b{i}@example.com"
        elif i % 3 == 1:
            checkout["shipping_address"] = {"first_name": f"Ship{i}", "last_name": "Buyer", "phone": phone}
        out.append(checkout)
    return out


@pytest.fixture
def shop() -> Iterator[FakeShopify]:
    fake = FakeShopify(restore_rate=100_000).start()
    fake.load(checkouts=shop_checkouts())
    yield fake
    fake.stop()
    assert not fake.token_leaks


def wabot(database_url: str, tmp_path: Path, fake: FakeShopify, *args: str):
    return cli_support.run_cli(args, env=make_env(database_url, tmp_path, **fake.env()), cwd=tmp_path)


def expected_token(checkout: dict) -> str:
    """The token the sync gives a checkout it never heard of by webhook (bot/shopify/records.py)."""
    return checkout["token"] if "/checkouts/ac/" not in checkout["abandoned_checkout_url"] else f"gid:{checkout['id']}"


def rows(engine: sa.Engine) -> dict[str, tuple]:
    """Every checkout as stored, but when it was written; its customer by phone."""
    with engine.connect() as conn:
        wa_of = dict(conn.execute(sa.select(customers.c.id, customers.c.wa_id)).all())
        columns = [c for c in checkouts.columns if c.name != "ingested_at"]
        out = {}
        for row in conn.execute(sa.select(*columns)):
            values = dict(row._mapping)
            values["customer_id"] = wa_of.get(values["customer_id"])
            out[values["token"]] = tuple(sorted((k, str(v)) for k, v in values.items()))
    return out


def test_a_sync_brings_every_checkout_and_again_changes_nothing(database_url, engine, tmp_path, shop):
    result = wabot(database_url, tmp_path, shop, "shopify", "sync")
    assert result.returncode == 0, result.stderr
    assert "0 products, 25 checkouts from fake-shop.myshopify.com" in result.stdout
    pages = shop.operations("WabotAbandonedCheckoutPage")
    assert len(pages) >= 2 and all(r.variables["query"] is None for r in pages)  # the whole history, in pages
    synced = rows(engine)
    assert set(synced) == {expected_token(c) for c in shop.checkouts.values()}
    with engine.connect() as conn:
        stored = {r.token: r for r in conn.execute(sa.select(checkouts))}
        wa_ids = dict(conn.execute(sa.select(customers.c.id, customers.c.wa_id)).all())
    for checkout in shop.checkouts.values():
        row = stored[expected_token(checkout)]
        i = checkout["id"] - 30_000_000
        assert row.shopify_id == checkout["id"] and row.abandoned_checkout_url == checkout["abandoned_checkout_url"]
        assert str(row.total_price) == checkout["total_price"] and row.currency == "USD"
        assert row.items == ("2 × Dog Food" if i % 2 == 0 else "2 × Dog Food, Leash")
        assert (row.completed_at is not None) == (i % 5 == 4)
        assert row.phone == (None if i % 3 == 2 else f"1415555{i:04d}")
        assert wa_ids.get(row.customer_id) == row.phone  # joined to the customer of that phone
        assert row.email == (f"b{i}@example.com" if i % 3 == 0 else None)

    again = wabot(database_url, tmp_path, shop, "shopify", "sync")
    assert again.returncode == 0, again.stderr
    assert "25 checkouts" in again.stdout and "new customer" not in again.stdout
    assert rows(engine) == synced


def test_a_sync_over_the_webhooks_rows_changes_nothing(database_url, engine, tmp_path, shop):
    """The checkouts/* webhooks came first, with Shopify's own tokens: the sync finds the same rows,
    also for the checkouts whose URL does not name their token (by their id)."""
    with engine.begin() as conn:
        importer.write(conn, "checkouts", [checkout_from_json(c, "US") for c in shop.checkouts.values()], NOW)
    from_webhooks = rows(engine)
    assert set(from_webhooks) == {c["token"] for c in shop.checkouts.values()}
    result = wabot(database_url, tmp_path, shop, "shopify", "sync")
    assert result.returncode == 0, result.stderr
    assert rows(engine) == from_webhooks


def test_since_reads_the_checkouts_changed(database_url, engine, tmp_path, shop):
    assert wabot(database_url, tmp_path, shop, "shopify", "sync").returncode == 0
    later = NOW + timedelta(days=3)
    changed = {**shop.checkouts[30_000_001], "updated_at": later.isoformat(), "completed_at": later.isoformat()}
    new = {**shop.checkouts[30_000_000], "id": 30_000_999, "token": "f" * 32,
           "abandoned_checkout_url": f"{SHOP}/checkouts/{'f' * 32}/recover?key=new",
           "created_at": later.isoformat(), "updated_at": later.isoformat()}
    shop.load(checkouts=[changed, new])
    before = len(shop.requests)
    result = wabot(database_url, tmp_path, shop, "shopify", "sync", "--since", (later - timedelta(minutes=1)).isoformat())
    assert result.returncode == 0, result.stderr
    assert "0 products, 2 checkouts" in result.stdout and "(changes)" in result.stdout
    pages = [r for r in shop.requests[before:] if r.operation == "WabotAbandonedCheckoutPage"]
    assert pages and all(r.variables["query"] == f"updated_at:>='{later - timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}'"
                         for r in pages)
    with engine.connect() as conn:
        assert conn.execute(sa.select(checkouts.c.completed_at).where(checkouts.c.shopify_id == 30_000_001)
                            ).scalar() == later
        assert conn.execute(sa.select(sa.func.count()).select_from(checkouts)).scalar() == 26
