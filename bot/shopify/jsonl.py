"""A bulk operation's JSONL put back together, as a stream. Pure: parsed lines in, nodes out.

A bulk export writes each node of the query's top connection on a line of its own, and each node
of a nested connection (an order's line items) on a line of its own too, naming its parent in
`__parentId`. We ask Shopify to group children right after their parent (groupObjects), so one
open parent at a time would do; but nothing here relies on it. The assembler keeps the last
`window` parents open (children arriving a little late still find them) and holds children that
arrive before their parent. A child whose parent was already handed on, or never appears, makes
that parent's id one to read again (`refetch`): its order is then re-read whole by id, so no line
item is lost. Memory stays bounded by the window and the held children, whatever the file's size.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from segments.sources import Bad

PARENT = "__parentId"


@dataclass(frozen=True)
class Node:
    where: str  # "line 12" of the export, or "order 123" of a page
    value: dict  # the node, its children as a list under their connection's name


PREFIX = "gid://shopify/"


def typename(gid: Any) -> str | None:
    """`Order` of `gid://shopify/Order/123` (and of `gid://shopify/Order/123?x=y`)."""
    if not isinstance(gid, str) or not gid.startswith(PREFIX):
        return None
    end = gid.find("/", len(PREFIX))
    return gid[len(PREFIX):end] if end > len(PREFIX) and end < len(gid) - 1 else None


NOTHING: tuple = ()


@dataclass
class Assembler:
    parent_type: str  # Order
    children: Mapping[str, str]  # child type -> the field it goes in: {"LineItem": "lineItems"}
    window: int = 1000
    held_limit: int = 50_000  # children held for a parent not seen yet
    refetch: set[str] = field(default_factory=set)  # parents to read again by id
    _open: OrderedDict = field(default_factory=OrderedDict)  # id -> (where, node)
    _held: OrderedDict = field(default_factory=OrderedDict)  # parent id -> [child, ...]
    _held_count: int = 0

    def feed(self, where: str, obj: Any) -> tuple | list:
        """What one line makes ready: nodes that leave the window, or the line's own problem. (A
        sequence, not a generator: this runs once a line, and most lines make nothing ready.)"""
        if not isinstance(obj, dict):
            return [Bad(where, "not a JSON object")]
        parent = obj.pop(PARENT, None)
        if parent is None:
            return self._parent(where, obj)
        return self._child(where, parent, obj)

    def _parent(self, where: str, obj: dict) -> tuple | list:
        gid = obj.get("id")
        if typename(gid) != self.parent_type:
            # Unreadable as a parent: the mapping says why (no id, a wrong one); nothing attaches to it.
            return [Node(where, obj)]
        for name in self.children.values():
            obj[name] = []
        for child in self._held.pop(gid, ()):
            self._held_count -= 1
            obj[self.children[typename(child["id"])]].append(child)
        if gid in self._open:  # the same node twice: the later line wins, its children stay
            previous = self._open.pop(gid)[1]
            for name in self.children.values():
                obj[name] = previous[name] + obj[name]
        self._open[gid] = (where, obj)
        if len(self._open) <= self.window:
            return NOTHING
        return [self._emit_oldest() for _ in range(len(self._open) - self.window)]

    def _child(self, where: str, parent: Any, child: dict) -> tuple | list:
        kind = typename(child.get("id"))
        field_name = self.children.get(kind)
        if field_name is None:
            return [Bad(where, f"an object of an unexpected type ({str(kind or child.get('id'))[:40]}) in the export")]
        opened = self._open.get(parent)
        if opened is not None:
            opened[1][field_name].append(child)
            return NOTHING
        if typename(parent) != self.parent_type:
            return [Bad(where, f"{kind} with a parent that is not a{'n' if self.parent_type[0] in 'AEIOU' else ''}"
                               f" {self.parent_type}: {str(parent)[:60]}")]
        if parent in self.refetch:
            return NOTHING  # its parent is read again whole
        self._held.setdefault(parent, []).append(child)
        self._held_count += 1
        while self._held_count > self.held_limit:  # give up holding the oldest: read that parent again
            oldest, dropped = self._held.popitem(last=False)
            self._held_count -= len(dropped)
            self.refetch.add(oldest)
        return NOTHING

    def _emit_oldest(self) -> Node:
        _, (where, obj) = self._open.popitem(last=False)
        return Node(where, obj)

    def finish(self) -> Iterator[Node]:
        """The parents still open, in order; held children whose parent never came (or came
        before them, already handed on) make their parent one to read again."""
        while self._open:
            yield self._emit_oldest()
        self.refetch.update(self._held)
        self._held.clear()
        self._held_count = 0
