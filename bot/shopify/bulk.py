"""Bulk operations: start one, wait for it, and read its export as nodes.

`run` starts `bulkOperationRunQuery` and polls the operation (`node(id:)`) until it is COMPLETED,
with growing pauses (a poll costs one point); FAILED, CANCELED or EXPIRED is a one-line error.
`read` streams the export through bot/shopify/jsonl.py: a line at a time, never the whole file.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from bot.core import safejson
from bot.shopify import queries
from bot.shopify.admin import AdminClient, user_errors
from bot.shopify.errors import ShopifyError
from bot.shopify.jsonl import Assembler, Node
from bot.shopify.queries import Kind
from segments.sources import Bad

log = logging.getLogger(__name__)

DONE = "COMPLETED"
FAILED = {"FAILED", "CANCELED", "EXPIRED"}


@dataclass(frozen=True)
class Export:
    id: str
    url: str | None  # None: the query matched nothing
    objects: int  # lines of the file (nodes and children)
    size: int | None  # bytes


@dataclass(frozen=True)
class Status:
    kind: str
    status: str
    objects: int


def poll_delays(first: float = 0.1, cap: float = 5.0) -> Iterator[float]:
    """Pauses between polls: quick for a small shop's export, then every `cap` seconds."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


def _count(value) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def run(client: AdminClient, kind: Kind, *, on_status: Callable[[Status], None] | None = None,
        delays: Iterable[float] | None = None, sleep: Callable[[float], None] = time.sleep) -> Export:
    """Start the bulk query of `kind` and wait until its export is ready."""
    data = client.query("WabotBulkRun", queries.BULK_RUN, {"query": queries.bulk_query(kind)})
    started = data.get("bulkOperationRunQuery")
    user_errors(started, f"the bulk export of {kind.name}")
    operation = (started or {}).get("bulkOperation") or {}
    op_id = operation.get("id")
    if not isinstance(op_id, str):
        raise ShopifyError(f"Shopify started no bulk export of {kind.name} (no operation id in its answer)")
    log.debug("bulk export of %s started: %s", kind.name, op_id)
    try:
        for pause in delays if delays is not None else poll_delays():
            sleep(pause)
            node = client.query("WabotBulkPoll", queries.BULK_POLL, {"id": op_id}).get("node") or {}
            status = str(node.get("status") or "")
            if on_status:
                on_status(Status(kind.name, status, _count(node.get("objectCount"))))
            if status == DONE:
                size = _count(node.get("fileSize")) if node.get("fileSize") is not None else None
                return Export(op_id, node.get("url") or None, _count(node.get("objectCount")), size)
            if status in FAILED:
                code = node.get("errorCode")
                raise ShopifyError(f"Shopify's bulk export of {kind.name} ended {status}"
                                   + (f" ({code})" if code else "") + ": nothing of it was imported; run the sync again")
        raise ShopifyError(f"Shopify's bulk export of {kind.name} did not finish")  # only with a finite `delays`
    except KeyboardInterrupt:
        _cancel(client, op_id)
        raise


def _cancel(client: AdminClient, op_id: str) -> None:
    """Best effort: an export left running would refuse the next sync's."""
    try:
        client.query("WabotBulkCancel", queries.BULK_CANCEL, {"id": op_id})
    except Exception as exc:  # interrupted already: say so, and let the interrupt through
        log.warning("could not cancel Shopify's bulk export %s: %s", op_id, exc)


def read(client: AdminClient, export: Export, assembler: Assembler,
         progress: Callable[[int], None] | None = None) -> Iterator[Node | Bad]:
    """The export's nodes, reassembled, and its unreadable lines; `assembler.refetch` then holds the
    ids to read again."""
    if export.url is None:
        return
    number = 0
    for number, raw in enumerate(client.download(export.url, export.size, progress), 1):
        if not raw.strip():
            continue
        where = f"export line {number}"
        try:
            value = safejson.loads(raw, decimals=True)
        except ValueError as exc:
            yield Bad(where, f"not valid JSON ({str(exc)[:80]})")
            continue
        yield from assembler.feed(where, value)
    yield from assembler.finish()
