"""The segment rule language: parsing, checking, errors with positions, compilation to SQL."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from segments.rules import (
    ATTRIBUTES,
    MAX_NESTING,
    MAX_RULE_LENGTH,
    And,
    Asked,
    Attribute,
    Bought,
    Comparison,
    CustomAttribute,
    HasTag,
    InSegment,
    Literal,
    Membership,
    Not,
    Or,
    OrdersInMonths,
    Rule,
    RuleError,
    Sample,
    Selector,
    compile_rule,
    parse_rule,
    parse_selector,
)

DIALECTS = (sqlite.dialect(), postgresql.dialect())


def error_of(text: str) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_rule(text)
    return info.value


# --- selectors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind, value", [
    ("sku:ABC-1", "sku", "ABC-1"),
    ("SKU: ABC-1 ", "sku", "ABC-1"),
    ("product:123", "product", "123"),
    ("product:gid://shopify/Product/123", "product", "123"),
    ("variant:0042", "variant", "42"),
    ("type:Cushion Covers", "type", "Cushion Covers"),
    ("vendor:Acme", "vendor", "Acme"),
    ("tag:Summer", "tag", "Summer"),
    ("title:Note: new", "title", "Note: new"),
])
def test_selector_kinds(text, kind, value):
    assert parse_selector(text) == Selector(kind, value)
    assert str(parse_selector(text)) == f"{kind}:{value}"


@pytest.mark.parametrize("text, position, words", [
    ("Cushions", 1, ["needs a kind", "type:"]),
    ("typ:Cushions", 1, ["unknown selector kind 'typ'", "did you mean type?"]),
    ("  vendr:X", 3, ["'vendr'", "did you mean vendor?"]),
    ("sku:", 5, ["nothing after 'sku:'"]),
    ("product:abc", 9, ["numeric Shopify product id", "'abc'"]),
    ("variant:99999999999999999999", 9, ["numeric"]),
    ("product:١٢٣", 9, ["numeric"]),  # Arabic-Indic digits are digits to Python, not to Shopify
])
def test_selector_errors(text, position, words):
    with pytest.raises(RuleError) as info:
        parse_selector(text)
    assert info.value.position == position
    for word in words:
        assert word in str(info.value)


# --- parsing: constructs -------------------------------------------------------------------------

def test_contract_example_parses_to_the_obvious_tree():
    rule = parse_rule('bought("type:Cushions") and not bought("type:Cushion Covers")')
    assert isinstance(rule, Rule) and rule.segments == frozenset()
    tree = rule.expression
    assert isinstance(tree, And)
    assert tree.operands[0] == Bought(Selector("type", "Cushions"), None, 1)
    assert isinstance(tree.operands[1], Not)
    assert tree.operands[1].operand.selector == Selector("type", "Cushion Covers")


def test_precedence_matches_python():
    # not binds looser than comparisons, and tighter than and; and tighter than or
    tree = parse_rule("not orders_count > 1 and window_open or opted_out").expression
    assert isinstance(tree, Or)
    first = tree.operands[0]
    assert isinstance(first, And)
    assert isinstance(first.operands[0], Not) and isinstance(first.operands[0].operand, Comparison)
    assert tree.operands[1] == Attribute("opted_out", 41)


def test_parentheses_override_precedence():
    tree = parse_rule("(window_open or opted_out) and consent").expression
    assert isinstance(tree, And) and isinstance(tree.operands[0], Or)


def test_keywords_are_case_insensitive():
    tree = parse_rule("NOT window_open AND consent Or opted_out == TRUE").expression
    assert isinstance(tree, Or)


def test_every_function():
    rule = parse_rule(
        'bought("sku:A", days=30) and in_segment("vip") and sample(0.25) and sample(1, "spring") '
        'and asked("Order_Status") and asked("human", days=7) and has_tag(" Wholesale ") '
        'and orders_in_months(12, 11, 12) >= 2 and attr(" Interest ") == "outdoors"')
    ops = rule.expression.operands
    assert ops[0] == Bought(Selector("sku", "A"), 30, 1)
    assert ops[1] == InSegment("vip", ops[1].position)
    assert (ops[2].fraction, ops[2].seed) == (0.25, "default")
    assert (ops[3].fraction, ops[3].seed) == (1.0, "spring")
    assert isinstance(ops[4], Asked) and (ops[4].intent, ops[4].days) == ("order_status", None)
    assert (ops[5].intent, ops[5].days) == ("human", 7)
    assert isinstance(ops[6], HasTag) and ops[6].tag == "wholesale"
    assert ops[7].left == OrdersInMonths((11, 12), ops[7].left.position)
    assert ops[8].left == CustomAttribute("interest", ops[8].left.position)
    assert rule.segments == {"vip"}
    assert isinstance(ops[2], Sample)


def test_segments_and_attributes_are_collected():
    rule = parse_rule('in_segment("vip") or in_segment("loyal") and orders_count > 1 and country == "US"')
    assert rule.segments == {"vip", "loyal"}
    assert rule.attributes == {"orders_count", "country"}


@pytest.mark.parametrize("name", sorted(ATTRIBUTES))
def test_every_attribute_is_usable(name):
    example = {"number": f"{name} >= 1", "text": f'{name} == "x"', "time": f'{name} < "2024-01-01"',
               "bool": name}[ATTRIBUTES[name]]
    assert parse_rule(example).attributes == {name}


def test_comparisons_and_literals():
    tree = parse_rule("total_spent >= -1.5").expression
    assert tree == Comparison(">=", Attribute("total_spent", 1), Literal(-1.5, "number", 16), 13)
    tree = parse_rule("3 < orders_count").expression
    assert tree.left == Literal(3, "number", 1)
    assert parse_rule("rfm == '555'").expression.right.value == "555"
    assert parse_rule(r'attr("x") == "say \"hi\" \\ \'"').expression.right.value == 'say "hi" \\ \''


def test_time_literals_become_aware_utc():
    assert parse_rule('last_order_at >= "2024-01-31"').expression.right.value == \
        datetime(2024, 1, 31, tzinfo=timezone.utc)
    assert parse_rule('last_order_at >= "2024-01-31T09:00:00+02:00"').expression.right.value == \
        datetime(2024, 1, 31, 7, tzinfo=timezone.utc)
    assert parse_rule('last_order_at >= "2024-01-31T09:00:00Z"').expression.right.value == \
        datetime(2024, 1, 31, 9, tzinfo=timezone.utc)
    tree = parse_rule('first_order_at in ("2024-01-01", "2024-01-02 10:00")').expression
    assert [v.value.hour for v in tree.values] == [0, 10]
    assert all(v.type == "time" for v in tree.values)


def test_membership():
    tree = parse_rule('country in ("US", "CA",)').expression
    assert isinstance(tree, Membership) and not tree.negated
    assert [v.value for v in tree.values] == ["US", "CA"]
    tree = parse_rule("orders_count not in (1, 2)").expression
    assert tree.negated and [v.value for v in tree.values] == [1, 2]


def test_multiline_rule_reports_line_and_column():
    error = error_of('orders_count >= 1 and\n  countr == "x"')
    assert str(error) == "rule error at line 2, column 3: unknown attribute 'countr' (did you mean country?)"
    assert error.position == 25 and (error.line, error.column) == (2, 3)


# --- parsing: errors name the position and the offending name -----------------------------------

@pytest.mark.parametrize("text, position, words", [
    ("order_count > 1", 1, ["unknown attribute 'order_count'", "did you mean orders_count?"]),
    ("orders_count > 1 and bougth('sku:x')", 22, ["unknown function 'bougth'", "did you mean bought?"]),
    ("vip", 1, ["unknown attribute 'vip'", 'in_segment("vip")']),
    ("orders_count()", 1, ["orders_count is an attribute"]),
    ("bought", 1, ["bought is a function"]),
    ('orders_count > "3"', 16, ["orders_count is a number", "not a string"]),
    ('country == 3', 12, ["country is text", "not a number"]),
    ('last_order_at > 3', 17, ["last_order_at is a time", "ISO 8601"]),
    ('last_order_at > "yesterday"', 17, ["'yesterday' is not an ISO 8601 time"]),
    ('window_open > true', 13, ["only be compared with == or !="]),
    ('window_open == 1', 16, ["window_open is yes/no"]),
    ('orders_count == last_order_at', 14, ["orders_count is a number", "last_order_at is a time"]),
    ("1 == 1", 3, ["two constants"]),
    ("orders_count", 1, ["orders_count is a number, not a condition"]),
    ('country and window_open', 1, ["country is text, not a condition"]),
    ("not 3", 5, ["a number is not a condition"]),
    ("1 < orders_count < 5", 18, ["chained comparisons"]),
    ("country in ('US') == true", 19, ["chained comparisons"]),
    ("orders_count = 3", 14, ["use =="]),
    ("orders_count <> 3", 14, ["'<>'", "!="]),
    ("window_open && consent", 13, ["'&&'", "use 'and'"]),
    ("window_open || consent", 13, ["'||'", "use 'or'"]),
    ("!window_open", 1, ["'!'", "use 'not'"]),
    ("customer.orders_count > 1", 1, ["unknown attribute 'customer'"]),
    ("orders_count.real > 1", 13, ["'.'", "attribute access"]),
    ("tags[0] == 'x'", 5, ["'['", "subscripts"]),
    ("lambda: window_open", 1, ["'lambda'"]),
    ('f"x" == country', 1, ["'f'", "string prefixes"]),
    ("orders_count := 3", 14, ["':='"]),
    ("orders_count + 1 > 2", 14, ["'+'", "arithmetic"]),
    ("orders_count > 1 - 1", 18, ["'-'"]),
    ("x is None", 1, ["unknown attribute 'x'"]),
    ("country is 'US'", 9, ["'is'", "use == or !="]),
    ("orders_count > null", 16, ["'null'"]),
    ("window_open window_open", 13, ["unexpected 'window_open'", "'and' or 'or'"]),
    ("(window_open", 13, ["expected ')'", "column 1"]),
    ("window_open)", 12, ["')' without a matching '('"]),
    ("window_open and", 16, ["ends where a condition"]),
    ("", 1, ["empty"]),
    ("   ", 1, ["empty"]),
    ("country == 'US", 12, ["unterminated string"]),
    ("country == 'U\nS'", 12, ["unterminated string"]),
    (r"country == 'U\S'", 14, ["unsupported escape"]),
    ("country == 'U\x00S'", 14, ["control character U+0000"]),
    ("orders_count > 3d", 16, ["malformed number '3d'"]),
    ("orders_count > 1.2.3", 16, ["malformed number"]),
    ("orders_count > 99999999999999999", 16, ["too large"]),
    ("orders_count > ١", 16, ["unexpected character '١'"]),
    ("country in ()", 13, ["at least one value"]),
    ("country in ('US', orders_count)", 19, ["expected a list of values"]),
    ("country not window_open", 9, ["unexpected 'not'"]),
    ("3 in (1, 2)", 1, ["'in' needs an attribute"]),
    ("window_open in (true)", 13, ["window_open is yes/no"]),
    ('bought()', 8, ["bought() needs a product selector"]),
    ('bought(sku)', 8, ["put 'sku' in quotes"]),
    ('bought("sku:A", 30)', 17, ["takes 1 argument", "days=N"]),
    ('bought("sku:A", day=30)', 17, ["keyword argument 'day'", "did you mean days?"]),
    ('bought("sku:A", days=0)', 22, ["days= takes a whole number"]),
    ('bought("sku:A", days=1.5)', 22, ["days= takes a whole number"]),
    ('bought("sku:A", days=30, days=2)', 26, ["given twice"]),
    ('bought(days=3, "sku:A")', 16, ["put days= last"]),
    ('bought("sku:A" days=3)', 16, ["expected ')'"]),
    ('bought(1)', 8, ["not a number"]),
    ('bought("typ:A")', 9, ["unknown selector kind 'typ'", "did you mean type?"]),
    ('bought("product:x1")', 17, ["numeric Shopify product id"]),
    ('bought("sku:")', 13, ["nothing after"]),
    ('in_segment("")', 12, ["not an empty string"]),
    ('in_segment("a", "b")', 17, ["takes 1 argument"]),
    ('sample(0)', 8, ["fraction above 0"]),
    ('sample(1.5)', 8, ["fraction above 0"]),
    ('sample("x")', 8, ["not a string"]),
    ('sample(0.1, seed="x")', 13, ["no keyword argument 'seed'"]),
    ('sample(0.1, 3)', 13, ["not a number"]),
    ('asked("greet", days=-1)', 21, ["days= takes a whole number"]),
    ('has_tag()', 9, ["needs a customer tag"]),
    ('orders_in_months() > 1', 18, ["at least one month"]),
    ('orders_in_months(13) > 1', 18, ["month numbers from 1 to 12"]),
    ('orders_in_months(1.5) > 1', 18, ["month numbers from 1 to 12"]),
    ('orders_in_months(1)', 1, ["orders_in_months(1) is a number, not a condition"]),
    ('attr("x")', 1, ["attr('x') is text, not a condition"]),
    ('attr("x") > 3', 13, ["attr('x') is text"]),
    ('attr(x) == "y"', 6, ["put 'x' in quotes"]),
])
def test_errors(text, position, words):
    error = error_of(text)
    assert error.position == position, str(error)
    assert str(error).startswith(f"rule error at column {position}: ")
    for word in words:
        assert word in str(error)


def test_limits():
    assert "too long" in str(error_of("window_open or " * 1000 + "consent"))
    deep = "(" * (MAX_NESTING + 1) + "window_open" + ")" * (MAX_NESTING + 1)
    assert "nests too deeply" in str(error_of(deep))
    assert "nests too deeply" in str(error_of("not " * (MAX_NESTING + 1) + "window_open"))
    ok = "(" * MAX_NESTING + "window_open" + ")" * MAX_NESTING
    assert parse_rule(ok).attributes == {"window_open"}
    long_flat = " or ".join(["window_open"] * ((MAX_RULE_LENGTH - 20) // 15))
    assert len(parse_rule(long_flat).expression.operands) > 600


def test_parse_rule_rejects_non_text():
    with pytest.raises(RuleError):
        parse_rule(None)  # type: ignore[arg-type]


# --- compilation ---------------------------------------------------------------------------------

_meta = sa.MetaData()
_customers = sa.Table(
    "customers", _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    *(sa.Column(name, {"number": sa.Float, "text": sa.String, "time": sa.DateTime, "bool": sa.Boolean}[kind])
      for name, kind in ATTRIBUTES.items()),
)
_facts = sa.Table("facts", _meta, sa.Column("customer_id", sa.Integer), sa.Column("kind", sa.String),
                  sa.Column("value", sa.String), sa.Column("days", sa.Integer))


class RecordingEnv:
    """Columns of one table; records the calls so tests can see what the compiler asked for."""

    def __init__(self):
        self.calls: list[tuple] = []

    def _fact(self, kind: str, value: str, days: int | None = None) -> sa.ColumnElement:
        condition = sa.and_(_facts.c.customer_id == _customers.c.id, _facts.c.kind == sa.literal(kind),
                            _facts.c.value == sa.literal(value))
        if days is not None:
            condition = sa.and_(condition, _facts.c.days <= sa.literal(days))
        return sa.exists().where(condition)

    def attribute(self, name):
        self.calls.append(("attribute", name))
        return _customers.c[name]

    def bought(self, selector, days):
        self.calls.append(("bought", selector, days))
        return self._fact(selector.kind, selector.value, days)

    def in_segment(self, name):
        self.calls.append(("in_segment", name))
        return self._fact("segment", name)

    def sample(self, fraction, seed):
        self.calls.append(("sample", fraction, seed))
        return (_customers.c.id % 100) < sa.literal(fraction * 100)

    def asked(self, intent, days):
        self.calls.append(("asked", intent, days))
        return self._fact("asked", intent, days)

    def has_tag(self, tag):
        self.calls.append(("has_tag", tag))
        return self._fact("tag", tag)

    def orders_in_months(self, months):
        self.calls.append(("orders_in_months", months))
        return sa.select(sa.func.count()).where(_facts.c.customer_id == _customers.c.id,
                                                _facts.c.kind == "month",
                                                _facts.c.days.in_(list(months))).scalar_subquery()

    def custom_attribute(self, name):
        self.calls.append(("custom_attribute", name))
        return sa.select(_facts.c.value).where(_facts.c.customer_id == _customers.c.id, _facts.c.kind == "attr",
                                               _facts.c.days == sa.literal(len(name))).scalar_subquery()


def sql_of(expression: sa.ColumnElement, dialect) -> tuple[str, dict]:
    compiled = sa.select(_customers.c.id).where(expression).compile(
        dialect=dialect, compile_kwargs={"render_postcompile": True})
    return str(compiled), compiled.params


def test_compile_calls_the_env_with_parsed_arguments():
    env = RecordingEnv()
    compile_rule('bought("type:Dog Food", days=28) and not in_segment("vip") and sample(0.1, "s") '
                 'and asked("greet") and has_tag("VIP") and orders_in_months(3) > 0 and attr("Lang") == "es" '
                 'and country == "US"', env)
    assert env.calls == [("bought", Selector("type", "Dog Food"), 28), ("in_segment", "vip"),
                         ("sample", 0.1, "s"), ("asked", "greet", None), ("has_tag", "vip"),
                         ("orders_in_months", (3,)), ("custom_attribute", "lang"), ("attribute", "country")]


def test_compile_accepts_a_parsed_rule():
    rule = parse_rule("orders_count >= 2")
    for dialect in DIALECTS:
        assert sql_of(compile_rule(rule, RecordingEnv()), dialect) == \
            sql_of(compile_rule("orders_count >= 2", RecordingEnv()), dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_literals_are_bound_parameters(dialect):
    text = ("country in ('Robert''); DROP TABLE customers;--', \"x\") and city == 'O''Brien' "
            "and total_spent > 12.5 and last_order_at > '2024-01-01' and bought(\"sku:ZZ-9\")")
    text = text.replace("''", "\\'")
    sql, params = sql_of(compile_rule(text, RecordingEnv()), dialect)
    assert "DROP" not in sql and "Brien" not in sql and "12.5" not in sql and "2024" not in sql
    assert "ZZ-9" not in sql
    values = set(params.values())
    assert {"Robert'); DROP TABLE customers;--", "O'Brien", 12.5, "ZZ-9"} <= values
    assert datetime(2024, 1, 1, tzinfo=timezone.utc) in values


def test_unknown_segment_is_named_with_a_suggestion():
    with pytest.raises(RuleError) as info:
        compile_rule('window_open and in_segment("vipp")', RecordingEnv(), known_segments={"vip", "loyal"})
    assert info.value.position == 28
    assert "unknown segment 'vipp' (did you mean vip?)" in str(info.value)
    compile_rule('in_segment("vip")', RecordingEnv(), known_segments=["vip"])


@pytest.mark.parametrize("text", [
    "(" * 100_000, "not " * 100_000 + "window_open", "-" * 100_000, "'" + "a" * 1_000_000,
    "window_open and " * 1_000_000, "orders_in_months(" + "1," * 50_000 + ") > 1",
    "1" * 5000, "country in (" + "'a'," * 100_000 + ")",
])
def test_hostile_inputs_fail_cleanly(text):
    with pytest.raises(RuleError):
        parse_rule(text)


def test_unknown_segment_position_with_spaces():
    with pytest.raises(RuleError) as info:
        compile_rule('in_segment ( "x")', RecordingEnv(), known_segments=())
    assert info.value.position == 14 and "unknown segment 'x'" in str(info.value)
