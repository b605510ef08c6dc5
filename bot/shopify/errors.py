"""The Admin API's failures by meaning, each one line for the operator (the CLI prints WabotError
as `wabot: error: ...`). A message never carries the access token."""
from __future__ import annotations

from bot.core.errors import WabotError


class ShopifyError(WabotError):
    """Shopify refused, or could not be reached, and trying again will not help (or did not)."""


class ShopifyAuthError(ShopifyError):
    """401/403: the token is wrong, revoked, or lacks a scope."""


class ShopifyAddressError(ShopifyError):
    """No Admin API where we looked: an unknown shop, host or API version (404, a redirect, DNS)."""


class ShopifyQueryError(ShopifyError):
    """The GraphQL `errors` of an answer (a field our query names that the version lacks, ...)."""

    def __init__(self, message: str, codes: tuple[str, ...] = ()):
        super().__init__(message)
        self.codes = codes


class QueryTooCostly(ShopifyQueryError):
    """MAX_COST_EXCEEDED: the requested cost is over the single-query limit; ask for fewer nodes."""

    def __init__(self, message: str, requested: float | None):
        super().__init__(message, ("MAX_COST_EXCEEDED",))
        self.requested = requested


class ShopifyUserError(ShopifyError):
    """A mutation's `userErrors`: Shopify understood the request and said no."""


class ShopifyUnavailable(ShopifyError):
    """429, 5xx or the network, still failing after every retry."""
