"""The migrations build exactly the tables the code declares (campaign tables included)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.schema import metadata


def test_migrations_match_the_tables(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []
