"""SQL pieces that SQLite and PostgreSQL spell differently, written once.

Each helper compiles to the native form of the connection's dialect, so the segment engine can be
written as plain SQLAlchemy Core and give identical results on both databases.
"""
from __future__ import annotations

import contextlib
import hashlib
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


def insert_from_select_ignoring(conn: Connection, table: sa.Table, columns: list[str], select: sa.Select,
                                index_elements: list[str]) -> None:
    """INSERT INTO table (columns) SELECT ... skipping rows whose key is already there."""
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(table).from_select(columns, select).on_conflict_do_nothing(
            index_elements=index_elements)
    else:
        stmt = sa.insert(table).prefix_with("OR IGNORE").from_select(columns, select)
    conn.execute(stmt)


def dialect_function(name: str, type_: sa.types.TypeEngine, doc: str, **templates: str) -> type[FunctionElement]:
    """A SQL function element written once per dialect: in each template `{0}`, `{1}`... are the
    compiled arguments and `{all}` all of them joined by commas."""
    element = type(name, (FunctionElement,), {"type": type_, "inherit_cache": True, "name": name, "__doc__": doc})

    def compiler_for(template: str):
        def compile_(element, compiler, **kw):
            args = [compiler.process(clause, **kw) for clause in element.clauses]
            return template.format(*args, all=", ".join(args))
        return compile_

    for dialect, template in templates.items():
        compiles(element, dialect)(compiler_for(template))
    return element


whole_days_between = dialect_function(
    "whole_days_between", sa.Integer(),
    "Whole days from `start` to `end` (two UTC timestamps), rounded down, to the millisecond exact.",
    # julianday() is a float; rounding the difference to whole milliseconds first makes exact
    # multiples of a day come out exact.
    sqlite="(CAST(ROUND((julianday({1}) - julianday({0})) * 86400000.0) AS INTEGER) / 86400000)",
    postgresql="CAST(FLOOR(EXTRACT(EPOCH FROM ({1} - {0})) / 86400) AS INTEGER)",
)

iso_utc = dialect_function(
    "iso_utc", sa.String(), "A UTC timestamp as ISO 8601 text ending in Z (for the JSON reasons), or NULL.",
    sqlite="strftime('%Y-%m-%dT%H:%M:%SZ', {0})",
    postgresql="to_char({0}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
)

json_object = dialect_function(
    "json_object", sa.JSON(), "A JSON object from alternating keys and values, built by the database.",
    sqlite="json_object({all})",
    postgresql="jsonb_build_object({all})",
)

json_bool = dialect_function(
    "json_bool", sa.JSON(), "A boolean as a JSON true/false (SQLite would otherwise store 1/0).",
    sqlite="(CASE WHEN {0} THEN json('true') WHEN NOT {0} THEN json('false') END)",
    postgresql="{0}",
)

as_float = dialect_function(
    "as_float", sa.Float(),
    "A number as a double: IEEE arithmetic on both databases, so ratios come out bit-identical.",
    sqlite="CAST({0} AS REAL)",
    postgresql="CAST({0} AS DOUBLE PRECISION)",
)

sample_point = dialect_function(
    "wabot_sample_point", sa.Float(),
    "A customer's stable position in [0, 1) for a seed: the first 32 bits of md5(seed \":\" key). "
    "Depends only on the seed and the key, so a sample keeps its members as the audience grows.",
    sqlite="wabot_sample_point({all})",  # a Python function registered per connection (ensure_functions)
    postgresql="(CAST((CAST(CAST(('x' || substr(md5({0} || ':' || {1}), 1, 8)) AS bit(32)) AS BIGINT) & 4294967295)"
               " AS DOUBLE PRECISION) / CAST(4294967296 AS DOUBLE PRECISION))",
)

sorted_text_agg = dialect_function(
    "sorted_text_agg", sa.String(), "The values of a text column joined by commas, in alphabetical order.",
    # SQLite before 3.44 has no ORDER BY inside aggregates; the callers read one customer's tags
    # through the (customer_id, tag) primary key, which yields them in order.
    sqlite="group_concat({0}, ',')",
    postgresql="string_agg({0}, ',' ORDER BY {0})",
)


class _ConcatText(FunctionElement):
    """Text pieces joined in one function call (see `concat_text`)."""

    type = sa.String()
    inherit_cache = True
    name = "wabot_concat_text"


@compiles(_ConcatText, "sqlite")
def _concat_sqlite(element, compiler, **kw):  # SQLite before 3.44 has no concat(); printf('%s') is the same
    args = [compiler.process(clause, **kw) for clause in element.clauses]
    return f"printf('{'%s' * len(args)}', {', '.join(args)})"


@compiles(_ConcatText, "postgresql")
def _concat_postgresql(element, compiler, **kw):
    return f"concat({', '.join(compiler.process(clause, **kw) for clause in element.clauses)})"


CONCAT_CHUNK = 50  # both databases take at most 100 arguments to a function


def concat_text(pieces: list) -> sa.ColumnElement:
    """Text pieces joined into one string, a NULL piece counting as empty: one function call per 50
    pieces rather than one `||` (one new string) per piece: on SQLite this halves the cost of the
    refresh's per-customer signature, on PostgreSQL it is the same (docs/performance.md). Pieces
    should be text already (CAST them):
    PostgreSQL's concat() spells a boolean 't' where CAST spells 'true'."""
    calls = [_ConcatText(*pieces[i:i + CONCAT_CHUNK]) for i in range(0, len(pieces), CONCAT_CHUNK)]
    out = calls[0]
    for call in calls[1:]:
        out = sa.type_coerce(out, sa.String) + sa.type_coerce(call, sa.String)
    return out


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
