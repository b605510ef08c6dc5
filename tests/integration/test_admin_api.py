"""The admin API behind the store owner's console (docs/console.md), in process through the app with
the real sender, the fake Graph API and Meta's status webhooks: the token on every route, a run
only with {"confirm": true}, its progress from queued to read, the results and the A/B test, a
promotion, reorder prompts, a segment's history, and the customer search and explanation. Bad
input is a one-line 400, never a 5xx; hostile search strings find only what contains them."""
from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.campaigns.tables import campaign_runs
from bot.core.signing import meta_signature
from bot.core.tables import customers, outbox
from bot.core.times import utcnow
from bot.whatsapp import simulate
from segments.store import recompute_stats
from segments.tables import customer_tags
from tests.conftest import APP_SECRET
from tests.support.seed import add_customer, add_order, add_product
from webhook import create_app

TOML = """
[store]
name = "Acme"
timezone = "UTC"
languages = ["en", "es"]

[policy]
consent = "any"
quiet_hours = []

[segments.audience]
rule = 'has_tag("audience")'

[campaigns.flash]
segment = "audience"
text = "Flash sale today, {first_name}!"
template = { name = "flash_sale", language = "en_US", body = ["{first_name}"] }

[campaigns.tested]
rule = 'has_tag("audience")'
test_fraction = 0.5
variants = [{ text = "A for {first_name}", template = { name = "a" } }, { text = "B for {first_name}", template = { name = "b" } }]

[reorder]
default_days = 30
text = "Hi {first_name}, running low on {product_title}?"
"""
ADMIN = "adm-secret"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
PEOPLE = [("5511987000001", "Ana", "Lima", "ana.lima@example.com"), ("5511987000002", "Bea", "Ramos", None),
          ("15550000003", "Carl", "Diaz", "carl@shop.example"), ("15550000004", "Dora", "Lima", None)]


@pytest.fixture
def app(settings_for, engine, fake_graph):
    app = create_app(settings_for(graph=fake_graph, toml=TOML, WABOT_ADMIN_TOKEN=ADMIN, WABOT_RATE_LIMIT="500"))
    yield app
    app.extensions["wabot"].close()


@pytest.fixture
def store(engine):
    """Four customers tagged into the audience, all inside their 24-hour window."""
    now = utcnow()
    ids = {}
    with engine.begin() as conn:
        for wa_id, first, last, email in PEOPLE:
            ids[wa_id] = add_customer(conn, wa_id, first, last_name=last, last_inbound_at=now - timedelta(hours=2),
                                      now=now)
            conn.execute(sa.update(customers).where(customers.c.id == ids[wa_id]).values(email=email))
            conn.execute(sa.insert(customer_tags).values(customer_id=ids[wa_id], tag="audience"))
    return ids


def get(app, path, **kwargs):
    return app.test_client().get(path, headers=AUTH, **kwargs)


def post(app, path, body=None, raw: bytes | None = None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return app.test_client().post(path, headers={**AUTH, "Content-Type": "application/json"}, data=data)


def one_line(response) -> str:
    message = response.get_json()["error"]
    assert isinstance(message, str) and message and "\n" not in message, response.get_data(as_text=True)
    return message


def webhook(app, payload: dict) -> None:
    body = json.dumps(payload).encode()
    answer = app.test_client().post("/webhook", data=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(APP_SECRET, body)})
    assert answer.status_code == 200, answer.get_data(as_text=True)


def deliver(app, engine, wa_ids_read: set[str] = frozenset()) -> None:
    """Meta's statuses for every sent message: delivered, and read for `wa_ids_read`."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.wa_message_id, outbox.c.recipient)
                            .where(outbox.c.wa_message_id.is_not(None))).all()
    for row in rows:
        webhook(app, simulate.status_payload(row.wa_message_id, "delivered", row.recipient))
        if row.recipient in wa_ids_read:
            webhook(app, simulate.status_payload(row.wa_message_id, "read", row.recipient))
    app.extensions["wabot"].worker().drain()


ROUTES = [("GET", "/api/campaigns"), ("GET", "/api/campaigns/flash"), ("POST", "/api/campaigns/flash/run"),
          ("POST", "/api/campaigns/tested/promote"), ("GET", "/api/campaigns/flash/progress"),
          ("GET", "/api/reorder"), ("GET", "/api/reorder/preview"), ("POST", "/api/reorder/run"),
          ("GET", "/api/reorder/progress"), ("GET", "/api/segments/vip/history"), ("GET", "/api/customers?q=ana"),
          ("GET", "/api/customers/5511987000001"), ("GET", "/api/automations")]


@pytest.mark.parametrize("method,path", ROUTES)
def test_every_admin_route_needs_the_admin_token(app, engine, store, method, path):
    client = app.test_client()
    body = {"data": json.dumps({"confirm": True}), "content_type": "application/json"} if method == "POST" else {}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer "}, {"Authorization": ADMIN},
                    {"Authorization": f"Basic {ADMIN}"}):
        answer = client.open(path, method=method, headers=headers, **body)
        assert answer.status_code == 401, (path, headers)
        assert "admin token required" in one_line(answer)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(campaign_runs)).scalar() == 0


def test_without_a_configured_admin_token_everything_is_refused(settings_for, engine, fake_graph, store):
    app = create_app(settings_for(graph=fake_graph, toml=TOML))
    try:
        for method, path in ROUTES:
            assert app.test_client().open(path, method=method, headers={"Authorization": "Bearer "}).status_code == 401
        assert app.test_client().get("/admin").status_code == 200  # the page itself asks for the token
    finally:
        app.extensions["wabot"].close()


def test_a_run_needs_a_confirmation(app, engine, store):
    for raw, status in [(b"", 409), (b"null", 409), (b"{}", 409), (b'{"confirm": false}', 409),
                        (b'{"confirm": "yes"}', 400), (b"[1]", 400), (b"not json", 400), (b'"confirm"', 400)]:
        answer = post(app, "/api/campaigns/flash/run", raw=raw)
        assert answer.status_code == status, raw
        message = one_line(answer)
        assert ("confirm" in message) or ("JSON" in message), message
    assert post(app, "/api/campaigns/nope/run", {"confirm": True}).status_code == 404
    assert post(app, "/api/reorder/run", raw=b"{}").status_code == 409
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(campaign_runs)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 0


def test_a_run_goes_from_queued_to_sent_to_delivered_and_read(app, engine, store, fake_graph):
    listed = get(app, "/api/campaigns").get_json()
    assert [c["name"] for c in listed] == ["flash", "tested", "reorder"]
    assert listed[0]["segment"] == "audience" and listed[0]["last_run"] is None
    preview = get(app, "/api/campaigns/flash/preview").get_json()
    assert preview["eligible"] == 4 and preview["freeform"] == 4
    if "sample" in preview:  # bot/campaigns/runs.py names the recipients
        assert {s["name"] for s in preview["sample"]} == {"Ana Lima", "Bea Ramos", "Carl Diaz", "Dora Lima"}

    ran = post(app, "/api/campaigns/flash/run", {"confirm": True})
    assert ran.status_code == 200
    report = ran.get_json()
    assert report["queued"] == 4 and report["eligible"] == 4
    run_id = report["run_id"]

    queued = get(app, f"/api/campaigns/flash/progress?run={run_id}").get_json()
    assert (queued["planned"], queued["queued"], queued["sent"], queued["done"]) == (4, 4, 0, False)

    app.extensions["wabot"].sender().drain(timeout=30)
    assert len([m for m in fake_graph.messages() if m.status == 200]) == 4
    sent = get(app, f"/api/campaigns/flash/progress?run={run_id}").get_json()
    assert (sent["queued"], sent["sent"], sent["delivered"], sent["read"], sent["done"]) == (0, 4, 0, 0, True)

    deliver(app, engine, {"5511987000001"})
    done = get(app, "/api/campaigns/flash/progress").get_json()  # the latest run
    assert (done["run_id"], done["sent"], done["delivered"], done["read"], done["failed"]) == (run_id, 4, 4, 1, 0)

    detail = get(app, "/api/campaigns/flash").get_json()
    assert detail["last_run"]["run_id"] == run_id and detail["test"] is None
    assert (detail["stats"]["total"]["sent"], detail["stats"]["total"]["delivered"],
            detail["stats"]["total"]["read"]) == (4, 4, 1)

    again = post(app, "/api/campaigns/flash/run", {"confirm": True}).get_json()
    assert again["queued"] == 0 and again["skipped"] == {"already_sent": 4}


def test_progress_and_detail_reject_what_does_not_exist(app, store):
    assert get(app, "/api/campaigns/flash/progress").status_code == 404  # never ran
    ran = post(app, "/api/campaigns/flash/run", {"confirm": True}).get_json()
    for query, status in [(f"run={ran['run_id']}", 200), ("run=999999", 404), ("run=abc", 400), ("run=-1", 400),
                          ("run=" + "9" * 40, 400)]:
        answer = get(app, f"/api/campaigns/flash/progress?{query}")
        assert answer.status_code == status, query
        if status != 200:
            one_line(answer)
    assert get(app, f"/api/campaigns/tested/progress?run={ran['run_id']}").status_code == 404  # another's run
    assert get(app, "/api/campaigns/nope").status_code == 404
    assert get(app, "/api/campaigns/nope/progress").status_code == 404


def test_a_tested_campaign_shows_its_test_and_is_promoted_once(app, engine, store, fake_graph):
    before = get(app, "/api/campaigns/tested").get_json()
    assert before["test_fraction"] == 0.5 and before["test"]["winner"] is None
    assert post(app, "/api/campaigns/tested/promote", {"confirm": True}).status_code == 400  # nothing to compare

    first = post(app, "/api/campaigns/tested/run", {"confirm": True}).get_json()
    assert first["group"] == "test" and first["queued"] >= 1
    rt = app.extensions["wabot"]
    rt.sender().drain(timeout=30)
    deliver(app, engine)
    with engine.connect() as conn:
        got = {r.recipient: r.preview for r in conn.execute(sa.select(outbox.c.recipient, outbox.c.preview))}
    for wa_id, text in got.items():  # whoever got variant B answers, a second after Meta said delivered
        if text.startswith("B for"):
            webhook(app, simulate.text_payload(wa_id, "ooh nice, tell me more", timestamp=time.time() + 1))
    rt.worker().drain()

    detail = get(app, "/api/campaigns/tested").get_json()
    test = detail["test"]
    assert [v["variant"] for v in test["variants"]] == [0, 1]
    assert sum(v["sent"] for v in test["variants"]) == first["queued"]
    if any(text.startswith("B for") for text in got.values()):
        assert test["winner"]["variant"] == 1 and test["variants"][1]["reply_rate"] == 1.0
    if all(v["sent"] for v in test["variants"]):
        assert set(test["winner"]["test"]) == {"against", "z", "p_value", "significant_at_5pct"}

    assert post(app, "/api/campaigns/tested/promote", raw=b"").status_code == 409
    promoted = post(app, "/api/campaigns/tested/promote", {"confirm": True})
    assert promoted.status_code == 200
    rest = promoted.get_json()["rest"]
    assert rest["group"] == "rest" and rest["queued"] == 4 - first["queued"]
    progress = get(app, f"/api/campaigns/tested/progress?run={rest['run_id']}").get_json()
    assert progress["group"] == "rest" and progress["planned"] == rest["queued"]
    assert get(app, "/api/campaigns/tested").get_json()["promotion"]["winner"]["variant"] == test["winner"]["variant"]

    twice = post(app, "/api/campaigns/tested/promote", {"confirm": True})
    assert twice.status_code == 400 and "promoted already" in one_line(twice)
    untested = post(app, "/api/campaigns/flash/promote", {"confirm": True})
    assert untested.status_code == 400 and "no test group" in one_line(untested)


def test_reorder_prompts_preview_run_and_progress(app, engine, store):
    now = utcnow()
    ana = store["5511987000001"]
    with engine.begin() as conn:
        add_product(conn, 7, "Dog food", [70])
        add_order(conn, 5001, ana, [(7, 70, "Dog food", 1, "30.00")], created_at=now - timedelta(days=31))
        recompute_stats(conn, [ana], now)
    preview = get(app, "/api/reorder/preview").get_json()
    assert preview["due"] == 1 and preview["prompts"] == 1 and preview["eligible"] == 1
    assert get(app, "/api/reorder").get_json()["kind"] == "reorder"
    ran = post(app, "/api/reorder/run", {"confirm": True}).get_json()
    assert ran["queued"] == 1
    progress = get(app, f"/api/reorder/progress?run={ran['run_id']}").get_json()
    assert progress["campaign"] == "reorder" and progress["planned"] == 1
    assert get(app, "/api/reorder/preview?now=soon").status_code == 400


def test_reorder_routes_say_when_reorder_prompts_are_off(settings_for, engine, fake_graph):
    app = create_app(settings_for(graph=fake_graph, toml='[store]\nname = "Acme"\n', WABOT_ADMIN_TOKEN=ADMIN))
    try:
        for method, path in [("GET", "/api/reorder"), ("GET", "/api/reorder/preview"), ("GET", "/api/reorder/progress")]:
            answer = app.test_client().open(path, method=method, headers=AUTH)
            assert answer.status_code == 400 and "reorder prompts are off" in one_line(answer)
        assert post(app, "/api/reorder/run", {"confirm": True}).status_code == 400
        assert [c["kind"] for c in get(app, "/api/campaigns").get_json()] == []
    finally:
        app.extensions["wabot"].close()


def test_a_segments_history_counts_each_refresh_and_names_who_moved(app, engine, store):
    rt = app.extensions["wabot"]
    now = utcnow()
    first, second = now - timedelta(days=2), now - timedelta(hours=1)
    with engine.begin() as conn:
        rt.segment_engine.refresh(conn, first)
    with engine.begin() as conn:
        conn.execute(sa.delete(customer_tags).where(customer_tags.c.customer_id == store["15550000004"]))
        newcomer = add_customer(conn, "15550000005", "Eve", last_name="Stone", now=now)
        conn.execute(sa.insert(customer_tags).values(customer_id=newcomer, tag="audience"))
        rt.segment_engine.refresh(conn, second)

    history = get(app, "/api/segments/audience/history?days=7").get_json()
    assert history["name"] == "audience" and history["rule"] == 'has_tag("audience")' and history["count"] == 4
    assert [(p["count"], p["entered"], p["exited"]) for p in history["points"]] == [(4, 4, 0), (4, 1, 1)]
    assert history["bucket"] == "refresh"
    day = history["last_24h"]
    assert (day["until"], day["since"]) == (second.isoformat(), (second - timedelta(days=1)).isoformat())
    assert (day["entered"], day["exited"]) == (1, 1)
    assert day["entered_customers"] == [{"wa_id": "15550000005", "key": "15550000005", "name": "Eve Stone"}]
    assert day["exited_customers"][0]["name"] == "Dora Lima"
    assert history["last_change"] == {"at": second.isoformat(), "entered": 1, "exited": 1}
    with engine.begin() as conn:  # a refresh that moves nobody: the day's changes and the last change stay
        rt.segment_engine.refresh(conn, now - timedelta(minutes=5))
    quiet = get(app, "/api/segments/audience/history?days=7").get_json()
    assert [p["entered"] for p in quiet["points"]] == [4, 1, 0]
    assert quiet["last_24h"]["entered_customers"][0]["name"] == "Eve Stone"
    assert quiet["last_change"]["at"] == second.isoformat()

    short = get(app, "/api/segments/audience/history?days=1").get_json()
    assert [p["count"] for p in short["points"]] == [4, 4]  # the refresh two days ago is outside the window
    builtin = get(app, "/api/segments/vip/history").get_json()
    assert builtin["builtin"] is True and builtin["rule"] is None and builtin["days"] == 30
    for days in ("0", "abc", "731", "-3", "1e3", "99999999999999999999"):
        answer = get(app, f"/api/segments/audience/history?days={days}")
        assert answer.status_code == 400 and "days" in one_line(answer), days
    assert get(app, "/api/segments/nope/history").status_code == 404


def test_the_customer_search_finds_by_number_name_and_email(app, store):
    def found(q):
        answer = get(app, "/api/customers", query_string={"q": q})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return [c["name"] for c in answer.get_json()["customers"]]

    assert sorted(found("lima")) == ["Ana Lima", "Dora Lima"]
    assert sorted(found("LIMA")) == ["Ana Lima", "Dora Lima"]
    assert found("ana.lima@") == ["Ana Lima"]
    assert found("shop.example") == ["Carl Diaz"]
    assert sorted(found("98700000")) == ["Ana Lima", "Bea Ramos"]
    assert found("+55 11 98700-0002")[0] == "Bea Ramos"  # spelled as people write it
    assert found("15550000003") == ["Carl Diaz"]
    assert found("%%") == [] and found("_a") == [] and found("' OR 1=1 --") == []
    one = get(app, "/api/customers", query_string={"q": "carl"}).get_json()["customers"][0]
    assert one == {"key": "15550000003", "wa_id": "15550000003", "name": "Carl Diaz", "email": "carl@shop.example",
                   "last_inbound_at": one["last_inbound_at"], "segments": []}
    for q in ("", "a", " a ", "x" * 101):
        answer = get(app, "/api/customers", query_string={"q": q})
        assert answer.status_code == 400 and "q:" in one_line(answer), q
    assert get(app, "/api/customers").status_code == 400


def test_a_customer_explained(app, engine, store):
    webhook(app, simulate.text_payload("5511987000001", "hola, quiero saber si tienen fundas de cojín de lino", name="Ana"))
    app.extensions["wabot"].worker().drain()
    detail = get(app, "/api/customers/5511987000001").get_json()
    assert detail["customer"]["name"] == "Ana Lima" and detail["customer"]["wa_id"] == "5511987000001"
    assert any(t["text"] == "hola, quiero saber si tienen fundas de cojín de lino" for t in detail["customer"]["transcript"])
    explained = {s["segment"]: s for s in detail["explain"]}
    assert explained["audience"]["reason"]["rule"] == 'has_tag("audience")'
    assert "window_open" in explained
    assert detail["attributes"]["language"] == "es" and detail["attributes"]["language_source"] == "messages"
    assert detail["attributes"]["orders_count"] == 0
    assert get(app, "/api/customers/15559999999").status_code == 404
    assert "no customer" in one_line(get(app, "/api/customers/nobody"))


HOSTILE = st.one_of(
    st.text(min_size=2, max_size=120),
    st.sampled_from(["%", "%_%", "\\", "\\%", "'; DROP TABLE customers; --", "\x00ab", "a\ud800b", "ａｎａ",
                     "Ａ" * 101, "ana\nlima", "*", "()", "+", "--", "1=1", "<script>", "lima%"]).filter(lambda q: len(q) >= 1),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=HOSTILE)
def test_hostile_search_strings_are_answered_and_find_only_what_contains_them(app, store, q):
    # percent-encoded by hand: a lone surrogate is bytes a client may well send
    answer = get(app, "/api/customers?q=" + quote(q.encode("utf-8", "surrogatepass"), safe=""))
    assert answer.status_code in (200, 400), (q, answer.get_data(as_text=True)[:200])
    assert answer.is_json
    if answer.status_code == 400:
        one_line(answer)
        return
    wanted = q.strip()
    digits = re.sub(r"[\s\-().+]", "", wanted)
    for c in answer.get_json()["customers"]:
        haystacks = [c["name"], c["email"] or ""]
        assert any(wanted.lower() in h.lower() or wanted in h for h in haystacks) or \
            (digits.isdigit() and digits in (c["wa_id"] or "")), (q, c)


def test_the_admin_api_is_rate_limited_per_token_and_the_page_is_not(settings_for, engine):
    app = create_app(settings_for(toml=TOML + "\n[api]\nrequests_per_minute = 5\n", WABOT_ADMIN_TOKEN=ADMIN))
    try:
        client = app.test_client()
        for path in ("/api/customers?q=ana", "/api/campaigns", "/api/reorder/preview"):
            assert [client.get(path, headers=AUTH).status_code for _ in range(5)] == [200] * 5, path
            refused = client.get(path, headers=AUTH)
            assert refused.status_code == 429 and "error" in refused.json, path
        for _ in range(8):  # the page and its scripts carry no token, and are not limited
            assert client.get("/admin").status_code == 200
            with client.get("/admin/static/admin.js") as script:
                assert script.status_code == 200
    finally:
        app.extensions["wabot"].close()


# ---------------------------------------------------------------- store automations

AUTOMATIONS_TOML = TOML + """
[automations.abandoned_checkout]
after_minutes = [30, 1440]
texts = ["You left {checkout_items}: {checkout_url}", "Still thinking? {checkout_url}"]

[automations.order_shipped]
template = { name = "order_shipped", language = "en_US", body = ["{order_name}", "{tracking_url}"] }
"""


def test_the_automations_results_per_step(settings_for, engine, store, fake_graph):
    """GET /api/automations answers as `wabot automations stats --json`: each configured automation
    with its steps, zeros where nothing went, the store's currency."""
    from bot.automations.stats import configured_stats
    from bot.campaigns.pricing import RateCard
    from bot.campaigns.tables import campaign_sends

    now = utcnow()
    customer = store["5511987000001"]
    with engine.begin() as conn:
        box = conn.execute(sa.insert(outbox).values(
            customer_id=customer, recipient="5511987000001", kind="automation", category="marketing",
            payload={"type": "text", "text": {"body": "Still thinking?"}}, source="automation:abandoned_checkout",
            state="sent", attempts=1, not_before=now - timedelta(days=1), created_at=now - timedelta(days=1),
            sent_at=now - timedelta(days=1), delivered_at=now - timedelta(hours=23), read_at=now - timedelta(hours=22),
        ).returning(outbox.c.id)).scalar_one()
        conn.execute(sa.insert(campaign_sends).values(
            campaign="automation:abandoned_checkout", kind="automation", customer_id=customer, recipient="5511987000001",
            cycle="checkout-1", send_group="all", variant=1, category="marketing", status="queued", form="freeform",
            outbox_id=box, planned_at=now - timedelta(days=1), queued_at=now - timedelta(days=1)))
        add_order(conn, 8100, customer, [(1, 1, "Cushion", 1, "42.50")], created_at=now - timedelta(hours=2))
    configured = settings_for(graph=fake_graph, toml=AUTOMATIONS_TOML, WABOT_ADMIN_TOKEN=ADMIN)
    app = create_app(configured)
    try:
        assert app.test_client().get("/api/automations").status_code == 401
        answer = get(app, "/api/automations")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        data = answer.get_json()
        with engine.connect() as conn:
            card = RateCard.from_config(configured.file.rates)
            assert data == json.loads(json.dumps(configured_stats(conn, configured.file.automations, "USD", card)))
        assert data["currency"] == "USD"
        cart, shipped = data["automations"]
        assert cart["automation"] == "abandoned_checkout" and shipped["automation"] == "order_shipped"
        assert [(s["name"], s["after_minutes"], s["sent"]) for s in cart["steps"]] == [("step 1", 30, 0),
                                                                                        ("step 2", 1440, 1)]
        second = cart["steps"][1]
        assert (second["delivered"], second["read"], second["replied"], second["converted"], second["revenue"]) == \
            (1, 1, 0, 1, "42.50")
        assert cart["total"]["revenue"] == "42.50"
        # A free-form message to Brazil sent after 2026-10-01: a service message at BR's utility rate.
        assert (second["estimated_cost"]["charged"], second["estimated_cost"]["total"]) == (1, 0.0068)
        assert cart["steps"][0]["estimated_cost"]["charged"] == 0
        assert [(s["name"], s["sent"], s["revenue"]) for s in shipped["steps"]] == [("message", 0, "0.00")]
    finally:
        app.extensions["wabot"].close()


def test_without_automations_the_list_is_empty(app, store):
    answer = get(app, "/api/automations")
    assert answer.status_code == 200
    assert answer.get_json()["automations"] == []
