"""Every table of the product on one MetaData, for migrations and for tests that compare schemas."""
from bot.models import metadata

__all__ = ["metadata"]
