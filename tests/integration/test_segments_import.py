"""`wabot orders|customers|products import`: formats, bad rows with line numbers, idempotency,
the phone join, the real Shopify payloads, progress on a terminal only, flat memory."""
from __future__ import annotations

import csv
import json
import os
import pty
import subprocess
import sys
import tracemalloc
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from bot.core.tables import customers
from segments import store
from segments.importer import import_file
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
from tests.conftest import FIXTURES, make_env
from tests.support import cli

NOW = datetime(2026, 5, 1, 12, tzinfo=timezone.utc)

# The columns of the Shopify admin's order export, in its order.
ORDER_EXPORT_COLUMNS = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount", "Shipping Method",
    "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem compare at price",
    "Lineitem sku", "Lineitem requires shipping", "Lineitem taxable", "Lineitem fulfillment status",
    "Billing Name", "Billing Street", "Billing Address1", "Billing Address2", "Billing Company", "Billing City",
    "Billing Zip", "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Notes", "Note Attributes", "Cancelled at",
    "Payment Method", "Payment Reference", "Refunded Amount", "Vendor", "Outstanding Balance", "Employee",
    "Location", "Device ID", "Id", "Tags", "Risk Level", "Source", "Lineitem discount", "Tax 1 Name",
    "Tax 1 Value", "Tax 2 Name", "Tax 2 Value", "Tax 3 Name", "Tax 3 Value", "Tax 4 Name", "Tax 4 Value",
    "Tax 5 Name", "Tax 5 Value", "Phone", "Receipt Number", "Duties", "Billing Province Name",
    "Shipping Province Name", "Payment ID", "Payment Terms Name", "Next Payment Due At", "Payment References",
]


def export_rows(name: str, order_id: str, created: str, lines: list[tuple[str, str, str, str]], total: str,
                **order_fields: str) -> list[dict]:
    """Rows of one order as the admin exports it: order columns on the first row only."""
    rows = []
    for k, (quantity, title, price, sku) in enumerate(lines):
        row = {"Name": name, "Lineitem quantity": quantity, "Lineitem name": title, "Lineitem price": price,
               "Lineitem sku": sku, "Vendor": "Acme"}
        if k == 0:
            row.update({"Email": "a@example.com", "Financial Status": "paid", "Currency": "USD", "Total": total,
                        "Created at": created, "Id": order_id, "Billing Name": "Ann Lee",
                        "Shipping City": "Austin", "Shipping Province": "TX", "Shipping Country": "US",
                        "Shipping Province Name": "Texas"})
            row.update(order_fields)
        rows.append(row)
    return rows


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig") as out:  # Shopify's exports start with a BOM
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return cli.run_cli(args, env=make_env(database_url, tmp_path), cwd=tmp_path)


def test_order_export_csv_with_bad_rows(engine, database_url, tmp_path):
    rows = []
    rows += export_rows("#1001", "5001", "2026-04-01 10:30:45 -0400", [("2", "Linen Cushion - Blue", "15.00", "CUSH-B"),
                                                                      ("1", "Cover", "9.50", "COV-1")], "39.50",
                        Phone="'+1 (415) 555-0101", **{"Discount Code": "SPRING", "Discount Amount": "5.00"})
    rows += export_rows("#1002", "5002", "not a date", [("1", "Mug", "12.00", "MUG")], "12.00", Phone="4155550102")
    rows += export_rows("#1003", "5003", "2026-04-02 09:00:00 +0000", [("1", "Mug", "12.00", "MUG")], "12.00",
                        **{"Billing Phone": "415-555-0101", "Cancelled at": "2026-04-03 09:00:00 +0000"})
    rows += export_rows("#1004", "", "2026-04-02 09:00:00 +0000", [("1", "Mug", "12.00", "MUG")], "12.00")
    rows += export_rows("#1005", "5005", "2026-04-02 09:00:00 +0000", [("x", "Mug", "12.00", "MUG")], "12.00")
    rows += export_rows("#1006", "5006", "2026-04-04 12:00:00 +0000", [("1", "Teapot", "40.00", "TEA")], "forty")
    rows += export_rows("#1007", "5007", "2026-04-05 12:00:00 +0000", [("1", "Teapot", "40.00", "TEA")], "40.00",
                        **{"Shipping Phone": "no phone"})
    path = write_csv(tmp_path / "orders_export.csv", ORDER_EXPORT_COLUMNS, rows)
    result = run_cli(database_url, tmp_path, "orders", "import", str(path))
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
    # Line 1 is the header; #1001 takes lines 2-3.
    assert errors == [
        f"{path}: line 4: Created at 'not a date' is not a date and time",
        f"{path}: line 6: no order Id",
        f"{path}: line 7: quantity 'x' is not a number",
        f"{path}: line 8: Total 'forty' is not an amount",
    ]
    assert result.stderr.splitlines()[-1] == \
        f"wabot: error: 4 bad records in {path} (listed above); the other 3 were imported"
    assert "imported 3 orders" in result.stdout and "1 orders without a usable phone number" in result.stdout
    with engine.connect() as conn:
        stored = {r.id: r for r in conn.execute(sa.select(orders))}
        items = conn.execute(sa.select(line_items).where(line_items.c.order_id == 5001)
                             .order_by(line_items.c.position)).all()
        stats = conn.execute(sa.select(customer_order_stats)).all()
    assert set(stored) == {5001, 5003, 5007}
    first = stored[5001]
    assert first.phone == "14155550101" and first.total_price == Decimal("39.50") and first.is_discounted
    assert first.created_at == datetime(2026, 4, 1, 14, 30, 45, tzinfo=timezone.utc)
    assert (first.ship_country, first.ship_province, first.ship_city) == ("US", "TX", "Austin")
    assert [(i.sku, i.quantity, i.title, i.vendor) for i in items] == [("CUSH-B", 2, "Linen Cushion - Blue", "Acme"),
                                                                       ("COV-1", 1, "Cover", "Acme")]
    assert stored[5003].customer_id == first.customer_id and not stored[5003].counted  # cancelled
    assert stored[5007].customer_id is None and stored[5007].counted  # kept for the shop, joined to nobody
    assert [(s.orders_count, s.total_cents, s.discounted_count) for s in stats] == [(1, 3950, 1)]


def orders_json(specs: list[tuple[int, str, str, str]]) -> list[dict]:
    return [{"id": oid, "phone": phone, "created_at": created, "updated_at": created, "total_price": total,
             "financial_status": "paid",
             "line_items": [{"id": oid * 10, "product_id": 7, "variant_id": 70, "sku": "S7", "title": "Tea",
                             "quantity": 1, "price": total}]}
            for oid, phone, created, total in specs]


def test_json_array_and_json_lines_import_the_same(engine, tmp_path):
    bodies = orders_json([(1, "+14155550101", "2026-04-01T10:00:00Z", "10.00"),
                          (2, "+14155550102", "2026-04-02T10:00:00-04:00", "20.00")])
    (tmp_path / "orders.json").write_text(json.dumps(bodies, indent=2))
    (tmp_path / "orders.jsonl").write_text("".join(json.dumps(b) + "\n" for b in bodies))
    (tmp_path / "page.json").write_text(json.dumps({"orders": bodies}))
    for name in ("orders.json", "orders.jsonl", "page.json"):
        report = import_file(engine, "orders", tmp_path / name, region="US", now=NOW)
        assert (report.records, report.imported, report.bad) == (2, 2, 0), name
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(line_items)).scalar() == 2


def test_broken_json(engine, tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": 1, "created_at": "2026-04-01T10:00:00Z", "total_price": "1"}\n'
                                      '{"id": 2, oops\n[1, 2]\n\n{"id": 3}\n')
    bad = []
    report = import_file(engine, "orders", tmp_path / "a.jsonl", region="US", on_bad=lambda w, r: bad.append((w, r)))
    assert report.imported == 1
    assert [w for w, _ in bad] == ["line 2", "line 3", "line 5"]
    assert bad[1][1] == "not an order object" and bad[2][1] == "no created_at"
    (tmp_path / "b.json").write_text('[{"id": 1, "created_at": "2026-04-01T10:00:00Z", "total_price": "1"}, {"id": ')
    bad.clear()
    report = import_file(engine, "orders", tmp_path / "b.json", region="US", on_bad=lambda w, r: bad.append((w, r)))
    assert report.imported == 1 and bad[0][0] == "item 2" and "not valid JSON" in bad[0][1]


def test_reimport_update_and_cancellation(engine, tmp_path):
    bodies = orders_json([(1, "+14155550101", "2026-04-01T10:00:00Z", "10.00"),
                          (2, "+14155550101", "2026-04-02T10:00:00Z", "20.00"),
                          (3, "+14155550102", "2026-04-03T10:00:00Z", "30.00")])
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in bodies))

    def state():
        with engine.connect() as conn:
            return (conn.execute(sa.select(orders.c.id, orders.c.total_price, orders.c.counted).order_by(orders.c.id)).all(),
                    conn.execute(sa.select(line_items.c.order_id, line_items.c.sku).order_by(line_items.c.order_id,
                                                                                         line_items.c.position)).all(),
                    conn.execute(sa.select(customer_order_stats.c.orders_count, customer_order_stats.c.total_cents)
                                 .order_by(customer_order_stats.c.customer_id)).all(),
                    conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar())

    import_file(engine, "orders", path, region="US", now=NOW)
    first = state()
    assert first[2] == [(2, 3000), (1, 3000)] and first[3] == 2
    import_file(engine, "orders", path, region="US", now=NOW)
    assert state() == first  # idempotent by order id

    updated = dict(bodies[1], updated_at="2026-04-05T10:00:00Z", total_price="25.00",
                   line_items=[{"id": 21, "sku": "NEW", "title": "New", "quantity": 2, "price": "12.50"},
                               {"id": 22, "sku": "NEW2", "title": "New 2", "quantity": 1, "price": "0.00"}])
    older = dict(bodies[2], updated_at="2026-03-01T00:00:00Z", total_price="99.00")
    cancelled = dict(bodies[0], updated_at="2026-04-06T10:00:00Z", cancelled_at="2026-04-06T10:00:00Z")
    with engine.begin() as conn:
        from segments.shopify import order_from_json
        outcome = store.store_orders(conn, [order_from_json(b, "US") for b in (updated, older, cancelled)], NOW)
    assert (outcome.applied, outcome.stale) == (2, 1)
    after = state()
    assert after[0] == [(1, Decimal("10.00"), False), (2, Decimal("25.00"), True), (3, Decimal("30.00"), True)]
    assert after[1] == [(1, "S7"), (2, "NEW"), (2, "NEW2"), (3, "S7")]  # the update replaced the line items
    assert after[2] == [(1, 2500), (1, 3000)]  # the cancelled order left the counts
    # Re-importing the original file now is older than what is stored: nothing goes back.
    import_file(engine, "orders", path, region="US", now=NOW)
    assert state() == after


def test_an_order_that_changes_phone_moves_to_the_other_customer(engine, tmp_path):
    from segments.shopify import order_from_json
    body = orders_json([(1, "+14155550101", "2026-04-01T10:00:00Z", "10.00")])[0]
    with engine.begin() as conn:
        store.store_orders(conn, [order_from_json(body, "US")], NOW)
        store.store_orders(conn, [order_from_json(dict(body, phone="+14155550199", updated_at="2026-04-02T00:00:00Z"),
                                                  "US")], NOW)
        stats = conn.execute(sa.select(customers.c.wa_id, customer_order_stats.c.orders_count)
                             .join(customer_order_stats, customer_order_stats.c.customer_id == customers.c.id)).all()
    assert stats == [("14155550199", 1)]


CUSTOMER_EXPORT_COLUMNS = [
    "Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing", "Default Address Company",
    "Default Address Address1", "Default Address Address2", "Default Address City", "Default Address Province Code",
    "Default Address Country Code", "Default Address Zip", "Default Address Phone", "Phone", "Accepts SMS Marketing",
    "Total Spent", "Total Orders", "Note", "Tax Exempt", "Tags", "Birthday", "Gender", "Language",
]


def test_customer_export_with_extra_columns(engine, tmp_path):
    rows = [
        {"Customer ID": "'7001", "First Name": "Ana", "Last Name": "Silva", "Email": "ana@example.com",
         "Accepts Email Marketing": "no", "Accepts SMS Marketing": "yes", "Phone": "'+55 11 98765-4321",
         "Tags": "VIP, Wholesale ", "Birthday": "1988-02-03", "Gender": "f", "Language": "pt", "Note": "likes tea",
         "Total Spent": "120.00", "Total Orders": "3", "Default Address Country Code": "BR"},
        {"Customer ID": "'7002", "First Name": "Raj", "Email": "raj@example.com", "Accepts Email Marketing": "no",
         "Accepts SMS Marketing": "no", "Default Address Phone": "098765 43210", "Language": "hi"},
        {"Customer ID": "'7003", "First Name": "Nobody", "Email": "n@example.com", "Phone": ""},
        {"Customer ID": "oops", "First Name": "Bad"},
    ]
    path = write_csv(tmp_path / "customers_export.csv", CUSTOMER_EXPORT_COLUMNS, rows)
    bad = []
    report = import_file(engine, "customers", path, region="IN", on_bad=lambda w, r: bad.append((w, r)))
    assert bad == [("line 5", "Customer ID 'oops' is not a number")]
    assert (report.imported, report.without_customer) == (2, 1)
    with engine.connect() as conn:
        people = {r.wa_id: r for r in conn.execute(sa.select(customers))}
        tags = conn.execute(sa.select(customer_tags.c.tag).order_by(customer_tags.c.tag)).scalars().all()
        attrs = {(r.customer_id, r.name): r.value for r in conn.execute(sa.select(customer_attributes))}
    ana, raj = people["5511987654321"], people["919876543210"]
    assert (ana.first_name, ana.last_name, ana.shopify_customer_id, ana.accepts_marketing, ana.phone_country) == \
        ("Ana", "Silva", 7001, True, "BR")
    assert (raj.shopify_customer_id, raj.accepts_marketing, raj.phone_country) == (7002, False, "IN")
    assert tags == ["vip", "wholesale"]
    assert attrs == {(ana.id, "birthday"): "1988-02-03", (ana.id, "gender"): "f", (ana.id, "language"): "pt",
                     (ana.id, "note"): "likes tea", (raj.id, "language"): "hi"}


def test_customer_objects_and_a_whatsapp_spelling_of_the_same_number(engine, tmp_path):
    from bot.conversation import customers as customer_store
    with engine.begin() as conn:  # a Brazilian mobile that wrote to us without the ninth digit
        customer_store.touch_inbound(conn, wa_id="551187654321", user_id=None, profile_name="Ana", sent_at=NOW, now=NOW)
    body = {"id": 8001, "first_name": "Ana", "phone": "+55 11 98765-4321", "tags": "vip",
            "email_marketing_consent": {"state": "subscribed"}, "birthday": "1990-01-01",
            "metafields": [{"namespace": "facts", "key": "shoe_size", "value": "38"}]}
    (tmp_path / "c.jsonl").write_text(json.dumps(body) + "\n")
    report = import_file(engine, "customers", tmp_path / "c.jsonl", region="US")
    assert report.customers_created == 0
    with engine.connect() as conn:
        rows = conn.execute(sa.select(customers.c.wa_id, customers.c.shopify_customer_id,
                                      customers.c.accepts_marketing)).all()
        attrs = dict(conn.execute(sa.select(customer_attributes.c.name, customer_attributes.c.value)).all())
    assert rows == [("551187654321", 8001, True)]
    assert attrs == {"birthday": "1990-01-01", "shoe_size": "38"}


PRODUCT_EXPORT_COLUMNS = ["Handle", "Title", "Body (HTML)", "Vendor", "Product Category", "Type", "Tags", "Published",
                          "Option1 Name", "Option1 Value", "Variant SKU", "Variant Price", "Image Src", "Status"]


def test_product_export_csv_then_the_same_product_by_webhook(engine, tmp_path):
    rows = [
        {"Handle": "linen-cushion", "Title": "Linen Cushion", "Vendor": "Acme", "Type": "Cushions",
         "Tags": "home, linen", "Option1 Name": "Colour", "Option1 Value": "Blue", "Variant SKU": "CUSH-B",
         "Variant Price": "15.00", "Status": "active"},
        {"Handle": "linen-cushion", "Option1 Value": "Red", "Variant SKU": "CUSH-R", "Variant Price": "15.00"},
        {"Handle": "linen-cushion", "Image Src": "https://example.com/1.jpg"},
        {"Handle": "orphan-variant", "Variant SKU": "X"},
    ]
    path = write_csv(tmp_path / "products_export.csv", PRODUCT_EXPORT_COLUMNS, rows)
    bad = []
    report = import_file(engine, "products", path, region="US", on_bad=lambda w, r: bad.append((w, r)))
    assert report.imported == 1 and [w for w, _ in bad] == ["line 5"]
    with engine.connect() as conn:
        product = conn.execute(sa.select(products)).one()
        skus = conn.execute(sa.select(variants.c.sku).order_by(variants.c.sku)).scalars().all()
    assert product.id < 0 and (product.product_type, product.vendor, product.handle) == ("Cushions", "Acme",
                                                                                         "linen-cushion")
    assert skus == ["CUSH-B", "CUSH-R"]
    webhook_copy = {"id": 42, "title": "Linen Cushion", "handle": "linen-cushion", "product_type": "Cushions",
                    "vendor": "Acme", "tags": "home", "variants": [{"id": 420, "sku": "CUSH-B", "price": "15.00"}]}
    (tmp_path / "p.jsonl").write_text(json.dumps(webhook_copy) + "\n")
    import_file(engine, "products", tmp_path / "p.jsonl", region="US")
    with engine.connect() as conn:
        assert conn.execute(sa.select(products.c.id)).scalars().all() == [42]
        assert conn.execute(sa.select(product_tags.c.tag)).scalars().all() == ["home"]


def test_the_real_shopify_payloads_import(engine, tmp_path):
    shopify = FIXTURES / "shopify"
    for kind, name in (("orders", "orders_create__shopify-docs-example__api-2025-01.json"),
                       ("customers", "customers_create__shopify-docs-example__api-2026-04.json"),
                       ("products", "products_create-or-update__shopify-docs-example__api-2025-01.json")):
        report = import_file(engine, kind, shopify / name, region="US", now=NOW)
        assert (report.records, report.imported, report.bad) == (1, 1, 0), kind
    with engine.connect() as conn:
        order = conn.execute(sa.select(orders)).one()
        assert order.id == 820982911946154500 and not order.counted  # cancelled and voided
        assert (order.total_price, order.is_discounted) == (Decimal("388.00"), True)
        assert order.phone == "15555557447"  # the billing address's 555-555-SHIP, as dialled
        assert conn.execute(sa.select(sa.func.count()).select_from(line_items)).scalar() == 2
        bob = conn.execute(sa.select(customers).where(customers.c.shopify_customer_id == 706405506930370000)).one()
        assert (bob.first_name, bob.wa_id) == ("Bob", "15555555555")
        assert conn.execute(sa.select(customer_attributes.c.value)).scalar() == "This customer loves ice cream"
        assert conn.execute(sa.select(variants.c.id).order_by(variants.c.id)).scalars().all() == \
            [642667041472714000, 757650484644203900]
        assert sorted(conn.execute(sa.select(product_tags.c.tag)).scalars()) == ["example", "mens", "t-shirt"]


def test_customers_and_products_import_commands(engine, database_url, tmp_path):
    shopify = FIXTURES / "shopify"
    for kind, name, count in (("products", "products_create-or-update__shopify-docs-example__api-2025-01.json", 1),
                              ("customers", "customers_create__shopify-docs-example__api-2026-04.json", 1)):
        result = run_cli(database_url, tmp_path, kind, "import", str(shopify / name))
        assert result.returncode == 0, result.stderr
        assert f"imported {count} {kind} from" in result.stdout
    missing = run_cli(database_url, tmp_path, "customers", "import", str(tmp_path / "nope.csv"))
    assert missing.returncode != 0 and len(missing.stderr.strip().splitlines()) == 1
    assert "Traceback" not in missing.stderr
    with engine.connect() as conn:
        assert conn.execute(sa.select(customers.c.first_name)).scalars().all() == ["Bob"]
        assert sorted(conn.execute(sa.select(product_tags.c.tag)).scalars()) == ["example", "mens", "t-shirt"]


def test_progress_bar_only_on_a_terminal(database_url, tmp_path):
    path = tmp_path / "orders.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in orders_json(
        [(i, f"+1415555{i:04d}", "2026-04-01T10:00:00Z", "10.00") for i in range(1, 50)])))
    piped = run_cli(database_url, tmp_path, "orders", "import", str(path))
    assert piped.returncode == 0 and "Importing" not in piped.stdout and "%" not in piped.stdout
    primary, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "orders", "import", str(path)],
                               env=make_env(database_url, tmp_path), cwd=tmp_path, stdout=secondary,
                               stderr=subprocess.PIPE)
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
    process.stderr.close()
    assert process.returncode == 0
    assert b"Importing orders" in output and b"100%" in output


def test_memory_stays_flat_as_the_file_grows(engine, tmp_path):
    def peak_for(count: int) -> int:
        path = tmp_path / f"orders{count}.json"
        with path.open("w") as out:  # a JSON array, the format that needs an incremental parser
            out.write("[")
            for i in range(count):
                body = orders_json([(count * 10 + i, f"+1415{i % 500:07d}", "2026-04-01T10:00:00Z", "10.00")])[0]
                body["note"] = "x" * 500
                out.write(("," if i else "") + json.dumps(body))
            out.write("]")
        tracemalloc.start()
        import_file(engine, "orders", path, region="US", now=NOW, batch_size=200)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small, large = peak_for(1000), peak_for(6000)
    assert large < small * 1.5, (small, large)


def test_two_new_phones_of_one_shopify_customer_in_one_batch(engine):
    """A Shopify customer who ordered with two phones: both WhatsApp customers are kept, the Shopify
    id goes to one of them, and the batch is written at once (no unique-key failure)."""
    from segments.shopify import order_from_json
    bodies = orders_json([(1, "+14155550001", "2026-04-01T10:00:00Z", "10.00"),
                          (2, "+14155550002", "2026-04-02T10:00:00Z", "12.00")])
    for body in bodies:
        body["customer"] = {"id": 880001, "first_name": "Ana"}
    with engine.begin() as conn:
        outcome = store.store_orders(conn, [order_from_json(body, "US") for body in bodies], NOW)
        rows = conn.execute(sa.select(customers.c.wa_id, customers.c.shopify_customer_id)
                            .order_by(customers.c.wa_id)).all()
    assert outcome.customers_created == 2
    assert [wa for wa, _ in rows] == ["14155550001", "14155550002"]
    assert sorted(sid for _, sid in rows if sid) == [880001]
