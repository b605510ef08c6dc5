"""Every table of the product on one MetaData, for migrations and for tests that compare schemas."""
import bot.automations.tables  # (cash-on-delivery confirmations)
import bot.campaigns.tables  # noqa: F401  (campaign runs, ledger, scheduler tables)
import segments.tables  # noqa: F401  (registers the order-side tables)
from bot.core.tables import metadata

__all__ = ["metadata"]
