"""Properties in SQL: percentiles equal the documented method (numpy's "linear") on both databases;
sample positions agree between SQL and Python; whole days between two times."""
from __future__ import annotations

import functools
import operator
import string
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.tables import UTCDateTime
from segments.attributes import percentiles, percentiles_py
from segments.sqlutil import concat_text, ensure_functions, sample_point, sample_point_py, whole_days_between
from tests.support import storegen

values_lists = st.lists(st.integers(0, 500_000).map(lambda cents: cents / 100), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=values_lists, qs=st.lists(st.sampled_from([0.0, 0.2, 0.33, 0.5, 0.67, 0.9, 1.0]), min_size=1,
                                          max_size=3))
def test_sql_percentiles_follow_the_documented_method(engine, values, qs):
    table = sa.Table("pct_values", sa.MetaData(), sa.Column("v", sa.Float))
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        conn.execute(sa.insert(table), [{"v": v} for v in values])
        got = percentiles(conn, sa.select(table.c.v), qs)
        table.drop(conn)
    assert got == percentiles_py(values, qs) == [storegen.percentile(values, q) for q in qs]


@pytest.mark.parametrize("values, q, expected", [  # numpy.percentile(values, 100 * q), method "linear"
    ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),
    ([15.0, 20.0, 35.0, 40.0, 50.0], 0.33, 24.8),
    ([15.0, 20.0, 35.0, 40.0, 50.0], 0.67, 38.4),
    ([5.0], 0.9, 5.0),
    ([3.0, 1.0, 2.0, 2.0, 2.0, 9.0], 0.5, 2.0),
    ([10.0, 20.0], 0.0, 10.0),
    ([10.0, 20.0], 1.0, 20.0),
])
def test_percentiles_match_numpy(engine, values, q, expected):
    table = sa.Table("pct_fixed", sa.MetaData(), sa.Column("v", sa.Float))
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(sa.insert(table), [{"v": v} for v in values])
        assert percentiles(conn, sa.select(table.c.v), [q]) == pytest.approx([expected], abs=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.text(string.digits, min_size=8, max_size=15), min_size=1, max_size=20),
       seed=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=10))  # as rules allow
def test_sample_positions_agree_between_sql_and_python(engine, keys, seed):
    with engine.connect() as conn:
        ensure_functions(conn)
        for key in keys:
            got = conn.execute(sa.select(sample_point(sa.cast(sa.literal(seed), sa.Text),
                                                      sa.cast(sa.literal(key), sa.Text)))).scalar()
            assert got == sample_point_py(seed, key)


@pytest.mark.parametrize("start, end, days", [
    (datetime(2026, 1, 1, 12, tzinfo=timezone.utc), datetime(2026, 7, 1, 12, tzinfo=timezone.utc), 181),
    (datetime(2026, 1, 1, 12, tzinfo=timezone.utc), datetime(2026, 6, 30, 11, 59, 59, 998000, tzinfo=timezone.utc), 179),
    (datetime(2026, 3, 1, 0, tzinfo=timezone.utc), datetime(2026, 3, 1, 23, 59, tzinfo=timezone.utc), 0),
])
def test_whole_days(engine, start, end, days):
    with engine.connect() as conn:
        assert conn.execute(sa.select(whole_days_between(sa.literal(start, UTCDateTime()),
                                                         sa.literal(end, UTCDateTime())))).scalar() == days


facts = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.text(st.characters(
    blacklist_categories=("Cc", "Cs")), max_size=8), st.datetimes(timezones=st.just(timezone.utc)))


def _literal(value) -> sa.ColumnElement:
    if isinstance(value, datetime):
        return sa.literal(value, UTCDateTime())
    if isinstance(value, bool):
        return sa.literal(value, sa.Boolean())
    if isinstance(value, int):
        return sa.literal(value, sa.BigInteger())
    return sa.literal(value, sa.String())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(facts, min_size=1, max_size=120))  # past the 50 pieces of one call
def test_concat_text_spells_pieces_as_the_concatenation_operator_did(engine, values):
    """The refresh's signature (segments/engine.py) moved from `||` over COALESCE(CAST(..), '') to one
    concat_text call: the same text for every kind of fact, so stored signatures stay valid."""
    pieces = [sa.cast(_literal(v), sa.String) for v in values]
    before = functools.reduce(operator.add, [sa.type_coerce(sa.func.coalesce(p, sa.literal_column("''")), sa.String)
                                             for p in pieces])
    with engine.connect() as conn:
        old, new = conn.execute(sa.select(before, concat_text(pieces))).one()
    assert new == old
