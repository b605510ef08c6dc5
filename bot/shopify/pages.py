"""Paginated queries: the nodes changed since a time (`--since`), or named by id (those a bulk
export left incomplete), a page at a time.

A page asks for as many nodes as fit within the single-query cost limit (and the bucket): the
first page's requested cost says what one node costs, and later pages are sized from it. A node
with more children than its page brought (an order of many line items) gets the rest by its id.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator

from bot.shopify import queries, throttle
from bot.shopify.admin import AdminClient
from bot.shopify.errors import QueryTooCostly, ShopifyError
from bot.shopify.jsonl import Node
from bot.shopify.queries import Kind
from bot.shopify.records import nodes as connection_nodes

IDS_PER_QUERY = 50  # ids in one `id:1 OR id:2 ...` search


def since_filter(since: datetime) -> str:
    """Shopify's search syntax for "changed at or after `since`" (inclusive: a change at exactly
    `since` is not missed; reading it twice changes nothing)."""
    at = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"updated_at:>='{at}'"


def id_filters(gids: Iterable[str]) -> Iterator[str]:
    """Searches naming these nodes, IDS_PER_QUERY at a time."""
    ids = sorted({gid.rsplit("/", 1)[-1] for gid in gids if gid.rsplit("/", 1)[-1].isdigit()}, key=int)
    for start in range(0, len(ids), IDS_PER_QUERY):
        yield " OR ".join(f"id:{i}" for i in ids[start:start + IDS_PER_QUERY])


def pages(client: AdminClient, kind: Kind, search: str | None,
          on_node: Callable[[int], None] | None = None) -> Iterator[Node]:
    """Every node of `kind` matching `search`, its children complete, in Shopify's order (by
    update time)."""
    first, after, count = kind.first, None, 0
    operation, document = queries.page_operation(kind), queries.page_query(kind)
    while True:
        variables = {"first": first, "after": after, "query": search}
        if kind.children:
            variables["children"] = kind.children.per_page
        try:
            data = client.query(operation, document, variables)
        except QueryTooCostly as exc:
            if first <= 1:
                raise
            fitting = throttle.page_size(first, exc.requested, _limit(client)) if exc.requested else first // 2
            first = max(1, min(fitting, first - 1))  # fewer than before, whatever the numbers said
            continue
        connection = data.get(kind.connection)
        if not isinstance(connection, dict):
            raise ShopifyError(f"Shopify's answer to {operation} has no {kind.connection}")
        for node in connection_nodes(connection):
            if isinstance(node, dict) and kind.children:
                _complete_children(client, kind, node)
            count += 1
            if on_node:
                on_node(count)
            yield Node(_where(kind, node), node)
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage") or not info.get("endCursor"):
            return
        after = info["endCursor"]
        cost = client.last_cost
        if cost is not None and cost.requested:
            first = throttle.page_size(first, cost.requested, _limit(client))


def _limit(client: AdminClient) -> float:
    budget = client.budget
    return throttle.query_limit(budget.status if budget else None)


def _complete_children(client: AdminClient, kind: Kind, node: dict) -> None:
    """Replace the node's children connection by the list of all of them."""
    child = kind.children
    assert child is not None
    connection = node.get(child.field)
    found = connection_nodes(connection)
    info = connection.get("pageInfo") if isinstance(connection, dict) else None
    while isinstance(info, dict) and info.get("hasNextPage") and info.get("endCursor") and node.get("id"):
        data = client.query(queries.children_operation(kind), queries.children_query(kind),
                            {"id": node["id"], "first": child.per_fetch, "after": info["endCursor"]})
        more = (data.get("node") or {}).get(child.field)
        found.extend(connection_nodes(more))
        info = more.get("pageInfo") if isinstance(more, dict) else None
    node[child.field] = found


def _where(kind: Kind, node) -> str:
    gid = node.get("id") if isinstance(node, dict) else None
    return f"{kind.typename.lower()} {str(gid).rsplit('/', 1)[-1][:24] if gid else '(no id)'}"
