"""Alembic environment: runs against the engine wabot hands over, or WABOT_DATABASE_URL."""
from __future__ import annotations

import os

from alembic import context

from bot.core import db
from bot.schema import metadata

config = context.config


def _engine():
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("WABOT_DATABASE_URL", db.DEFAULT_DATABASE_URL)
    return db.make_engine(url)


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():  # pragma: no cover - wabot always migrates online
    raise SystemExit("offline migrations are not supported; run `wabot db upgrade`")
run_migrations_online()
