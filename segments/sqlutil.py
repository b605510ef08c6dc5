"""SQL pieces that SQLite and PostgreSQL spell differently, written once.

Each helper compiles to the native form of the connection's dialect, so the segment engine can be
written as plain SQLAlchemy Core and give identical results on both databases.
"""
from __future__ import annotations

import contextlib
import hashlib
from typing import Iterable, Iterator, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

T = TypeVar("T")

CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


def chunks(items: Sequence[T] | Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def dialect_insert(conn: Connection, table: sa.Table):
    """INSERT with ON CONFLICT clauses, in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_from_select_ignoring(conn: Connection, table: sa.Table, columns: list[str], select: sa.Select,
                                index_elements: list[str]) -> None:
    """INSERT INTO table (columns) SELECT ... skipping rows whose key is already there."""
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(table).from_select(columns, select).on_conflict_do_nothing(
            index_elements=index_elements)
    else:
        stmt = sa.insert(table).prefix_with("OR IGNORE").from_select(columns, select)
    conn.execute(stmt)


class whole_days_between(FunctionElement):
    """Whole days from `start` to `end` (two UTC timestamps), rounded down, to the millisecond exact."""

    type = sa.Integer()
    inherit_cache = True
    name = "whole_days_between"


@compiles(whole_days_between, "sqlite")
def _days_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    start, end = list(element.clauses)
    # julianday() is a float; rounding the difference to whole milliseconds first makes exact
    # multiples of a day come out exact.
    return (f"(CAST(ROUND((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
            f" * 86400000.0) AS INTEGER) / 86400000)")


@compiles(whole_days_between, "postgresql")
def _days_pg(element, compiler, **kw):  # noqa: ANN001, ANN202
    start, end = list(element.clauses)
    return (f"CAST(FLOOR(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"
            f" / 86400) AS INTEGER)")


class iso_utc(FunctionElement):
    """A UTC timestamp as ISO 8601 text ending in Z (for the JSON reasons), or NULL."""

    type = sa.String()
    inherit_cache = True
    name = "iso_utc"


@compiles(iso_utc, "sqlite")
def _iso_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {compiler.process(list(element.clauses)[0], **kw)})"


@compiles(iso_utc, "postgresql")
def _iso_pg(element, compiler, **kw):  # noqa: ANN001, ANN202
    return f"to_char({compiler.process(list(element.clauses)[0], **kw)}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


class json_object(FunctionElement):
    """A JSON object from alternating keys and values, built by the database."""

    type = sa.JSON()
    inherit_cache = True
    name = "json_object"


@compiles(json_object, "sqlite")
def _json_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_pg(element, compiler, **kw):  # noqa: ANN001, ANN202
    return f"jsonb_build_object({compiler.process(element.clauses, **kw)})"


class as_float(FunctionElement):
    """A number as a double: IEEE arithmetic on both databases, so ratios come out bit-identical."""

    type = sa.Float()
    inherit_cache = True
    name = "as_float"


@compiles(as_float, "sqlite")
def _float_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    return f"CAST({compiler.process(list(element.clauses)[0], **kw)} AS REAL)"


@compiles(as_float, "postgresql")
def _float_pg(element, compiler, **kw):  # noqa: ANN001, ANN202
    return f"CAST({compiler.process(list(element.clauses)[0], **kw)} AS DOUBLE PRECISION)"


class sample_point(FunctionElement):
    """A customer's stable position in [0, 1) for a seed: the first 32 bits of md5(seed ":" key).
    Depends only on the seed and the key, so a sample keeps its members as the audience grows."""

    type = sa.Float()
    inherit_cache = True
    name = "wabot_sample_point"


@compiles(sample_point, "sqlite")
def _sample_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    return f"wabot_sample_point({compiler.process(element.clauses, **kw)})"  # registered per connection


@compiles(sample_point, "postgresql")
def _sample_pg(element, compiler, **kw):  # noqa: ANN001, ANN202
    seed, key = list(element.clauses)
    digest = f"md5({compiler.process(seed, **kw)} || ':' || {compiler.process(key, **kw)})"
    return (f"(CAST((CAST(CAST(('x' || substr({digest}, 1, 8)) AS bit(32)) AS BIGINT) & 4294967295)"
            f" AS DOUBLE PRECISION) / CAST(4294967296 AS DOUBLE PRECISION))")


def sample_point_py(seed: str, key: str | None) -> float | None:
    """The same position computed in Python (SQLite's implementation, and tests)."""
    if key is None or seed is None:
        return None
    return int(hashlib.md5(f"{seed}:{key}".encode()).hexdigest()[:8], 16) / 4294967296.0


def ensure_functions(conn: Connection) -> None:
    """Register the Python-side SQL functions SQLite lacks on this connection (idempotent)."""
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    if getattr(raw, "_wabot_functions", False):
        return
    raw.create_function("wabot_sample_point", 2, sample_point_py, deterministic=True)
    try:
        raw._wabot_functions = True  # type: ignore[attr-defined]
    except AttributeError:  # the C connection class takes no attributes: registering again is cheap
        pass


BULK_CACHE_KIB = 262144  # 256 MiB


@contextlib.contextmanager
def bulk_page_cache(conn: Connection) -> Iterator[None]:
    """A large SQLite page cache for one bulk job on this connection (SQLite's default is 2 MiB:
    far too small for indexes of millions of rows), back to the default afterwards so pooled
    connections do not keep it."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection  # outside SQLAlchemy's transaction: a PRAGMA is no statement of it
    previous = raw.execute("PRAGMA cache_size").fetchone()[0]
    raw.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size = {int(previous)}")


class sorted_text_agg(FunctionElement):
    """The values of a text column joined by commas, in alphabetical order."""

    type = sa.String()
    inherit_cache = True
    name = "sorted_text_agg"


@compiles(sorted_text_agg, "sqlite")
def _agg_sqlite(element, compiler, **kw):  # noqa: ANN001, ANN202
    # SQLite before 3.44 has no ORDER BY inside aggregates; the callers read one customer's tags
    # through the (customer_id, tag) primary key, which yields them in order.
    return f"group_concat({compiler.process(list(element.clauses)[0], **kw)}, ',')"


@compiles(sorted_text_agg, "postgresql")
def _agg_pg(element, compiler, **kw):  # noqa: ANN001, ANN202
    column = compiler.process(list(element.clauses)[0], **kw)
    return f"string_agg({column}, ',' ORDER BY {column})"
