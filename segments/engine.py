"""The segment engine: every segment computed set-wise in SQL at a time `now`.

- `refresh` stores membership (`segment_members`, with the attribute values behind each one) and
  records who entered and who left (`segment_events`). It compares one signature string per
  customer (segments + the facts behind them) with the previous refresh, and rewrites membership
  only for customers whose signature changed, so a refresh of a large, mostly unchanged store
  writes little. A partial refresh does the same for a set of customers (those changed by
  ingestion since the last refresh, `refresh_changed`), with the percentile thresholds of the
  last full refresh.
- `member_ids` is a live SELECT of customer ids for a segment or a rule, for campaign audiences.
- `explain` gives, for one customer, each segment they are in with the values that put them there.

Custom segments come from `[segments.<name>] rule = ...` in the rule language (segments/rules.py),
validated when the engine is built: bad rules, unknown segment names and cycles are refused with
the key named.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import operator
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement, FromClause

from bot.core.config import SegmentParams, Settings
from bot.core.db import chunks
from bot.core.errors import ConfigError, NotFound, WabotError
from bot.core.tables import UTCDateTime, customers, inbound_messages
from bot.core.times import utcnow
from segments import builtin
from segments.attributes import (
    ATTRIBUTE_EXPRESSIONS,
    BASE_COLUMNS,
    MONEY_ATTRIBUTES,
    TIME_ATTRIBUTES,
    At,
    base_select,
    base_table,
    percentiles,
)
from segments.builtin import BUILTINS, PERCENTILE_THRESHOLDS, fixed_thresholds
from segments.language import language_columns
from segments.shopify import attribute_name
from segments.sqlutil import (
    bulk_page_cache,
    concat_text,
    ensure_functions,
    iso_utc,
    json_bool,
    json_object,
    sample_point,
)
from segments.store import flush_pending_stats
from segments.tables import (
    customer_attributes,
    customer_order_stats,
    customer_tags,
    line_items,
    orders,
    product_tags,
    products,
    segment_events,
    segment_members,
    segment_pending,
    segment_refreshes,
    segment_state,
    variants,
)


class UnknownSegment(NotFound):
    def __init__(self, name: str, known: Sequence[str]):
        super().__init__(f"unknown segment {name!r} (known: {', '.join(known)})")
        self.name = name


@dataclass(frozen=True)
class SegmentDefinition:
    name: str
    description: str
    rule: str | None = None  # custom segments
    builtin: builtin.Builtin | None = None


@dataclass
class RefreshResult:
    now: datetime
    kind: str  # full | partial
    customers: int  # customers evaluated
    changed: int  # customers whose membership or facts changed
    counts: dict[str, int]
    entered: dict[str, int]
    exited: dict[str, int]
    thresholds: dict[str, float | None]
    seconds: float

    def as_dict(self) -> dict:
        return {"now": self.now.isoformat(), "kind": self.kind, "customers": self.customers,
                "changed": self.changed, "counts": self.counts, "entered": self.entered, "exited": self.exited,
                "thresholds": self.thresholds, "seconds": round(self.seconds, 3)}


BOOL_ATTRIBUTES = frozenset({"opted_out", "consent", "window_open"})
RFM_QUANTILES = (0.2, 0.4, 0.6, 0.8)
TEMP = {"scope": "wabot_seg_scope", "attrs": "wabot_seg_attrs", "sig": "wabot_seg_sig",
        "changed": "wabot_seg_changed", "new": "wabot_seg_new"}


def _rules():
    from segments import rules  # the rule language; imported late so built-ins work on their own
    return rules


class Evaluation:
    """One evaluation of segments at `now` over a relation of base columns `a` (one row per
    customer): the RuleEnv of the rule language, and what the built-in definitions are built from.
    Thresholds that depend on all buyers are computed over `population` on first use."""

    def __init__(self, engine: "SegmentEngine", conn: Connection, now: datetime, a: FromClause,
                 population: FromClause | None, thresholds: dict[str, float | None] | None = None):
        self.engine = engine
        self.conn = conn
        self.now = now
        self.a = a
        self.x = At(a, now)
        self.params = engine.params
        self.population = population
        self.thresholds: dict[str, float | None] = {**(thresholds or {}), **fixed_thresholds(engine.params)}
        self._conditions: dict[str, tuple[ColumnElement, list]] = {}
        self._stack: list[str] = []

    # -- what definitions use

    def base(self, name: str) -> ColumnElement:
        return self.a.c[name]

    def since(self, delta: timedelta) -> ColumnElement:
        return self.x.before(delta)

    def threshold(self, name: str) -> float | None:
        if name not in self.thresholds:
            self._compute_thresholds(name)
        return self.thresholds[name]

    def _compute_thresholds(self, name: str) -> None:
        if self.population is None:
            raise WabotError(f"no population to compute {name} from")  # pragma: no cover
        pop = At(self.population, self.now)
        buyers = self.population.c.orders_count >= 1
        if name.startswith("rfm_"):
            metrics = {"rfm_r": ATTRIBUTE_EXPRESSIONS["days_since_last_order"](pop),
                       "rfm_f": self.population.c.orders_count,
                       "rfm_m": ATTRIBUTE_EXPRESSIONS["total_spent"](pop)}
            metric = name[:5]
            values = percentiles(self.conn, sa.select(metrics[metric]).where(buyers), RFM_QUANTILES)
            for i, value in enumerate(values, 1):
                self.thresholds[f"{metric}{i}"] = value
            return
        attribute, _ = PERCENTILE_THRESHOLDS[name]
        names = [n for n, (attr, _) in PERCENTILE_THRESHOLDS.items() if attr == attribute and n not in self.thresholds]
        values = percentiles(self.conn, sa.select(ATTRIBUTE_EXPRESSIONS[attribute](pop)).where(buyers),
                             [PERCENTILE_THRESHOLDS[n][1] for n in names])
        self.thresholds.update(zip(names, values))

    # -- segments

    def definition(self, name: str) -> tuple[ColumnElement, list[tuple[str, ColumnElement]]]:
        if name in self._conditions:
            return self._conditions[name]
        spec = self.engine.definition(name)
        if name in self._stack:
            raise WabotError(f"segment {name!r} refers to itself through {' -> '.join(self._stack)}")
        self._stack.append(name)
        try:
            if spec.builtin is not None:
                condition, reason = spec.builtin.build(self)
            else:
                rule = self.engine.parsed_rule(name)
                condition = _rules().compile_rule(rule, self, known_segments=self.engine.names())
                reason = [("rule", sa.cast(sa.literal(spec.rule), sa.Text))]
                reason += [(n, self.attribute(n)) for n in sorted(rule.attributes)]
                if "language" in rule.attributes:
                    reason.append(("language_source", self.attribute("language_source")))
        finally:
            self._stack.pop()
        self._conditions[name] = (condition, reason)
        return condition, reason

    def condition(self, name: str) -> ColumnElement:
        return self.definition(name)[0]

    def reason_json(self, name: str) -> ColumnElement:
        pairs = []
        for key, value in self.definition(name)[1]:
            pairs += [sa.literal_column(_sql_string(key)), _json_value(key, value)]
        return json_object(*pairs) if pairs else json_object()

    # -- RuleEnv

    def attribute(self, name: str) -> ColumnElement:
        if name == "rfm":
            return self._rfm()
        if name in ("language", "language_source"):
            return self._language()[name == "language_source"]
        try:
            return ATTRIBUTE_EXPRESSIONS[name](self.x)
        except KeyError:
            raise WabotError(f"unknown attribute {name!r}") from None

    def _rfm(self) -> ColumnElement:
        def score(metric: str, value: ColumnElement, better: str) -> ColumnElement:
            parts = []
            for i in range(1, 5):
                bound = self.threshold(f"{metric}{i}")
                if bound is None:
                    continue
                beats = value < bound if better == "lower" else value > bound
                parts.append(sa.case((beats, 1), else_=0))
            return functools.reduce(operator.add, parts, sa.literal(1, sa.Integer))

        r = score("rfm_r", self.attribute_plain("days_since_last_order"), "lower")
        f = score("rfm_f", self.a.c.orders_count, "higher")
        m = score("rfm_m", self.attribute_plain("total_spent"), "higher")
        text = sa.cast(r, sa.String) + sa.cast(f, sa.String) + sa.cast(m, sa.String)
        return sa.case((self.a.c.orders_count >= 1, text), else_=sa.null())

    def _language(self) -> tuple[ColumnElement, ColumnElement]:
        """The customer's language and where it came from (docs/languages.md)."""
        a = self.a.c
        return language_columns(self.engine.settings.store.languages, choice=a.language_choice,
                                chat=a.language_chat, shopify_locale=a.shopify_locale,
                                phone_country=a.phone_country, customer_id=a.customer_id)

    def attribute_plain(self, name: str) -> ColumnElement:
        return ATTRIBUTE_EXPRESSIONS[name](self.x)

    def in_segment(self, name: str) -> ColumnElement:
        return self.condition(name)

    def day_start(self, days: int) -> datetime:
        """Store-local midnight starting the day `days` days before today: `days=N` covers the
        last N days in store time, counting today's part as well."""
        local = self.now.astimezone(self.engine.tz)
        start = datetime.combine(local.date() - timedelta(days=days), clock_time(0), tzinfo=self.engine.tz)
        return start

    def bought(self, selector, days: int | None) -> ColumnElement:
        o, li = orders.alias("bought_order"), line_items.alias("bought_item")
        conditions = [o.c.counted, o.c.customer_id.is_not(None), o.c.created_at <= self.x.t,
                      selector_match(li, selector.kind, selector.value)]
        if days is not None:
            conditions.append(o.c.created_at >= sa.literal(self.day_start(days), UTCDateTime()))
        buyers = sa.select(o.c.customer_id).select_from(li.join(o, o.c.id == li.c.order_id)).where(*conditions)
        return self.a.c.customer_id.in_(buyers)

    def sample(self, fraction: float, seed: str) -> ColumnElement:
        point = sample_point(sa.cast(sa.literal(seed), sa.Text), self.a.c.wa_id)
        return sa.and_(self.a.c.wa_id.is_not(None), point < float(fraction))

    def asked(self, intent: str, days: int | None) -> ColumnElement:
        m = inbound_messages.alias("asked")
        conditions = [m.c.intent == intent, m.c.sent_at <= self.x.t]
        if days is not None:
            conditions.append(m.c.sent_at >= sa.literal(self.day_start(days), UTCDateTime()))
        return self.a.c.customer_id.in_(sa.select(m.c.customer_id).where(*conditions))

    def has_tag(self, tag: str) -> ColumnElement:
        t = customer_tags.alias("has_tag")
        return self.a.c.customer_id.in_(sa.select(t.c.customer_id).where(t.c.tag == tag.strip().lower()))

    def orders_in_months(self, months: tuple[int, ...]) -> ColumnElement:
        wanted = sorted({int(m) for m in months})
        if not wanted or any(not 1 <= m <= 12 for m in wanted):
            raise WabotError("orders_in_months takes months from 1 to 12")
        first = self.conn.execute(sa.select(sa.func.min(customer_order_stats.c.first_order_at))).scalar()
        if first is None:
            return sa.literal(0, sa.Integer)
        tz = self.engine.tz
        first_year = first.astimezone(tz).year
        last_year = self.now.astimezone(tz).year
        o = orders.alias("in_month")
        ranges = []
        for year in range(first_year, last_year + 1):
            for month in wanted:
                start = datetime(year, month, 1, tzinfo=tz)
                end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
                ranges.append(sa.and_(o.c.created_at >= sa.literal(start, UTCDateTime()),
                                      o.c.created_at < sa.literal(end, UTCDateTime())))
        count = (sa.select(sa.func.count()).where(o.c.customer_id == self.a.c.customer_id, o.c.counted,
                                                  o.c.created_at <= self.x.t, sa.or_(*ranges)).scalar_subquery())
        return sa.case((self.a.c.orders_count == 0, 0), else_=count)

    def custom_attribute(self, name: str) -> ColumnElement:
        ca = customer_attributes.alias("custom_attr")
        return (sa.select(ca.c.value).where(ca.c.customer_id == self.a.c.customer_id,
                                            ca.c.name == attribute_name(name)).scalar_subquery())


def selector_match(li: FromClause, kind: str, value: str) -> ColumnElement:
    """Whether a line item matches a product selector. Type, vendor and tags come from the line item
    where it carries them and from the catalogue, reached by product id or, for CSV orders without
    ids, by SKU."""
    needle = (value or "").strip()
    low = needle.lower()

    def catalogue(product_condition: ColumnElement) -> ColumnElement:
        matching = sa.select(products.c.id).where(product_condition)
        skus = (sa.select(variants.c.sku).where(variants.c.product_id.in_(matching), variants.c.sku.is_not(None)))
        return sa.or_(li.c.product_id.in_(matching), li.c.sku.in_(skus))

    if kind == "sku":
        return sa.or_(li.c.sku == needle, li.c.variant_id.in_(sa.select(variants.c.id).where(variants.c.sku == needle)))
    if kind in ("product", "variant"):
        try:
            number = int(needle)
        except ValueError:
            return sa.false()
        if kind == "product":
            return sa.or_(li.c.product_id == number, catalogue(products.c.id == number))
        skus = sa.select(variants.c.sku).where(variants.c.id == number, variants.c.sku.is_not(None))
        return sa.or_(li.c.variant_id == number, li.c.sku.in_(skus))
    if kind == "type":
        return sa.or_(sa.func.lower(li.c.product_type) == low, catalogue(sa.func.lower(products.c.product_type) == low))
    if kind == "vendor":
        return sa.or_(sa.func.lower(li.c.vendor) == low, catalogue(sa.func.lower(products.c.vendor) == low))
    if kind == "tag":
        return catalogue(products.c.id.in_(sa.select(product_tags.c.product_id).where(product_tags.c.tag == low)))
    if kind == "title":
        return sa.or_(sa.func.lower(li.c.title).contains(low, autoescape=True),
                      catalogue(sa.func.lower(products.c.title).contains(low, autoescape=True)))
    raise WabotError(f"unknown selector kind {kind!r}")


def _sql_string(text: str) -> str:
    """A constant key as an SQL string literal (keys are our own attribute names, never user text)."""
    return "'" + text.replace("'", "''") + "'"


def _json_value(key: str, value: ColumnElement) -> ColumnElement:
    if key in TIME_ATTRIBUTES or key.endswith("_at"):
        return iso_utc(value)
    if key in MONEY_ATTRIBUTES or key in ("vip_min_spent", "aov_at_least", "aov_below"):
        return sa.func.round(sa.cast(value, sa.Numeric(18, 6)), 2)
    if key in ("discount_share", "sale_share"):
        return sa.func.round(sa.cast(value, sa.Numeric(18, 6)), 4)
    if key in BOOL_ATTRIBUTES:
        return json_bool(value)
    return value


class SegmentEngine:
    """Built-in and custom segments of one configuration."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.params: SegmentParams = settings.file.segment_params
        self.tz = ZoneInfo(settings.store.timezone)
        self._definitions: dict[str, SegmentDefinition] = {}
        self._parsed: dict = {}  # custom segment name -> segments.rules.Rule
        for spec in BUILTINS:
            self._definitions[spec.name] = SegmentDefinition(spec.name, spec.describe(self.params), builtin=spec)
        for name, custom in settings.file.segments.items():
            if name in self._definitions:
                raise ConfigError(f"[segments.{name}]: {name!r} is a built-in segment; choose another name")
            if not name.strip():
                raise ConfigError("[segments]: a segment needs a name")
            self._definitions[name] = SegmentDefinition(name, custom.description or f"Rule: {custom.rule}",
                                                        rule=custom.rule)
        self._validate()
        # Changes to parameters or rules change every signature, so reasons are rewritten.
        self.version = hashlib.sha256(json.dumps(
            [self.params.model_dump(mode="json"), sorted((n, d.rule) for n, d in self._definitions.items() if d.rule)],
            sort_keys=True).encode()).hexdigest()[:12]

    # -- configuration

    def _validate(self) -> None:
        p = self.params
        if p.aov_thresholds is not None and not p.aov_thresholds[0] <= p.aov_thresholds[1]:
            raise ConfigError("[segment_params] aov_thresholds: the first threshold must not exceed the second")
        if not 0 <= p.sale_share <= 1:
            raise ConfigError("[segment_params] sale_share: a share from 0 to 1")
        for key in ("loyal_min_orders", "lapsed_days", "former_vip_days", "engaged_days"):
            if getattr(p, key) < 0:
                raise ConfigError(f"[segment_params] {key}: must not be negative")
        custom = {n: d for n, d in self._definitions.items() if d.rule is not None}
        if not custom:
            return
        rules = _rules()
        edges: dict[str, list[str]] = {}
        for name, spec in custom.items():
            try:
                rule = rules.parse_rule(spec.rule)
            except rules.RuleError as exc:
                raise ConfigError(f"[segments.{name}] rule: {exc}") from None
            self._parsed[name] = rule
            for used in rule.segments:
                if used not in self._definitions:
                    raise ConfigError(f"[segments.{name}] rule: unknown segment {used!r} in in_segment()")
            edges[name] = [s for s in rule.segments if s in custom]
        state: dict[str, int] = {}

        def visit(node: str, path: list[str]) -> None:
            if state.get(node) == 2:
                return
            if state.get(node) == 1:
                cycle = path[path.index(node):] + [node]
                raise ConfigError(f"[segments.{node}] rule: in_segment() cycle {' -> '.join(cycle)}")
            state[node] = 1
            for nxt in edges[node]:
                visit(nxt, path + [node])
            state[node] = 2

        for name in custom:
            visit(name, [])

    def parsed_rule(self, name: str):
        return self._parsed[name]

    def names(self) -> list[str]:
        return list(self._definitions)

    def definition(self, name: str) -> SegmentDefinition:
        try:
            return self._definitions[name]
        except KeyError:
            raise UnknownSegment(name, self.names()) from None

    def definitions(self) -> list[SegmentDefinition]:
        return list(self._definitions.values())

    def check_rule(self, rule: str) -> None:
        """Raise the rule language's error (with its position) for a bad audience rule."""
        parsed = _rules().parse_rule(rule)
        for used in parsed.segments:
            if used not in self._definitions:
                raise UnknownSegment(used, self.names())

    # -- live queries

    def member_ids(self, conn: Connection, now: datetime, segment: str | None = None, rule: str | None = None
                   ) -> sa.Select:
        """SELECT of the ids (customers.id) of the customers in a segment, or matching a rule, at
        `now`; computed live from the current data, to be used as a subquery or executed."""
        if (segment is None) == (rule is None):
            raise ValueError("member_ids takes a segment or a rule")
        ensure_functions(conn)
        a = base_select(conn, now).subquery("a")
        ev = Evaluation(self, conn, now, a, population=a, thresholds=None)
        if segment is not None:
            condition = ev.condition(self.definition(segment).name)
        else:
            self.check_rule(rule)
            condition = _rules().compile_rule(rule, ev, known_segments=self.names())
        return sa.select(a.c.customer_id).where(condition)

    def explain(self, conn: Connection, customer_id: int, now: datetime) -> list[dict]:
        """[{"segment", "description", "reason"}] for each segment the customer is in at `now`:
        `reason` holds the attribute values (and thresholds) that put them there."""
        ensure_functions(conn)
        scope = sa.select(customers.c.id).where(customers.c.id == customer_id)
        a = base_select(conn, now, scope).subquery("a")
        population = base_select(conn, now).subquery("population")
        ev = Evaluation(self, conn, now, a, population=population)
        columns = [sa.case((ev.condition(d.name), ev.reason_json(d.name)), else_=sa.null()).label(f"s{i}")
                   for i, d in enumerate(self.definitions())]
        row = conn.execute(sa.select(*columns).select_from(a)).first()
        if row is None:
            return []
        out = []
        for definition, reason in zip(self.definitions(), row):
            if reason is not None:
                reason = json.loads(reason) if isinstance(reason, str) else reason
                out.append({"segment": definition.name, "description": definition.description, "reason": reason})
        return out

    def attributes(self, conn: Connection, customer_id: int, now: datetime) -> dict:
        """Every attribute (docs/segments.md) of one customer at `now` (times as ISO 8601 text)."""
        scope = sa.select(customers.c.id).where(customers.c.id == customer_id)
        a = base_select(conn, now, scope).subquery("a")
        ev = Evaluation(self, conn, now, a, population=base_select(conn, now).subquery("population"))
        names = [*ATTRIBUTE_EXPRESSIONS, "rfm", "language", "language_source"]
        row = conn.execute(sa.select(*[ev.attribute(n).label(n) for n in names]).select_from(a)).mappings().first()
        if row is None:
            return {}
        out = {}
        for name in names:
            value = row[name]
            if isinstance(value, datetime):
                value = value.isoformat().replace("+00:00", "Z")
            elif isinstance(value, str) and name in TIME_ATTRIBUTES:  # SQLite returns expression times as text
                value = datetime.fromisoformat(value).isoformat() + "Z"
            elif name in MONEY_ATTRIBUTES and value is not None:
                value = round(float(value), 2)
            elif name in BOOL_ATTRIBUTES and value is not None:
                value = bool(value)
            out[name] = value
        return out

    def stored_counts(self, conn: Connection) -> dict[str, int] | None:
        """Members per segment as the last refresh stored them; None if there never was one."""
        if conn.execute(sa.select(segment_refreshes.c.id).limit(1)).first() is None:
            return None
        counts = dict(conn.execute(sa.select(segment_members.c.segment, sa.func.count())
                                   .group_by(segment_members.c.segment)).all())
        return {name: counts.get(name, 0) for name in self.names()}

    def live_counts(self, conn: Connection, now: datetime) -> dict[str, int]:
        ensure_functions(conn)
        a = base_select(conn, now).subquery("a")
        ev = Evaluation(self, conn, now, a, population=a)
        columns = [sa.func.sum(sa.case((ev.condition(n), 1), else_=0)).label(f"s{i}") for i, n in enumerate(self.names())]
        row = conn.execute(sa.select(*columns).select_from(a)).first()
        return {n: int(v or 0) for n, v in zip(self.names(), row)}

    def last_thresholds(self, conn: Connection) -> dict[str, float | None]:
        row = conn.execute(sa.select(segment_refreshes.c.thresholds).where(segment_refreshes.c.kind == "full")
                           .order_by(segment_refreshes.c.id.desc()).limit(1)).first()
        return dict(row[0]) if row else {}

    # -- refresh

    def refresh_changed(self, conn: Connection, now: datetime) -> RefreshResult:
        """A partial refresh of the customers ingestion marked as changed since the last refresh."""
        ids = conn.execute(sa.select(segment_pending.c.customer_id)).scalars().all()
        return self.refresh(conn, now, customer_ids=ids)

    def refresh(self, conn: Connection, now: datetime, customer_ids: Iterable[int] | None = None) -> RefreshResult:
        """Compute every segment at `now` (for all customers, or the given ones) and store the
        membership, recording entries and exits at `now`. Runs in the caller's transaction."""
        started_wall, started_at = time.perf_counter(), utcnow()
        ensure_functions(conn)
        flush_pending_stats(conn, now)
        full = customer_ids is None
        pending_until = conn.execute(sa.select(sa.func.max(segment_pending.c.since))).scalar()
        tables = _TempTables(conn)
        with contextlib.ExitStack() as cleanup:
            cleanup.enter_context(bulk_page_cache(conn))
            cleanup.callback(tables.drop_all)
            scope = None
            entered: dict[str, int] = {}
            exited: dict[str, int] = {}
            if not full:
                ids = sorted(set(customer_ids))
                scope_table = tables.create(sa.Table(TEMP["scope"], sa.MetaData(),
                                                     sa.Column("customer_id", sa.BigInteger, primary_key=True,
                                                               autoincrement=False),
                                                     prefixes=["TEMPORARY"], postgresql_on_commit="drop"))
                for chunk in chunks(ids, 5000):
                    conn.execute(sa.insert(scope_table), [{"customer_id": i} for i in chunk])
                scope = sa.select(scope_table.c.customer_id)
            attrs = tables.create(base_table(TEMP["attrs"]))
            conn.execute(sa.insert(attrs).from_select([n for n, _ in BASE_COLUMNS], base_select(conn, now, scope)))
            evaluated = conn.execute(sa.select(sa.func.count()).select_from(attrs)).scalar_one()

            if full:
                ev = Evaluation(self, conn, now, attrs, population=attrs)
            else:  # the thresholds of the last full refresh; any missing one is computed over everyone
                ev = Evaluation(self, conn, now, attrs, population=base_select(conn, now).subquery("population"),
                                thresholds=self.last_thresholds(conn))
            names = self.names()
            for name in names:
                ev.definition(name)
            for name in PERCENTILE_THRESHOLDS:  # recorded for the next partial refresh
                ev.threshold(name)

            if full and _nothing_stored(conn):
                changed_count, entered, exited = self._write_first_membership(conn, ev, attrs, names, now, evaluated)
            else:
                changed_count, entered, exited = self._write_membership(conn, tables, ev, attrs, names, now)
            if full:
                if pending_until is not None:
                    conn.execute(sa.delete(segment_pending).where(segment_pending.c.since <= pending_until))
            else:
                conn.execute(sa.delete(segment_pending).where(segment_pending.c.customer_id.in_(scope)))

        counts = {n: 0 for n in names}
        counts.update(conn.execute(sa.select(segment_members.c.segment, sa.func.count())
                                   .group_by(segment_members.c.segment)).all())
        thresholds = {k: v for k, v in ev.thresholds.items()}
        seconds = time.perf_counter() - started_wall
        conn.execute(sa.insert(segment_refreshes).values(
            now=now, kind="full" if full else "partial", started_at=started_at, seconds=seconds,
            thresholds=thresholds, counts=counts))
        return RefreshResult(now=now, kind="full" if full else "partial", customers=evaluated,
                             changed=changed_count, counts=counts, entered=entered, exited=exited,
                             thresholds=thresholds, seconds=seconds)

    def _signature(self, ev: Evaluation, attrs: sa.Table, names: list[str]) -> ColumnElement:
        """One signature per customer: the segments they are in, and the facts behind the reasons."""
        parts = [sa.case((ev.condition(n), sa.literal_column(_sql_string(n + ";"))), else_=sa.literal_column("''"))
                 for n in names]
        facts = [attrs.c[k] for k in ("orders_count", "total_cents", "discounted_count", "last_order_at",
                                      "last_inbound_at", "last_read_at", "opted_out", "consent_at",
                                      "accepts_marketing", "ship_country")]
        pieces = parts + [sa.literal_column(_sql_string("|" + self.version + "|"))]
        for fact in facts:  # a NULL fact is an empty piece
            pieces += [sa.cast(fact, sa.String), sa.literal_column("'/'")]
        return concat_text(pieces)

    def _write_first_membership(self, conn: Connection, ev: Evaluation, attrs: sa.Table, names: list[str],
                                now: datetime, evaluated: int) -> tuple[int, dict[str, int], dict[str, int]]:
        """The first refresh of a store (no membership and no signature stored): every membership is
        an entry, so there is nothing to compare. Signatures, memberships and entry events go
        straight into their tables, one INSERT ... SELECT each, and give the same rows (entry events
        in the same order, by segment and customer) as `_write_membership` would (docs/performance.md)."""
        at = sa.literal(now, UTCDateTime())
        m = segment_members
        conn.execute(sa.insert(segment_state).from_select(
            ["customer_id", "signature"], sa.select(attrs.c.customer_id, self._signature(ev, attrs, names))))
        for name in names:
            conn.execute(sa.insert(m).from_select(
                ["segment", "customer_id", "entered_at", "reason"],
                sa.select(sa.literal_column(_sql_string(name)), attrs.c.customer_id, at, ev.reason_json(name))
                .where(ev.condition(name))))
        conn.execute(sa.insert(segment_events).from_select(
            ["segment", "customer_id", "change", "at"],
            sa.select(m.c.segment, m.c.customer_id, sa.literal("enter"), at).order_by(m.c.segment, m.c.customer_id)))
        entered = dict(conn.execute(sa.select(m.c.segment, sa.func.count()).group_by(m.c.segment)).all())
        return evaluated, entered, {}

    def _write_membership(self, conn: Connection, tables: "_TempTables", ev: Evaluation, attrs: sa.Table,
                          names: list[str], now: datetime) -> tuple[int, dict[str, int], dict[str, int]]:
        at = sa.literal(now, UTCDateTime())
        # 1. One signature per customer: the segments they are in, and the facts behind the reasons.
        signature = self._signature(ev, attrs, names)
        sig = tables.create(sa.Table(TEMP["sig"], sa.MetaData(),
                                     sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
                                     sa.Column("signature", sa.Text, nullable=False),
                                     prefixes=["TEMPORARY"], postgresql_on_commit="drop"))
        conn.execute(sa.insert(sig).from_select(["customer_id", "signature"],
                                                sa.select(attrs.c.customer_id, signature)))

        # 2. Customers whose signature differs from the stored one.
        changed = tables.create(sa.Table(TEMP["changed"], sa.MetaData(),
                                         sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
                                         prefixes=["TEMPORARY"], postgresql_on_commit="drop"))
        s = segment_state
        conn.execute(sa.insert(changed).from_select(["customer_id"], sa.select(sig.c.customer_id)
                                                    .select_from(sig.outerjoin(s, s.c.customer_id == sig.c.customer_id))
                                                    .where(sa.or_(s.c.customer_id.is_(None),
                                                                  s.c.signature != sig.c.signature))))
        changed_count = conn.execute(sa.select(sa.func.count()).select_from(changed)).scalar_one()
        if not changed_count:
            return 0, {}, {}

        # 3. Their memberships, with reasons.
        new = tables.create(sa.Table(TEMP["new"], sa.MetaData(),
                                     sa.Column("segment", sa.String(128), primary_key=True),
                                     sa.Column("customer_id", sa.BigInteger, primary_key=True, autoincrement=False),
                                     sa.Column("reason", segment_members.c.reason.type),
                                     prefixes=["TEMPORARY"], postgresql_on_commit="drop"))
        for name in names:
            conn.execute(sa.insert(new).from_select(
                ["segment", "customer_id", "reason"],
                sa.select(sa.literal_column(_sql_string(name)), attrs.c.customer_id, ev.reason_json(name))
                .select_from(attrs.join(changed, changed.c.customer_id == attrs.c.customer_id))
                .where(ev.condition(name))))

        # 4. Entries and exits, then the membership itself.
        m = segment_members
        same = sa.and_(m.c.segment == new.c.segment, m.c.customer_id == new.c.customer_id)
        of_changed = m.c.customer_id.in_(sa.select(changed.c.customer_id))
        last_event = conn.execute(sa.select(sa.func.max(segment_events.c.id))).scalar() or 0
        conn.execute(sa.insert(segment_events).from_select(
            ["segment", "customer_id", "change", "at"],
            sa.select(new.c.segment, new.c.customer_id, sa.literal("enter"), at).where(~sa.exists().where(same))
            .order_by(new.c.segment, new.c.customer_id)))
        conn.execute(sa.insert(segment_events).from_select(
            ["segment", "customer_id", "change", "at"],
            sa.select(m.c.segment, m.c.customer_id, sa.literal("exit"), at).where(of_changed, ~sa.exists().where(same))
            .order_by(m.c.segment, m.c.customer_id)))
        conn.execute(sa.delete(m).where(of_changed, ~sa.exists().where(same)))
        conn.execute(sa.update(m).where(of_changed, sa.exists().where(same))
                     .values(reason=sa.select(new.c.reason).where(same).scalar_subquery()))
        conn.execute(sa.insert(m).from_select(
            ["segment", "customer_id", "entered_at", "reason"],
            sa.select(new.c.segment, new.c.customer_id, at, new.c.reason).where(~sa.exists().where(same))))

        # 5. The new signatures.
        conn.execute(sa.delete(s).where(s.c.customer_id.in_(sa.select(changed.c.customer_id))))
        conn.execute(sa.insert(s).from_select(["customer_id", "signature"], sa.select(sig.c.customer_id, sig.c.signature)
                                              .where(sig.c.customer_id.in_(sa.select(changed.c.customer_id)))))
        e = segment_events.c
        entered: dict[str, int] = {}
        exited: dict[str, int] = {}
        for segment, change, count in conn.execute(sa.select(e.segment, e.change, sa.func.count())
                                                   .where(e.id > last_event).group_by(e.segment, e.change)):
            (entered if change == "enter" else exited)[segment] = count
        return changed_count, entered, exited


def _nothing_stored(conn: Connection) -> bool:
    """No membership and no signature stored: the next full refresh is a store's first."""
    return all(conn.execute(sa.select(t.c.customer_id).limit(1)).first() is None for t in (segment_state, segment_members))


class _TempTables:
    """Temporary tables of one refresh, dropped at its end (or at commit on PostgreSQL)."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.created: list[sa.Table] = []

    def create(self, table: sa.Table) -> sa.Table:
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")
        table.create(self.conn)
        self.created.append(table)
        return table

    def drop_all(self) -> None:
        for table in reversed(self.created):
            self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")
        self.created.clear()
