"""A generated store for segment tests: customers, Shopify order objects and chat facts with
known dates relative to a fixed `now`, and the expected membership of every built-in segment
computed here in plain Python from the raw generated data (deliberately not through the product's
code: the definitions below are transcribed from CONTRACT.md section 4).

Orders ship to a dozen countries, with the fields Shopify leaves out now and then (no city, a
province name instead of its code, no shipping address at all for a digital order); billing
addresses and the customer's default address lie elsewhere, and must not count."""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


@dataclass
class GenOrder:
    id: int
    wa_id: str | None  # whom it should join (None: its phone does not parse)
    phone_fields: dict  # where the phone is written in the order object
    created_at: datetime
    total: Decimal
    discounts: Decimal = Decimal("0.00")
    codes: tuple[str, ...] = ()
    cancelled: bool = False
    financial_status: str = "paid"
    sku: str = "SKU-1"
    product_id: int = 101
    shipping: dict | None = None  # the shipping address's place (country_code, province_code, city, ...)
    billing: dict | None = None  # the billing address's place: never the customer's location
    default_address: dict | None = None  # the order's customer's default address: nor this

    def counts_at(self, now: datetime) -> bool:
        return (not self.cancelled and self.financial_status not in ("voided", "refunded")
                and self.created_at <= now)

    @property
    def discounted(self) -> bool:
        return self.discounts > 0 or bool(self.codes)

    def as_json(self) -> dict:
        body = {
            "id": self.id, "name": f"#{self.id}", "created_at": self.created_at.isoformat(),
            "updated_at": self.created_at.isoformat(), "financial_status": self.financial_status,
            "cancelled_at": self.created_at.isoformat() if self.cancelled else None,
            "total_price": str(self.total), "total_discounts": str(self.discounts), "currency": "USD",
            "discount_codes": [{"code": c, "amount": "1.00", "type": "fixed_amount"} for c in self.codes],
            "line_items": [{"id": self.id * 10, "product_id": self.product_id, "variant_id": self.product_id * 10,
                            "sku": self.sku, "title": f"Product {self.product_id}", "quantity": 1,
                            "price": str(self.total)}],
        }
        body.update(self.phone_fields)
        for key, place in (("shipping_address", self.shipping), ("billing_address", self.billing)):
            if place is not None or key in body:
                body[key] = {**(place or {}), **(body.get(key) or {})}
        if self.default_address is not None:
            body["customer"] = {**(body.get("customer") or {}), "default_address": dict(self.default_address)}
        return body

    @property
    def ships_to(self) -> tuple[str, str | None, str | None] | None:
        """(country, province, city) of the shipping address, None without one: the province as its
        code, else its name (docs/segments.md, attributes)."""
        if not self.shipping or not self.shipping.get("country_code"):
            return None
        place = self.shipping
        return place["country_code"], place.get("province_code") or place.get("province"), place.get("city")


@dataclass
class GenCustomer:
    wa_id: str
    last_inbound_at: datetime | None = None
    last_read_at: datetime | None = None
    opted_out: bool = False
    orders: list[GenOrder] = field(default_factory=list)


@dataclass
class GenStore:
    customers: dict[str, GenCustomer]
    orphan_orders: list[GenOrder]  # phones that do not parse

    def all_orders(self) -> list[GenOrder]:
        return [o for c in self.customers.values() for o in c.orders] + self.orphan_orders

    def write_jsonl(self, path: Path, orders: list[GenOrder] | None = None) -> Path:
        with path.open("w") as out:
            for order in orders if orders is not None else self.all_orders():
                out.write(json.dumps(order.as_json()) + "\n")
        return path


def _phone_fields(wa_id: str, rnd: random.Random) -> dict:
    national = wa_id[1:]
    spelled = rnd.choice([f"+1 {national[:3]}-{national[3:6]}-{national[6:]}", f"({national[:3]}) {national[3:6]}-{national[6:]}",
                          f"+{wa_id}", f"1{national}"])
    where = rnd.choice(["order", "customer", "billing", "shipping"])
    if where == "order":
        return {"phone": spelled}
    if where == "customer":
        return {"phone": None, "customer": {"id": 5_000_000 + int(national[-4:]), "phone": spelled,
                                            "first_name": "Cust", "last_name": national[-4:]}}
    key = "billing_address" if where == "billing" else "shipping_address"
    address = {"phone": spelled, "first_name": "Bill", "last_name": national[-4:]}
    return {"phone": None, key: address}


PLACES = [  # country code, province code, province name, city
    ("US", "NY", "New York", "New York"), ("US", "CA", "California", "Los Angeles"), ("US", "TX", "Texas", "Austin"),
    ("CA", "ON", "Ontario", "Toronto"), ("CA", "QC", "Quebec", "Montréal"), ("MX", "CMX", "Ciudad de México", "Ciudad de México"),
    ("BR", "SP", "São Paulo", "São Paulo"), ("BR", "RJ", "Rio de Janeiro", "Niterói"), ("DE", "BE", "Berlin", "Berlin"),
    ("GB", None, None, "London"), ("FR", None, None, "Lyon"), ("IN", "MH", "Maharashtra", "Mumbai"),
    ("ES", "B", "Barcelona", "Sabadell"), ("JP", "JP-13", "Tokyo", "Shibuya"),
]


def _place(rnd: random.Random, *, shipping: bool) -> dict | None:
    """An address's place, with the gaps real orders have."""
    code, province_code, province, city = rnd.choice(PLACES)
    roll = rnd.random()
    if shipping and roll < 0.1:
        return None  # a digital order: nothing shipped
    place = {"country": f"Country {code}", "country_code": code, "city": city, "zip": f"{rnd.randrange(10**5):05d}"}
    if province_code:
        place.update({"province": province, "province_code": province_code})
    if roll < 0.18:
        place.pop("city")
    elif roll < 0.25 and province_code:
        place.pop("province_code")  # a name without its code
    elif roll < 0.3:
        place.pop("city")
        place.pop("province_code", None)
    return place


def generate(seed: int = 11, buyers: int = 260, chat_only: int = 40) -> GenStore:
    rnd = random.Random(seed)
    places = random.Random(seed + 1)  # addresses apart, so that they do not move the rest of the store
    customers: dict[str, GenCustomer] = {}
    next_order = [1000]

    def order(wa_id: str | None, created: datetime, **kw) -> GenOrder:
        next_order[0] += 1
        cents = rnd.randrange(800, 40000)
        fields = _phone_fields(wa_id, rnd) if wa_id else {"phone": rnd.choice(["call me", "12", "n/a"])}
        shipping = _place(places, shipping=True)
        if shipping is None and "shipping_address" in fields:  # the phone is on the shipping address
            shipping = _place(places, shipping=False)
        billing = _place(places, shipping=False) if places.random() < 0.6 else None
        default = _place(places, shipping=False) if places.random() < 0.4 else None
        return GenOrder(id=next_order[0], wa_id=wa_id, phone_fields=fields, created_at=created,
                        total=Decimal(cents) / 100, shipping=shipping, billing=billing, default_address=default, **kw)

    for i in range(buyers):
        wa_id = f"1415555{i:04d}"
        customer = GenCustomer(wa_id)
        kind = rnd.random()
        if kind < 0.3:
            n = 1
        elif kind < 0.75:
            n = rnd.randint(2, 5)
        elif kind < 0.9:
            n = rnd.randint(6, 9)
        else:
            n = rnd.randint(10, 16)
        recent = kind >= 0.9 and rnd.random() < 0.7  # many orders in the last 180 days: loyal material
        for _ in range(n):
            days = rnd.uniform(0.01, 170) if recent else rnd.uniform(0.01, 420)
            created = NOW - timedelta(days=days)
            extra = {}
            roll = rnd.random()
            if roll < 0.05:
                extra["cancelled"] = True
            elif roll < 0.08:
                extra["financial_status"] = rnd.choice(["voided", "refunded"])
            elif roll < 0.1:
                extra["financial_status"] = "partially_refunded"  # still counts
            if rnd.random() < (0.9 if i % 17 == 0 else 0.3):
                if rnd.random() < 0.5:
                    extra["discounts"] = Decimal("5.00")
                else:
                    extra["codes"] = ("SPRING",)
            customer.orders.append(order(wa_id, created, **extra))
        if i % 23 == 0:  # an order after `now`: counts only for a later `now`
            customer.orders.append(order(wa_id, NOW + timedelta(days=rnd.uniform(1, 30))))
        customers[wa_id] = customer

    # Boundary cases around lapsed_days (180) and former_vip_days (90), at whole days and just past.
    edges = [180, 181, 180.5, 90, 91, 90.5]
    for j, days in enumerate(edges):
        wa_id = f"1415556{j:04d}"
        c = GenCustomer(wa_id)
        c.orders.append(order(wa_id, NOW - timedelta(days=days)))
        c.orders[-1].total = Decimal("9000.00") + j  # big spenders: VIPs, some former VIPs
        customers[wa_id] = c

    for j in range(chat_only):  # on WhatsApp, never bought
        wa_id = f"1415557{j:04d}"
        customers[wa_id] = GenCustomer(wa_id)

    # Chat facts for everyone: some wrote recently, some long ago, some never; read receipts; opt-outs.
    for customer in customers.values():
        roll = rnd.random()
        if roll < 0.15:
            customer.last_inbound_at = NOW - timedelta(hours=rnd.uniform(0.1, 23.5))
        elif roll < 0.35:
            customer.last_inbound_at = NOW - timedelta(days=rnd.uniform(1.5, 29))
        elif roll < 0.5:
            customer.last_inbound_at = NOW - timedelta(days=rnd.uniform(31, 200))
        if rnd.random() < 0.2:
            customer.last_read_at = NOW - timedelta(days=rnd.uniform(0.5, 150))
        customer.opted_out = rnd.random() < 0.05
    for j in range(len(edges)):  # the big spenders stay quiet in chat, but for one old message
        edge = customers[f"1415556{j:04d}"]
        edge.last_inbound_at = NOW - timedelta(days=120) if j == 4 else None
        edge.last_read_at = None
    # A VIP-sized spender who went quiet long ago, but read a message recently: not a former VIP.
    special = customers["14155560001"]
    special.last_read_at = NOW - timedelta(days=10)
    special.last_inbound_at = None

    orphans = [order(None, NOW - timedelta(days=rnd.uniform(1, 300))) for _ in range(8)]
    return GenStore(customers, orphans)


# -- the expectation, from the contract ----------------------------------------------------------

def expected_location(customer: GenCustomer, now: datetime) -> tuple[str | None, str | None, str | None]:
    """country, province, city: the latest counted order with a shipping address; else the phone's
    country (every generated number is +1 415: US) with no province or city."""
    shipped = [o for o in customer.orders if o.counts_at(now) and o.ships_to is not None]
    if not shipped:
        return "US", None, None
    return max(shipped, key=lambda o: (o.created_at, o.id)).ships_to

def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (the "linear" method of numpy.percentile)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    if ordered[low] == ordered[high]:
        return ordered[low]
    if fraction >= 0.5:
        return ordered[high] - (ordered[high] - ordered[low]) * (1 - fraction)
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def expected_segments(store: GenStore, now: datetime, *, loyal_min_orders: int = 10, lapsed_days: int = 180,
                      sale_share: float = 0.8, former_vip_days: int = 90, engaged_days: int = 30,
                      aov_thresholds: tuple[float, float] | None = None, vip_min_spent: float | None = None
                      ) -> dict[str, set[str]]:
    facts = {}
    for wa_id, customer in store.customers.items():
        counted = [o for o in customer.orders if o.counts_at(now)]
        n = len(counted)
        total = float(sum((o.total for o in counted), Decimal("0")))
        last = max((o.created_at for o in counted), default=None)
        facts[wa_id] = {
            "n": n, "total": total, "aov": total / n if n else None, "last": last,
            "days": math.floor((now - last).total_seconds() / 86400) if last else None,
            "n180": sum(1 for o in counted if o.created_at > now - timedelta(days=180)),
            "share": sum(1 for o in counted if o.discounted) / n if n else None,
            "inbound": customer.last_inbound_at if customer.last_inbound_at and customer.last_inbound_at <= now else None,
            "read": customer.last_read_at if customer.last_read_at and customer.last_read_at <= now else None,
            "opted_out": customer.opted_out,
        }
    buyers = {w: f for w, f in facts.items() if f["n"] >= 1}
    if aov_thresholds is None:
        t1 = percentile([f["aov"] for f in buyers.values()], 0.33)
        t2 = percentile([f["aov"] for f in buyers.values()], 0.67)
    else:
        t1, t2 = aov_thresholds
    vip_t = vip_min_spent if vip_min_spent is not None else percentile([f["total"] for f in buyers.values()], 0.90)

    out: dict[str, set[str]] = {name: set() for name in (
        "first_time_buyer", "repeat_buyer", "loyal", "lapsed", "aov_low", "aov_mid", "aov_high", "sale_shopper",
        "vip", "former_vip", "chat_engaged", "chat_unengaged", "window_open", "opted_out")}
    for wa_id, f in facts.items():
        member = out.__getitem__
        if f["n"] == 1:
            member("first_time_buyer").add(wa_id)
        if f["n"] >= 2:
            member("repeat_buyer").add(wa_id)
        if f["n180"] >= loyal_min_orders:
            member("loyal").add(wa_id)
        if f["n"] >= 1 and f["days"] > lapsed_days:
            member("lapsed").add(wa_id)
        if f["n"] >= 1:
            if f["aov"] < t1:
                member("aov_low").add(wa_id)
            elif f["aov"] < t2:
                member("aov_mid").add(wa_id)
            else:
                member("aov_high").add(wa_id)
        if f["n"] >= 2 and f["share"] >= sale_share:
            member("sale_shopper").add(wa_id)
        vip = f["n"] >= 1 and f["total"] >= vip_t
        if vip:
            member("vip").add(wa_id)
        quiet_since = now - timedelta(days=former_vip_days)
        if (vip and f["days"] > former_vip_days and (f["inbound"] is None or f["inbound"] <= quiet_since)
                and (f["read"] is None or f["read"] <= quiet_since)):
            member("former_vip").add(wa_id)
        engaged = f["inbound"] is not None and f["inbound"] > now - timedelta(days=engaged_days)
        if engaged:
            member("chat_engaged").add(wa_id)
        else:
            member("chat_unengaged").add(wa_id)
        if f["inbound"] is not None and f["inbound"] > now - timedelta(hours=24):
            member("window_open").add(wa_id)
        if f["opted_out"]:
            member("opted_out").add(wa_id)
    return out
