"""Engine creation, transactions and schema upgrades for SQLite and PostgreSQL alike."""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.core.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///wabot.db"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Point plain postgresql:// URLs at psycopg 3, the driver installed with the package."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# The URL schemes wabot runs on: SQLite (the standard library's driver) and PostgreSQL through
# psycopg 3, the driver installed with the package. Anything else is refused before a driver is
# imported, so a MySQL or psycopg2 URL is one line, not an ImportError's traceback.
SUPPORTED_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")
SUPPORTED = "SQLite (sqlite:///wabot.db) or PostgreSQL (postgresql://user@host/db, driven by psycopg 3)"


def check_url(url: str) -> None:
    """Raise ConfigError, naming what is supported, for a URL of another database or driver. The
    message names the URL's scheme only: the rest may hold a password."""
    scheme, sep, _ = url.strip().partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        raise ConfigError(f"WABOT_DATABASE_URL is not a database URL; use {SUPPORTED}")
    if scheme in SUPPORTED_SCHEMES:
        return
    backend, _, driver = scheme.partition("+")
    if backend in ("postgresql", "postgres") and driver:
        raise ConfigError(f"WABOT_DATABASE_URL: {scheme}:// names the {driver} driver, which wabot does not use; "
                          f"write postgresql://... (psycopg 3, installed with wabot)")
    raise ConfigError(f"WABOT_DATABASE_URL: {scheme}:// is not supported; use {SUPPORTED}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    check_url(url)
    try:
        engine = sa.create_engine(normalise_url(url), **_engine_options(url), **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigError(f"WABOT_DATABASE_URL: {exc}") from None
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return engine


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # One file shared by HTTP threads, the worker and the sender: threads must share connections.
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


# One lock per SQLite file, shared by every engine of the process. SQLite admits one writer at a
# time; left to itself, a waiting writer polls with sleeps of 1 to 100 ms (its busy handler), which
# caps a busy webhook at a few hundred requests a second, and far less with several processes
# (`wabot serve`'s HTTP workers and its background process). Writers therefore queue first on a
# mutex of their process, then on an flock of a file beside the database, which the kernel hands
# to the next process in microseconds; busy_timeout is left for writers that do not take it.
_write_locks: dict[str, "WriteLock"] = {}
_write_locks_guard = threading.Lock()


class WriteLock:
    """Reentrant across the threads of a process, exclusive across processes (flock)."""

    def __init__(self, database: str):
        self._path = database + ".wabot-lock" if database != ":memory:" else None
        self._mutex = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def acquire(self) -> None:
        self._mutex.acquire()
        try:
            self._depth += 1
            if self._depth == 1 and self._path is not None:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._depth -= 1
            self._mutex.release()
            raise

    def release(self) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own (flock is per open file)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


def _write_lock(database: str) -> WriteLock:
    with _write_locks_guard:
        path = os.path.abspath(database) if database != ":memory:" else database
        return _write_locks.setdefault(path, WriteLock(path))


def _tune_sqlite(engine: Engine) -> None:
    lock = _write_lock(engine.url.database or ":memory:")
    holders: dict[int, bool] = {}

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # pysqlite's own transaction handling starts transactions lazily, which lets two writers
        # deadlock on lock upgrade; we take over and BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front so they queue instead of failing on lock upgrade;
        # read-only work (pages, refresh queries) must not block the webhook's inserts.
        raw = conn.connection.dbapi_connection
        if conn.get_execution_options().get("readonly"):
            raw.execute("BEGIN")
            return
        lock.acquire()
        try:
            raw.execute("BEGIN IMMEDIATE")
        except BaseException:
            lock.release()
            raise
        holders[id(raw)] = True

    dialect = engine.dialect

    def _releasing(finish):
        def wrapped(connection):
            # SQLAlchemy hands over the pool's proxy or the raw DBAPI connection, depending on the path
            raw = getattr(connection, "dbapi_connection", connection)
            try:
                finish(connection)
            finally:
                if holders.pop(id(raw), False):
                    lock.release()
        return wrapped

    dialect.do_commit = _releasing(dialect.do_commit)
    dialect.do_rollback = _releasing(dialect.do_rollback)


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A transaction that only reads: on SQLite it does not take the write lock."""
    with engine.connect() as conn:
        conn = conn.execution_options(readonly=True)
        with conn.begin():
            yield conn


def dialect_insert(conn: Connection, table: sa.Table):
    """The INSERT construct of the connection's dialect, which knows ON CONFLICT."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise ConfigError(f"unsupported database dialect {conn.dialect.name}")  # pragma: no cover


def insert_ignoring_conflicts(conn: Connection, table: sa.Table, rows: list[dict], index_elements: list[str],
                              returning: sa.Column | tuple[sa.Column, ...] | None = None):
    """INSERT ... ON CONFLICT DO NOTHING in the connection's dialect; with `returning`, the result
    yields that column (or those columns) of the rows actually inserted."""
    if not rows:
        return []
    columns = () if returning is None else returning if isinstance(returning, tuple) else (returning,)
    key = ("nothing", conn.dialect.name, table, tuple(index_elements), tuple(c.key for c in columns))
    stmt = _BUILT.get(key)
    if stmt is None:
        stmt = dialect_insert(conn, table).on_conflict_do_nothing(index_elements=index_elements)
        if columns:
            stmt = stmt.returning(*columns)
        _BUILT[key] = stmt
    return conn.execute(stmt, rows)


# Statements built once and reused: the inbound worker inserts and upserts on every message, and
# building a statement costs several times executing a built one (docs/performance.md).
_BUILT: dict[tuple, sa.sql.Executable] = {}


def upsert(conn: Connection, table: sa.Table, rows: list[dict], index_elements: list[str],
           update_columns: list[str]):
    """INSERT ... ON CONFLICT DO UPDATE of the named columns from the proposed row."""
    if not rows:
        return None
    key = ("update", conn.dialect.name, table, tuple(index_elements), tuple(update_columns))
    stmt = _BUILT.get(key)
    if stmt is None:
        stmt = dialect_insert(conn, table)
        stmt = _BUILT[key] = stmt.on_conflict_do_update(
            index_elements=index_elements,
            set_={name: stmt.excluded[name] for name in update_columns},
        )
    return conn.execute(stmt, rows)


def alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser would read "%" in a URL (e.g. an encoded search_path option) as interpolation
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except sa.exc.SQLAlchemyError:
        return False


def accepts_write(engine: Engine, now: datetime, timeout: float = 2.0) -> bool:
    """The database takes a small write within `timeout` seconds (a full disk, a read-only
    replica, a lock held too long all say no). The write runs on its own thread, so a database
    that hangs cannot hang the caller."""
    from bot.core.tables import health_checks

    done = threading.Event()
    outcome: list[bool] = []

    def write() -> None:
        try:
            with engine.begin() as conn:
                upsert(conn, health_checks, [{"id": 1, "checked_at": now}], ["id"], ["checked_at"])
            outcome.append(True)
        except Exception:  # any failure to write is the answer, not an error of the check
            outcome.append(False)
        finally:
            done.set()

    threading.Thread(target=write, name="wabot-healthz", daemon=True).start()
    return done.wait(timeout) and outcome == [True]


CHUNK = 500  # values per IN (...) list: well under every driver's parameter limit (SQLite: 32,766)


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """`items` in lists of at most `size`, for IN (...) lists and batched inserts."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
