"""Properties of the segment rule language: rules drawn from a grammar of our own agree, in SQL
(SQLite, or PostgreSQL when WABOT_TEST_DATABASE_URL is set), with their meaning written in Python;
rule constants reach SQL only as bound parameters; random and mutated text fails only with RuleError."""
from __future__ import annotations

import os
import random
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote as url_quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from bot.core import db
from bot.core.tables import UTCDateTime
from segments.rules import ATTRIBUTES, RuleError, compile_rule, parse_rule

DIALECTS = (sqlite.dialect(), postgresql.dialect())

# --- properties ----------------------------------------------------------------------------------
# A grammar strategy builds a rule as a small tree of our own (not the module's), renders it to text
# with the fewest parentheses precedence allows, and evaluates it in Python; the module must agree.

NUMBER_ATTRS = sorted(n for n, k in ATTRIBUTES.items() if k == "number")
TEXT_ATTRS = sorted(n for n, k in ATTRIBUTES.items() if k == "text")
TIME_ATTRS = sorted(n for n, k in ATTRIBUTES.items() if k == "time")
BOOL_ATTRS = sorted(n for n, k in ATTRIBUTES.items() if k == "bool")
OPS = ("==", "!=", "<", "<=", ">", ">=")
KEYWORD_SPELLINGS = {"and": ("and", "AND", "And"), "or": ("or", "OR"), "not": ("not", "NOT", "Not"),
                     "in": ("in", "IN"), "true": ("true", "True", "TRUE"), "false": ("false", "False")}


def quoted(value: str, quote_char: str) -> str:
    return quote_char + value.replace("\\", "\\\\").replace(quote_char, "\\" + quote_char) + quote_char


def iso(moment: datetime, style: int) -> str:
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 1:
        return moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    if style == 2:
        return moment.replace(tzinfo=None).isoformat(sep=" ")  # no offset: UTC
    return moment.astimezone(timezone(timedelta(hours=-5, minutes=-30))).isoformat()


class Domain:
    """The values a grammar may use: small and overlapping with the data for semantics, or marked
    with a sentinel for the bound-parameter property."""

    def __init__(self, texts, numbers, times, selector_values, ids, names):
        self.texts, self.numbers, self.times = texts, numbers, times
        self.selector_values, self.ids, self.names = selector_values, ids, names


BASE_TIME = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)
DATA_TIMES = [BASE_TIME + timedelta(days=d, hours=h) for d in (-400, -30, -1, 0, 2) for h in (0, 5)]
SEMANTIC = Domain(
    texts=st.sampled_from(["us", "ca", "mx", "", "555", "x'y", 'q"z', "b\\s"]),
    numbers=st.sampled_from([-1, 0, 1, 2, 2.5, 3, 10, 100.25]),
    times=st.sampled_from(DATA_TIMES),
    selector_values=st.sampled_from(["a", "b", "c"]),
    ids=st.sampled_from(["1", "2"]),
    names=st.sampled_from(["vip", "loyal", "greet", "human", "interest", "lang"]),
)
SENTINEL_NUMBER = 987654.25
SENTINEL_TIME = datetime(1987, 6, 5, 4, 3, 2, tzinfo=timezone.utc)
_sentinel_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12).map(lambda s: f"«{s}»")
MARKED = Domain(
    texts=_sentinel_text,
    numbers=st.just(SENTINEL_NUMBER),
    times=st.just(SENTINEL_TIME),
    selector_values=_sentinel_text,
    ids=st.just("98765432123"),
    names=_sentinel_text,
)


@st.composite
def leaves(draw, domain: Domain):
    kind = draw(st.sampled_from(["bool_attr", "number_cmp", "text_cmp", "time_cmp", "in", "bought",
                                 "in_segment", "sample", "asked", "has_tag", "months", "custom", "const"]))
    if kind == "bool_attr":
        return ("bool_attr", draw(st.sampled_from(BOOL_ATTRS)))
    if kind in ("number_cmp", "months"):
        left = ("attr", draw(st.sampled_from(NUMBER_ATTRS))) if kind == "number_cmp" else \
            ("months", tuple(draw(st.lists(st.integers(1, 12), min_size=1, max_size=3))))
        return ("cmp", draw(st.sampled_from(OPS)), left, ("number", draw(domain.numbers)), draw(st.booleans()))
    if kind == "text_cmp":
        return ("cmp", draw(st.sampled_from(OPS)), ("attr", draw(st.sampled_from(TEXT_ATTRS))),
                ("text", draw(domain.texts)), draw(st.booleans()))
    if kind == "custom":
        return ("cmp", draw(st.sampled_from(OPS)), ("custom", draw(domain.names)),
                ("text", draw(domain.texts)), draw(st.booleans()))
    if kind == "time_cmp":
        return ("cmp", draw(st.sampled_from(OPS)), ("attr", draw(st.sampled_from(TIME_ATTRS))),
                ("time", draw(domain.times), draw(st.integers(0, 3))), draw(st.booleans()))
    if kind == "in":
        family = draw(st.sampled_from(["number", "text"]))
        attrs, values = (NUMBER_ATTRS, domain.numbers) if family == "number" else (TEXT_ATTRS, domain.texts)
        return ("in", ("attr", draw(st.sampled_from(attrs))), family,
                tuple(draw(st.lists(values, min_size=1, max_size=3))), draw(st.booleans()))
    if kind == "bought":
        selector_kind = draw(st.sampled_from(["sku", "product", "variant", "type", "vendor", "tag", "title"]))
        value = draw(domain.ids if selector_kind in ("product", "variant") else domain.selector_values)
        return ("bought", selector_kind, value, draw(st.none() | st.sampled_from([1, 10, 100])))
    if kind == "in_segment":
        return ("in_segment", draw(domain.names))
    if kind == "sample":
        seed = draw(st.none() | domain.names)
        return ("sample", draw(st.sampled_from([0.1, 0.5, 1, 0.999])), seed)
    if kind == "asked":
        return ("asked", draw(domain.names), draw(st.none() | st.sampled_from([1, 10, 100])))
    if kind == "has_tag":
        return ("has_tag", draw(domain.names))
    return ("const", draw(st.booleans()))


def conditions(domain: Domain):
    def extend(children):
        return st.one_of(
            st.tuples(st.just("not"), children),
            st.tuples(st.just("and"), st.lists(children, min_size=2, max_size=3).map(tuple)),
            st.tuples(st.just("or"), st.lists(children, min_size=2, max_size=3).map(tuple)),
            st.tuples(st.just("boolcmp"), st.sampled_from(["==", "!="]), children,
                      children | st.booleans()).filter(lambda node: not _both_constant(node[2], node[3])),
        )
    return st.recursive(leaves(domain), extend, max_leaves=10)


def _both_constant(left, right) -> bool:
    # `true == false` is rejected by design; the grammar only builds rules the module accepts
    return left[0] == "const" and (isinstance(right, bool) or right[0] == "const")


LEVEL = {"or": 1, "and": 2, "not": 3, "cmp": 4, "in": 4, "boolcmp": 4}


@st.composite
def rendered(draw, domain: Domain):
    """(rule text, tree)."""
    tree = draw(conditions(domain))
    spacing = draw(st.sampled_from([" ", "  ", "\n  ", "\t"]))

    def kw(word: str) -> str:
        return draw(st.sampled_from(KEYWORD_SPELLINGS[word]))

    def string(value: str) -> str:
        return quoted(value, draw(st.sampled_from(["'", '"'])))

    def literal(lit) -> str:
        if lit[0] == "number":
            return repr(lit[1]) if isinstance(lit[1], float) else str(lit[1])
        if lit[0] == "time":
            return string(iso(lit[1], lit[2]))
        return string(lit[1])

    def value(node) -> str:
        if node[0] == "attr":
            return node[1]
        if node[0] == "months":
            return f"orders_in_months({', '.join(map(str, node[1]))})"
        return f"attr({string(node[1])})"

    def days(n) -> str:
        return "" if n is None else f", days={n}"

    def render(node, minimum: int) -> str:
        level = LEVEL.get(node[0], 5)
        text = raw(node)
        if level < minimum or draw(st.integers(0, 9)) == 0:
            return f"({text})"
        return text

    def raw(node) -> str:
        tag = node[0]
        if tag == "or":
            return f"{spacing}{kw('or')} ".join(render(child, 2) for child in node[1])
        if tag == "and":
            return f" {kw('and')}{spacing}".join(render(child, 3) for child in node[1])
        if tag == "not":
            return f"{kw('not')} {render(node[1], 3)}"
        if tag == "boolcmp":
            right = kw("true" if node[3] else "false") if isinstance(node[3], bool) else render(node[3], 5)
            return f"{render(node[2], 5)} {node[1]} {right}"
        if tag == "cmp":
            _, op, left, right, flipped = node
            if flipped:
                mirrored = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op)
                return f"{literal(right)} {mirrored} {value(left)}"
            return f"{value(left)} {op} {literal(right)}"
        if tag == "in":
            _, left, family, values, negated = node
            items = ", ".join(literal((family, v)) for v in values)
            return f"{value(left)} {kw('not') + ' ' if negated else ''}{kw('in')} ({items})"
        if tag == "bool_attr":
            return node[1]
        if tag == "bought":
            return f"bought({string(f'{node[1]}:{node[2]}')}{days(node[3])})"
        if tag == "in_segment":
            return f"in_segment({string(node[1])})"
        if tag == "sample":
            return f"sample({node[1]}{'' if node[2] is None else ', ' + string(node[2])})"
        if tag == "asked":
            return f"asked({string(node[1])}{days(node[2])})"
        if tag == "has_tag":
            return f"has_tag({string(node[1])})"
        return kw("true" if node[1] else "false")

    return render(tree, 1), tree


# --- a small real database and an env over it ------------------------------------------------------

_data_meta = sa.MetaData()
people = sa.Table(
    "rule_people", _data_meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    *(sa.Column(name, {"number": sa.Float, "text": sa.String(32), "time": UTCDateTime(),
                       "bool": sa.Boolean}[kind]) for name, kind in ATTRIBUTES.items()),
)
facts = sa.Table(
    "rule_facts", _data_meta,
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # bought:<selector kind> | segment | asked | tag | month | attr:<name>
    sa.Column("value", sa.String(32)),
    sa.Column("number", sa.Integer),  # days ago, or the month
)


def seed_hash(seed: str) -> int:
    return sum(map(ord, seed)) % 997


class TableEnv:
    """The rule names over rule_people / rule_facts; Python twins below define the same meaning."""

    def _exists(self, kind: str, value: str, days: int | None = None):
        condition = sa.and_(facts.c.person_id == people.c.id, facts.c.kind == sa.literal(kind),
                            facts.c.value == sa.literal(value))
        if days is not None:
            condition = sa.and_(condition, facts.c.number <= sa.literal(days))
        return sa.exists().where(condition)

    def attribute(self, name):
        return people.c[name]

    def bought(self, selector, days):
        return self._exists(f"bought:{selector.kind}", selector.value, days)

    def in_segment(self, name):
        return self._exists("segment", name)

    def sample(self, fraction, seed):
        return (people.c.id * 7919 + sa.literal(seed_hash(seed))) % 1000 < sa.literal(fraction * 1000)

    def asked(self, intent, days):
        return self._exists("asked", intent, days)

    def has_tag(self, tag):
        return self._exists("tag", tag)

    def orders_in_months(self, months):
        return (sa.select(sa.func.count()).where(facts.c.person_id == people.c.id, facts.c.kind == "month",
                                                 facts.c.number.in_([sa.literal(m) for m in months]))
                .scalar_subquery())

    def custom_attribute(self, name):
        return (sa.select(facts.c.value).where(facts.c.person_id == people.c.id,
                                               facts.c.kind == sa.literal(f"attr:{name}"))
                .scalar_subquery())


def make_people(count: int = 40) -> tuple[list[dict], list[dict]]:
    rnd = random.Random(20240301)
    values = {"number": [None, -1, 0, 1, 2, 2.5, 3, 10, 100.25], "text": [None, "us", "ca", "mx", "", "555", "x'y"],
              "time": [None, *DATA_TIMES], "bool": [None, True, False]}
    rows, fact_rows = [], []
    for pid in range(1, count + 1):
        rows.append({"id": pid, **{name: rnd.choice(values[kind]) for name, kind in ATTRIBUTES.items()}})
        for _ in range(rnd.randint(0, 6)):
            selector_kind = rnd.choice(["sku", "product", "variant", "type", "vendor", "tag", "title"])
            value = rnd.choice(["1", "2"]) if selector_kind in ("product", "variant") else rnd.choice("abc")
            fact_rows.append({"person_id": pid, "kind": f"bought:{selector_kind}", "value": value,
                              "number": rnd.choice([0, 5, 50, 500])})
        for name in ("vip", "loyal", "greet"):
            if rnd.random() < 0.4:
                fact_rows.append({"person_id": pid, "kind": "segment", "value": name, "number": None})
            if rnd.random() < 0.3:
                fact_rows.append({"person_id": pid, "kind": "tag", "value": name, "number": None})
        for intent in ("greet", "human"):
            if rnd.random() < 0.5:
                fact_rows.append({"person_id": pid, "kind": "asked", "value": intent,
                                  "number": rnd.choice([0, 5, 50, 500])})
        for _ in range(rnd.randint(0, 4)):
            fact_rows.append({"person_id": pid, "kind": "month", "value": None, "number": rnd.randint(1, 12)})
        for name, choices in (("interest", ["us", "ca", "x'y", ""]), ("lang", ["mx", "555"])):
            if rnd.random() < 0.6:
                fact_rows.append({"person_id": pid, "kind": f"attr:{name}", "value": rnd.choice(choices),
                                  "number": None})
    return rows, fact_rows


PEOPLE, FACTS = make_people()
FACTS_BY_PERSON: dict[int, list[dict]] = {}
for _fact in FACTS:
    FACTS_BY_PERSON.setdefault(_fact["person_id"], []).append(_fact)


def python_value(node, person: dict):
    tag = node[0]
    if tag == "attr":
        return person[node[1]]
    if tag == "months":
        months = set(node[1])
        return sum(1 for f in FACTS_BY_PERSON.get(person["id"], ()) if f["kind"] == "month" and f["number"] in months)
    if tag == "custom":
        return next((f["value"] for f in FACTS_BY_PERSON.get(person["id"], ()) if f["kind"] == f"attr:{node[1]}"), None)
    raise AssertionError(node)


def has_fact(person: dict, kind: str, value: str, days: int | None = None) -> bool:
    return any(f["kind"] == kind and f["value"] == value and (days is None or f["number"] <= days)
               for f in FACTS_BY_PERSON.get(person["id"], ()))


def python_literal(lit):
    return lit[1]


def compare(op: str, a, b) -> bool:
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def holds(node, person: dict) -> bool:
    """The rule's meaning, written the plain way: an absent value makes any comparison false."""
    tag = node[0]
    if tag == "or":
        return any(holds(child, person) for child in node[1])
    if tag == "and":
        return all(holds(child, person) for child in node[1])
    if tag == "not":
        return not holds(node[1], person)
    if tag == "boolcmp":
        left = holds(node[2], person)
        right = node[3] if isinstance(node[3], bool) else holds(node[3], person)
        return (left == right) if node[1] == "==" else (left != right)
    if tag == "cmp":
        _, op, left, right, _flipped = node
        a, b = python_value(left, person), python_literal(right)
        return a is not None and compare(op, a, b)
    if tag == "in":
        _, left, _family, values, negated = node
        a = python_value(left, person)
        return a is not None and ((a in values) != negated)
    if tag == "bool_attr":
        return bool(person[node[1]])
    if tag == "bought":
        return has_fact(person, f"bought:{node[1]}", node[2], node[3])
    if tag == "in_segment":
        return has_fact(person, "segment", node[1])
    if tag == "sample":
        seed = "default" if node[2] is None else node[2]
        return (person["id"] * 7919 + seed_hash(seed)) % 1000 < node[1] * 1000
    if tag == "asked":
        return has_fact(person, "asked", node[1], node[2])
    if tag == "has_tag":
        return has_fact(person, "tag", node[1])
    return node[1]


@pytest.fixture(scope="module")
def rules_engine(tmp_path_factory):
    pg_url = os.environ.get("WABOT_TEST_DATABASE_URL")
    if pg_url:
        schema = f"t_{uuid.uuid4().hex[:16]}"
        admin = db.make_engine(pg_url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in pg_url else "?"
        engine = db.make_engine(f"{pg_url}{separator}options={url_quote(f'-csearch_path={schema}')}")
    else:
        engine = db.make_engine(f"sqlite:///{tmp_path_factory.mktemp('rules') / 'rules.db'}")
    _data_meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(people.insert(), PEOPLE)
        conn.execute(facts.insert(), FACTS)
    yield engine
    engine.dispose()
    if pg_url:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def members(engine: sa.Engine, expression: sa.ColumnElement) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(people.c.id).where(expression)).scalars())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendered(SEMANTIC))
def test_property_sql_agrees_with_python(rules_engine, case):
    text, tree = case
    expected = {person["id"] for person in PEOPLE if holds(tree, person)}
    assert members(rules_engine, compile_rule(text, TableEnv())) == expected, text


@settings(max_examples=300, deadline=None)
@given(rendered(MARKED))
def test_property_rule_constants_only_reach_sql_as_parameters(case):
    text, _tree = case
    expression = compile_rule(text, TableEnv())
    for dialect in DIALECTS:
        compiled = sa.select(people.c.id).where(expression).compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True})
        sql = str(compiled)
        assert "«" not in sql and "»" not in sql, sql
        assert "987654" not in sql and "98765432123" not in sql and "1987" not in sql, sql


FRAGMENTS = ["(", ")", ",", "==", "!=", "<", "<=", ">", ">=", "=", "-", "and", "or", "not", "in", "true",
             "false", "'", '"', "\\", "bought(", "in_segment(", "sample(", "asked(", "has_tag(",
             "orders_in_months(", "attr(", "days=", "days=0", "days=30", '"sku:A"', '"type:"', "'product:1'",
             "0", "1", "0.5", "1e3", "99999999999999999999", "orders_count", "country", "window_open",
             "last_order_at", '"2024-01-01"', '"0001-01-01T00:00+05:00"', "x", "lambda", ".", "[", "]", "\n",
             "é", "\x00", "\ud800", " "]


@settings(max_examples=1000, deadline=None)
@given(st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=60).map(" ".join),
))
def test_property_random_text_raises_only_rule_errors(text):
    try:
        rule = parse_rule(text)
    except RuleError as error:
        assert 1 <= error.position <= len(text) + 1
        return
    for dialect in DIALECTS:
        str(sa.select(people.c.id).where(compile_rule(rule, TableEnv())).compile(dialect=dialect))


@settings(max_examples=500, deadline=None)
@given(rendered(SEMANTIC), st.data())
def test_property_mutated_rules_raise_only_rule_errors(case, data):
    text = case[0]
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if action == "delete":
            text = text[:at] + text[at + 1:]
        elif action == "insert":
            text = text[:at] + data.draw(st.sampled_from(FRAGMENTS)) + text[at:]
        else:
            text = text[:at] + text[at: at + 20] + text[at:]
    try:
        compile_rule(text, TableEnv())
    except RuleError as error:
        assert 1 <= error.position <= len(text) + 1
