"""`wabot demo`: a small, believable store — products, customers, a year of orders and some chat —
seeded through the same importers and inbound pipeline real data goes through, so every
segment, flow and console view has something to show.

Deterministic (a fixed seed, dates relative to `now`) and idempotent: orders and messages keep
their ids, so seeding twice changes nothing.
"""
from __future__ import annotations

import json
import random
import secrets
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.cli.context import Context, describe_database, pass_context
from bot.cli.serving import check_port, run_server
from bot.conversation import intake
from bot.core import db
from bot.core.config import Settings, load_file_config
from bot.core.errors import WabotError
from bot.core.tables import customers, sandbox_messages
from bot.core.times import utcnow
from bot.pipeline.sandbox import StatusPlan
from bot.runtime import Runtime
from bot.whatsapp import simulate
from bot.whatsapp.events import parse_payload
from segments import importer, shopify
from segments.language import language_counts
from segments.tables import orders, segment_members

PRODUCTS = [
    # id, title, type, vendor, price, tags
    (1001, "Linen Cushion", "Cushions", "Acme Textiles", "35.00", "linen, living room"),
    (1002, "Velvet Cushion", "Cushions", "Acme Textiles", "42.00", "velvet, living room"),
    (1003, "Cushion Cover Set", "Cushion Covers", "Acme Textiles", "24.00", "covers"),
    (1004, "Ceramic Vase", "Decor", "Clayworks", "58.00", "ceramics, gift"),
    (1005, "Scented Candle", "Candles", "Wick & Co", "19.00", "gift, fragrance"),
    (1006, "Dog Food 5kg", "Dog Food", "Happy Paws", "39.00", "pets, subscription"),
    (1007, "Cat Treats", "Pet Treats", "Happy Paws", "9.50", "pets"),
    (1008, "Earl Grey Tea", "Tea", "Leafline", "14.00", "tea, gift"),
    (1009, "Matcha Tin", "Tea", "Leafline", "26.00", "tea"),
    (1010, "Bike Light Set", "Cycling", "Spoke", "32.00", "cycling, outdoors"),
    (1011, "Wool Throw", "Textiles", "Acme Textiles", "89.00", "wool, gift"),
    (1012, "Oak Serving Board", "Kitchen", "Grainworks", "64.00", "kitchen, gift"),
]

FIRST = ["Ana", "Lena", "Omar", "Priya", "Lucas", "Sofia", "Mateo", "Aisha", "Noah", "Mia", "Ravi", "Julia",
         "Diego", "Emma", "Arjun", "Camila", "Leo", "Isabel", "Kabir", "Chloe", "Tomás", "Zara", "Ethan", "Nina",
         "Rafael", "Sara", "Vikram", "Olivia", "Hugo", "Maya", "Bruno", "Elena", "Dev", "Laura", "Sam", "Inés"]
LAST = ["Lima", "Park", "Haddad", "Sharma", "Silva", "Rossi", "García", "Khan", "Miller", "Costa", "Patel",
        "Souza", "Martín", "Brown", "Mehta", "López", "Santos", "Díaz", "Kapoor", "Wilson", "Ruiz", "Ali"]
PHONE_PLANS = [("1555", 7, "US"), ("55119", 8, "BR"), ("9198", 8, "IN"), ("346", 8, "ES"), ("5255", 8, "MX")]

# persona -> (customers, orders per customer range, days since last order range, typical gap, discount share)
PERSONAS = {
    "vip": (3, (8, 14), (2, 40), 25, 0.1),
    "loyal": (2, (11, 14), (1, 12), 14, 0.0),
    "former_vip": (2, (7, 10), (100, 170), 30, 0.0),
    "sale_shopper": (4, (3, 6), (5, 90), 45, 0.9),
    "repeat": (9, (2, 4), (10, 150), 60, 0.2),
    "first_time": (8, (1, 1), (1, 60), 0, 0.25),
    "lapsed": (8, (1, 4), (200, 400), 60, 0.2),
    "chat_only": (3, (0, 0), (0, 0), 0, 0.0),
}

# What customers write, by the language of their phone's country (docs/languages.md): the demo's
# customers chat in English, Spanish, Portuguese and Hindi, and get their answers in it.
CHAT_LINES = {
    "US": ["hi!", "where is my order?", "thanks 🙏", "can I reorder the same as last time?",
           "any recommendations for a gift?", "is there a sale this week?", "ok thanks", "do you ship to Canada?"],
    "BR": ["oi, tudo bem?", "cadê meu pedido?", "obrigado 🙏", "quero pedir o mesmo da última vez",
           "oi, tem promoção?", "vocês têm alguma sugestão de presente?"],
    "IN": ["namaste ji", "mera order kahan hai?", "dhanyavad bhai 🙏", "pichli baar wala hi mangwana hai",
           "koi sale chal rahi hai kya?", "where is my order?"],
    "ES": ["hola!", "¿dónde está mi pedido?", "muchas gracias 🙏", "quiero lo mismo que la última vez",
           "¿hay rebajas esta semana?"],
    "MX": ["hola, buenas tardes", "hola, dónde está mi pedido?", "gracias!", "¿me recomiendas algo para regalar?",
           "¿tienen alguna promoción?"],
}
# The storefront language of their checkouts, as Shopify records it on the order.
CHECKOUT_LOCALE = {"US": "en", "BR": "pt-BR", "IN": "en", "ES": "es", "MX": "es"}
FOLLOW_UP = {"US": "hi, is my order on its way?", "BR": "oi, meu pedido já saiu?", "IN": "mera order kab aayega?",
             "ES": "hola, ¿ya salió mi pedido?", "MX": "hola, ¿ya enviaron mi pedido?"}


@dataclass(frozen=True)
class Hint:
    """A customer to chat as: in `segment` after the refresh, and greeted as one (the first segment
    of segment_priority they are in that the greeting names is this one), with a line to try."""

    segment: str
    wa_id: str
    name: str
    say: str


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    orders: int
    products: int
    messages: int
    segments: dict[str, int]
    hints: tuple[Hint, ...]
    languages: dict[str, int]
    automations: tuple[str, ...] = ()  # what the store automations of the demo do, to watch


# What to say as a customer of each segment, to see what the segment changes.
TRY_SAYING = {"former_vip": "hi", "vip": "hi, then: is there a sale?", "loyal": "hi, then: reorder",
              "lapsed": "hi", "sale_shopper": "is there a sale?", "first_time_buyer": "where is my order?"}

DEMO_CONFIG = Path(__file__).with_name("demo.toml")


def _phone(rng: random.Random, index: int) -> tuple[str, str]:
    prefix, digits, region = PHONE_PLANS[index % len(PHONE_PLANS)]
    return prefix + "".join(str(rng.randrange(10)) for _ in range(digits - 1)) + str(index % 10), region


def _region_of(wa_id: str) -> str:
    return next(region for prefix, _, region in PHONE_PLANS if wa_id.startswith(prefix))


def build_store(now: datetime, seed: int = 7) -> tuple[list[dict], list[dict], list[dict], list[tuple[str, str, str, datetime]]]:
    """(products, customers, orders, chat lines as (wa_id, name, text, sent_at)), Shopify-shaped."""
    rng = random.Random(seed)
    products = [{
        "id": pid, "title": title, "product_type": ptype, "vendor": vendor, "tags": tags, "status": "active",
        "handle": title.lower().replace(" ", "-"),
        "variants": [{"id": pid * 10 + 1, "product_id": pid, "title": "Default Title", "price": price,
                      "sku": f"ACME-{pid}"}],
    } for pid, title, ptype, vendor, price, tags in PRODUCTS]
    customers, orders, chat = [], [], []
    order_id, index = 5_000_000, 0
    for persona, (count, order_range, recency, gap, discount_share) in PERSONAS.items():
        for _ in range(count):
            first, last = FIRST[index % len(FIRST)], LAST[(index * 7) % len(LAST)]
            wa_id, region = _phone(rng, index)
            customer_id = 9_000_000 + index
            index += 1
            customers.append({
                "id": customer_id, "first_name": first, "last_name": last, "phone": "+" + wa_id,
                "email": f"{first.lower()}.{last.lower()}@example.com".replace("é", "e").replace("í", "i")
                         .replace("á", "a").replace("ó", "o"),
                "tags": ", ".join(t for t in (persona == "vip" and "vip", rng.random() < 0.3 and "newsletter") if t),
                "email_marketing_consent": {"state": "subscribed" if rng.random() < 0.75 else "not_subscribed"},
                "default_address": {"country_code": region},
            })
            favourite = rng.choice(PRODUCTS[:6] if persona != "loyal" else [PRODUCTS[5]])
            n_orders = rng.randint(*order_range)
            last_days = rng.uniform(*recency) if n_orders else 0
            for k in range(n_orders):
                days_ago = last_days + (n_orders - 1 - k) * gap * rng.uniform(0.7, 1.3)
                created = now - timedelta(days=days_ago, hours=rng.uniform(0, 10))
                items = [favourite] + rng.sample(PRODUCTS, rng.randint(0, 2))
                if persona in ("vip", "former_vip"):
                    items += [PRODUCTS[10], PRODUCTS[11]]
                items = list(dict.fromkeys(items))  # one line per product
                lines = []
                for position, (pid, title, _type, vendor, price, _) in enumerate(items):
                    qty = 2 if pid == 1001 and persona == "vip" else 1
                    lines.append({"id": order_id * 10 + position, "product_id": pid, "variant_id": pid * 10 + 1,
                                  "title": title, "quantity": qty, "price": price, "sku": f"ACME-{pid}",
                                  "vendor": vendor})
                subtotal = sum(float(line["price"]) * line["quantity"] for line in lines)
                discounted = rng.random() < discount_share
                discount = round(subtotal * 0.15, 2) if discounted else 0.0
                recent = days_ago < 6
                orders.append({
                    "id": order_id, "name": f"#{order_id - 4_999_000}", "created_at": created.isoformat(),
                    "updated_at": created.isoformat(), "phone": "+" + wa_id, "currency": "USD",
                    "financial_status": "paid", "fulfillment_status": None if recent else "fulfilled",
                    "total_price": f"{subtotal - discount:.2f}", "total_discounts": f"{discount:.2f}",
                    "discount_codes": [{"code": "SPRING15", "amount": f"{discount:.2f}"}] if discounted else [],
                    "customer": {"id": customer_id, "first_name": first, "last_name": last},
                    "customer_locale": CHECKOUT_LOCALE[region],
                    "shipping_address": {"country_code": region, "city": "Springfield"},
                    "line_items": lines,
                    "fulfillments": [] if recent else [{
                        "tracking_company": "UPS", "tracking_number": f"1Z{order_id}",
                        "tracking_url": f"https://www.ups.com/track?tracknum=1Z{order_id}"}],
                })
                order_id += 1
            if persona != "former_vip" and (persona in ("vip", "loyal", "chat_only") or rng.random() < 0.5):
                for m in range(rng.randint(1, 3)):
                    sent = now - timedelta(days=rng.uniform(2, 28), minutes=m)
                    chat.append((wa_id, f"{first} {last}", rng.choice(CHAT_LINES[region]), sent))
    # A customer of each country wrote an hour ago: their window is open for free-form messages.
    writers: dict[str, tuple[str, str]] = {}
    for wa_id, name, _, _ in chat:
        writers.setdefault(_region_of(wa_id), (wa_id, name))
    for region, (wa_id, name) in writers.items():
        chat.append((wa_id, name, FOLLOW_UP[region], now - timedelta(hours=1)))
    return products, customers, orders, chat


def demo_settings(settings: Settings) -> Settings:
    """Without a wabot.toml of the user's own, the demo runs on its own configuration
    (bot/cli/demo.toml): Acme Home, in four languages, with segment-aware replies, a campaign and
    reorder rules. A configuration of the user's own is used as it is."""
    if settings.config_path is not None:
        return settings
    return replace(settings, config_path=DEMO_CONFIG, file=load_file_config(DEMO_CONFIG))


def console_tokens(settings: Settings) -> tuple[Settings, str, str]:
    """The settings with an agent token and an admin token (random ones where WABOT_AGENT_TOKENS or
    WABOT_ADMIN_TOKEN set none), and how to sign in to each console."""
    if settings.agent_tokens:
        agent = "sign in with a token of WABOT_AGENT_TOKENS"
    else:
        token = secrets.token_urlsafe(12)
        settings, agent = replace(settings, agent_tokens={token: "demo"}), f"token {token}"
    if settings.admin_token:
        admin = "sign in with WABOT_ADMIN_TOKEN"
    else:
        token = secrets.token_urlsafe(12)
        settings, admin = replace(settings, admin_token=token), f"token {token}"
    return settings, agent, admin


@dataclass(frozen=True)
class Store:
    products: list[dict]
    customers: list[dict]
    orders: list[dict]
    chat: list[tuple[str, str, str, datetime]]

    @property
    def wa_ids(self) -> list[str]:
        return [c["phone"].lstrip("+") for c in self.customers]


def foreign_data(engine: Engine, store: Store) -> tuple[int, int]:
    """(customers, orders) in the database that the demo did not seed. Customers who only chatted
    in the sandbox (no order, no Shopify id, answered by the sandbox transport) are the demo's
    visitors, not a store's: they do not count. Reads only."""
    with db.reading(engine) as conn:
        inspector = sa.inspect(conn)
        if not inspector.has_table(customers.name):
            return 0, 0
        c = customers.c
        key = sa.func.coalesce(c.wa_id, c.user_id, "")
        from_a_store = [c.shopify_customer_id.is_not(None)]
        if inspector.has_table(orders.name):
            from_a_store.append(sa.exists().where(orders.c.customer_id == c.id))
        if inspector.has_table(sandbox_messages.name):
            from_a_store.append(~sa.exists().where(sandbox_messages.c.recipient == key))
        outsiders = conn.execute(sa.select(sa.func.count()).select_from(customers).where(
            key.not_in(store.wa_ids), sa.or_(*from_a_store))).scalar_one()
        other_orders = conn.execute(sa.select(sa.func.count()).select_from(orders).where(
            orders.c.id.not_in([o["id"] for o in store.orders] + [COD_ORDER_ID]))).scalar_one() \
            if inspector.has_table(orders.name) else 0
    return outsiders, other_orders


def refuse_foreign(database_url: str, store: Store) -> None:
    """The demo's fake customers never go into a store's real data: WabotError unless the database
    holds only what the demo seeds (and sandbox visitors)."""
    engine = db.make_engine(database_url)
    try:
        outsiders, other_orders = foreign_data(engine, store)
    finally:
        engine.dispose()
    if outsiders or other_orders:
        held = " and ".join(part for part in (outsiders and f"{outsiders} customer{'s' * (outsiders != 1)}",
                                              other_orders and f"{other_orders} order{'s' * (other_orders != 1)}")
                            if part)
        raise WabotError(f"the database ({describe_database(database_url)}) holds {held} the demo did not seed: "
                         "point WABOT_DATABASE_URL at another database, or pass --force to seed it anyway")


COD_ORDER_ID = 5_999_001
CART_TOKEN = "demo-abandoned-cart"


def _subscribed(store: Store) -> list[dict]:
    return [c for c in store.customers if (c.get("email_marketing_consent") or {}).get("state") == "subscribed"]


def automation_samples(store: Store, now: datetime) -> tuple[dict | None, dict | None]:
    """An abandoned checkout of a subscribed US customer (its first reminder is due at the
    scheduler's next pass) and a cash-on-delivery order of an Indian customer (asked at once),
    for the demo's [automations.*] (docs/automations.md)."""
    checkout = cod = None
    us = [c for c in _subscribed(store) if c["phone"].startswith("+1")]
    india = [c for c in store.customers if c["phone"].startswith("+91")]
    if us:
        c = us[0]
        started = now - timedelta(minutes=45)
        checkout = {"id": 7_000_001, "token": CART_TOKEN, "phone": c["phone"], "email": c["email"],
                    "created_at": started.isoformat(), "updated_at": started.isoformat(), "completed_at": None,
                    "currency": "USD", "total_price": "54.00",
                    "abandoned_checkout_url": f"https://acme.myshopify.com/checkouts/{CART_TOKEN}/recover?key=demo",
                    "customer": {"id": c["id"], "first_name": c["first_name"], "last_name": c["last_name"]},
                    "line_items": [{"title": PRODUCTS[0][1], "quantity": 1}, {"title": PRODUCTS[1][1], "quantity": 2}]}
    if india:
        c = india[0]
        pid, title, _type, vendor, price, _ = PRODUCTS[8]
        cod = {"id": COD_ORDER_ID, "name": f"#{COD_ORDER_ID - 4_999_000}", "created_at": now.isoformat(),
               "updated_at": now.isoformat(), "phone": c["phone"], "currency": "USD", "financial_status": "pending",
               "payment_gateway_names": ["Cash on Delivery (COD)"], "total_price": price,
               "customer": {"id": c["id"], "first_name": c["first_name"], "last_name": c["last_name"]},
               "customer_locale": "en", "shipping_address": {"country_code": "IN", "city": "Pune"},
               "line_items": [{"id": COD_ORDER_ID * 10, "product_id": pid, "variant_id": pid * 10 + 1, "title": title,
                               "quantity": 1, "price": price, "sku": f"ACME-{pid}", "vendor": vendor}]}
    return checkout, cod


def seed_automations(runtime: Runtime, store: Store, now: datetime) -> tuple[str, ...]:
    """The demo's abandoned checkout and cash-on-delivery order, through the webhooks' own code."""
    if not runtime.automations.configured:
        return ()
    checkout, cod = automation_samples(store, now)
    region = runtime.settings.store.default_region
    lines = []
    with runtime.engine.begin() as conn:
        if checkout is not None and runtime.settings.file.automations.abandoned_checkout is not None:
            importer.write(conn, "checkouts", [shopify.checkout_from_json(checkout, region)], now)
            lines.append(f"  abandoned checkout: {checkout['phone'].lstrip('+')} ({checkout['customer']['first_name']})"
                         " gets a cart reminder at the scheduler's first pass")
        if cod is not None and runtime.settings.file.automations.cod_confirmation is not None:
            record = shopify.order_from_json(cod, region)
            importer.write(conn, "orders", [record], now)
            runtime.automations.on_order_created(conn, record, now)
            lines.append(f"  cash on delivery: {cod['phone'].lstrip('+')} ({cod['customer']['first_name']}) was asked"
                         f" to confirm order {cod['name']}: answer \"yes\" or \"no\", or tap Confirm")
    return tuple(lines)


def seed(runtime: Runtime, now: datetime, store: Store | None = None) -> DemoSummary:
    engine, settings = runtime.engine, runtime.settings
    store = store or Store(*build_store(now))
    region = settings.store.default_region
    with tempfile.TemporaryDirectory() as tmp:
        for kind, records in (("products", store.products), ("customers", store.customers),
                              ("orders", store.orders)):
            path = Path(tmp) / f"{kind}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
            importer.import_file(engine, kind, path, region=region, now=now)
    events = []
    for n, (wa_id, name, text, sent_at) in enumerate(store.chat):
        payload = simulate.text_payload(wa_id, text, name=name, message_id=f"wamid.demo.{n}",
                                        timestamp=sent_at.timestamp())
        events.extend(parse_payload(payload))
    with engine.begin() as conn:
        intake.store(conn, events, now)
    runtime.worker(clock=lambda: now).drain()
    automations = seed_automations(runtime, store, now)
    with engine.begin() as conn:
        result = runtime.segment_engine.refresh(conn, now)
        languages = language_counts(conn, settings.store.languages)
    with db.reading(engine) as conn:
        hints = segment_hints(conn, settings, store.wa_ids)
    return DemoSummary(customers=len(store.customers), orders=len(store.orders), products=len(store.products),
                       messages=len(store.chat), segments=dict(result.counts), hints=hints, languages=languages,
                       automations=automations)


def segment_hints(conn: Connection, settings: Settings, wa_ids: list[str]) -> tuple[Hint, ...]:
    """For each segment the greeting names, in segment_priority's order, the first of the demo's
    customers greeted as one, from the membership the refresh stored (else any member)."""
    replies = settings.file.replies
    priority = [name for name in replies.get("segment_priority", ()) if name in TRY_SAYING]
    greeted = set(replies.get("greet", {}))
    members: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    rows = conn.execute(sa.select(customers.c.wa_id, customers.c.first_name, customers.c.last_name,
                                  segment_members.c.segment)
                        .select_from(customers.join(segment_members, segment_members.c.customer_id == customers.c.id))
                        .where(customers.c.wa_id.in_(wa_ids)))
    for wa_id, first, last, segment in rows:
        members.setdefault(wa_id, set()).add(segment)
        names[wa_id] = " ".join(part for part in (first, last) if part)
    order = [w for w in wa_ids if w in members]

    def greeted_as(wa_id: str) -> str | None:
        return next((name for name in priority if name in members[wa_id] and name in greeted), None)

    hints, used = [], set()
    for segment in priority:
        wa_id = next((w for w in order if w not in used and greeted_as(w) == segment), None) or \
            next((w for w in order if w not in used and segment in members[w]), None)
        if wa_id is not None:
            used.add(wa_id)
            hints.append(Hint(segment, wa_id, names[wa_id], TRY_SAYING[segment]))
    return tuple(hints)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Seed the demo store only.")
@click.option("--force", is_flag=True, help="Seed even a database that holds customers or orders the demo did not seed.")
@click.option("--sandbox-statuses/--no-sandbox-statuses", default=True, show_default=True,
              help="Simulate delivered and read statuses for what the sandbox sends (docs/sending.md).")
@pass_context
def demo(ctx: Context, host: str, port: int, no_serve: bool, force: bool, sandbox_statuses: bool) -> None:
    """Seed a demo store (customers, orders, chat history) and run `serve`.

    Without a wabot.toml of your own it runs on the demo's configuration (bot/cli/demo.toml):
    segment-aware replies, a campaign and reorder rules. Everything given is checked before
    anything is written: the configuration, the port, and that the database holds nothing but
    the demo's own customers (--force to seed it anyway)."""
    configured = ctx.settings.config_path is not None
    settings = demo_settings(ctx.settings)
    if not no_serve:
        settings, agent_signin, admin_signin = console_tokens(settings)
    ctx.use_settings(settings)
    ctx.features()  # the configuration, the port, the database: checked before anything is written
    if not no_serve:
        check_port(host, port)
    now = utcnow()
    store = Store(*build_store(now))
    if not force:
        refuse_foreign(settings.database_url, store)
    summary = seed(ctx.runtime(warn=True), now, store)
    url = f"http://{host}:{port}"
    in_segments = ", ".join(f"{name} {count}" for name, count in summary.segments.items() if count)
    width = max((len(h.segment) for h in summary.hints), default=0)
    name_width = max((len(h.name) for h in summary.hints), default=0)
    lines: tuple[str, ...] = (
        f"demo store seeded: {summary.products} products, {summary.customers} customers, {summary.orders} orders, "
        f"{summary.messages} chat messages ({describe_database(settings.database_url)})",
        f"segments: {in_segments}",
        "languages: " + ", ".join(f"{code} {count}" for code, count in summary.languages.items()),
        f"configuration: {settings.config_path}" + ("" if configured else " (the demo's own)"),
        f"try: chat as a customer of each segment, in the sandbox page or with `wabot chat --as WA_ID --url {url}`:",
        *(f"  {h.segment:<{width}}  {h.wa_id:<13}  {h.name:<{name_width}}  say: {h.say}" for h in summary.hints),
        "  anyone: \"preferences\" to pick interests and a language",
        *summary.automations,
    )
    if not configured:
        lines += (f"other commands on the demo's configuration: WABOT_CONFIG={settings.config_path} "
                  "wabot campaigns preview we_miss_you",)
    if no_serve:
        if not configured:
            lines += ("serve it with `wabot demo` (seeding is idempotent) to keep the demo's configuration: "
                      "plain `wabot serve` uses ./wabot.toml or the built-in defaults",)
        for line in lines:
            click.echo(line)
        return
    lines += (f"agent console: {url}/agent ({agent_signin})",
              f"admin console: {url}/admin ({admin_signin})")
    run_server(ctx, host, port, notes=lines, sandbox_statuses=StatusPlan() if sandbox_statuses else None)
