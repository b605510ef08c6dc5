"""Shopify's side of "nothing acknowledged is lost": signed webhooks that cannot be used are kept
and acknowledged (200), never a 5xx; absurd numbers cost nothing; importers keep every valid
record and report the bad ones by line."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.tables import customers
from segments.importer import import_file
from segments.tables import orders, shopify_webhooks
from tests.conftest import fixture_paths, fuzz_examples
from tests.support.mutate import paths, replace
from webhook import create_app

SECRET = "shpss_fuzz"
ORDER = json.loads(next(p for p in fixture_paths("shopify") if p.name.startswith("orders_create")).read_text())
FUZZ = {"cases": 0, "statuses": {}}


@pytest.fixture
def app(settings_for, engine):
    app = create_app(settings_for(WABOT_SHOPIFY_SECRET=SECRET))
    yield app
    app.extensions["wabot"].close()


def deliver(app, raw: bytes, topic: str = "orders/create"):
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    return app.test_client().post("/shopify/webhooks", data=raw, headers={
        "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "Content-Type": "application/json"})


def order(**changes) -> dict:
    body = json.loads(json.dumps(ORDER))
    body.update(changes)
    return body


def test_an_absurd_quantity_is_refused_at_once(app, engine):
    body = order(id=91)
    body["line_items"][0]["quantity"] = "__Q__"
    raw = json.dumps(body).replace('"__Q__"', "1e1000000").encode()
    started = time.perf_counter()
    response = deliver(app, raw)
    assert time.perf_counter() - started < 2
    assert response.status_code == 200 and response.json["applied"] == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(shopify_webhooks.c.state)).scalar_one() in ("failed", "quarantined")


@pytest.mark.parametrize("raw", [
    b"not json", b'{"id": 1, "a": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    json.dumps(order(id=92, email="a\x00b@example.com")).encode(),
    json.dumps(order(id=93, note="x\udc80y"), ensure_ascii=True).encode(),
    json.dumps(order(id=94, note="x" * 70_000)).encode(),
], ids=["not JSON", "nested 3,000 deep", "NUL", "lone surrogate", "a 70,000-character note"])
def test_unusable_bodies_are_kept_and_acknowledged(app, engine, raw):
    response = deliver(app, raw)
    assert response.status_code == 200 and response.json["applied"] == 0
    with engine.connect() as conn:
        state, error = conn.execute(sa.select(shopify_webhooks.c.state, shopify_webhooks.c.error)).one()
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 0
    assert state in ("failed", "quarantined") and error






hostile = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=30), st.just("\x00"), st.just("x" * 5000), st.just("1e1000000"),
                    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@st.composite
def mutated_orders(draw):
    body = order(id=draw(st.integers(1, 10**9)))
    for _ in range(draw(st.integers(1, 3))):
        body = replace(body, draw(st.sampled_from(paths(body))), draw(hostile))
    return body


@settings(max_examples=fuzz_examples(1200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(body=mutated_orders())
def test_mutated_orders_are_never_a_5xx(app, body):
    raw = json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")
    response = deliver(app, raw)
    FUZZ["cases"] += 1
    FUZZ["statuses"][response.status_code] = FUZZ["statuses"].get(response.status_code, 0) + 1
    assert response.status_code == 200, response.get_data(as_text=True)


def test_shopify_fuzz_figures(capsys):
    if FUZZ["cases"]:
        with capsys.disabled():
            print(f"\nshopify fuzz: {FUZZ['cases']} cases, statuses {FUZZ['statuses']}")


def test_an_import_keeps_every_valid_record_and_names_the_bad_lines(engine, tmp_path):
    lines = [json.dumps(order(id=101)), json.dumps(order(id=102, email="a\x00b@x.com")),
             json.dumps(order(id=103)).replace('"quantity": 1', '"quantity": 1e1000000'),
             json.dumps(order(id=104, name="#" + "1" * 300)), "{not json", json.dumps(order(id=105))]
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n")
    bad: list[tuple[str, str]] = []
    started = time.perf_counter()
    report = import_file(engine, "orders", path, region="US", on_bad=lambda where, why: bad.append((where, why)))
    assert time.perf_counter() - started < 10
    with engine.connect() as conn:
        kept = sorted(conn.execute(sa.select(orders.c.id)).scalars())
    assert 101 in kept and 105 in kept and 102 not in kept and 103 not in kept
    assert {where for where, _ in bad} >= {"line 2", "line 3", "line 5"}
    assert report.bad == len(bad) and all("\n" not in why for _, why in bad)


CSV_COLUMNS = ["Customer ID", "First Name", "Last Name", "Email", "Phone", "Tags", "Total Spent", "Language", "Note"]
GOOD_ROW = {"Customer ID": "'7001", "First Name": "Ana", "Last Name": "Silva", "Email": "ana@example.com",
            "Phone": "'+55 11 98765-4321", "Tags": "VIP", "Total Spent": "12.00", "Language": "pt", "Note": "tea"}
cells = st.one_of(st.text(max_size=20), st.just("\x00"), st.just("=HYPERLINK(\"x\")"), st.just("9" * 5000),
                  st.just("1e1000000"), st.just("x" * 70_000), st.just("'+1 (555) 010-0199"), st.just("NaN"),
                  st.text(alphabet=st.characters(codec=None, categories=["Cs", "Co", "Cc"]), max_size=4))
CSV_FUZZ = {"cases": 0, "bad": 0}


@settings(max_examples=fuzz_examples(500), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(rows=st.lists(st.fixed_dictionaries({column: cells for column in CSV_COLUMNS}), min_size=1, max_size=3),
       where=st.integers(0, 3))
def test_hostile_csv_rows_never_cost_the_valid_one(engine, tmp_path_factory, rows, where):
    import csv as csv_module
    import io as io_module

    rows = list(rows)
    rows.insert(min(where, len(rows)), GOOD_ROW)
    buffer = io_module.StringIO()
    writer = csv_module.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("csv") / "customers.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8", "surrogatepass"))
    bad: list[tuple[str, str]] = []
    report = import_file(engine, "customers", path, region="BR", on_bad=lambda w, r: bad.append((w, r)))
    CSV_FUZZ["cases"] += 1
    CSV_FUZZ["bad"] += report.bad
    assert all("\n" not in reason for _, reason in bad)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(customers).where(
            customers.c.shopify_customer_id == 7001)).scalar_one() == 1


def test_csv_fuzz_figures(capsys):
    if CSV_FUZZ["cases"]:
        with capsys.disabled():
            print(f"\ncsv fuzz: {CSV_FUZZ['cases']} files, {CSV_FUZZ['bad']} bad rows reported, no traceback")


@pytest.mark.parametrize("resource_id", [True, False, None, "820982911946154508", 1.5, -1, 2**63, [1]])
def test_an_id_that_is_no_id_is_stored_without_one(app, engine, resource_id):
    """`"id": true` is an int to Python, not to PostgreSQL: the delivery is kept, not a 503."""
    response = deliver(app, json.dumps(order(id=resource_id)).encode())
    assert response.status_code == 200, response.get_data(as_text=True)
    with engine.connect() as conn:
        assert conn.execute(sa.select(shopify_webhooks.c.resource_id)).scalar_one() is None
