"""Group commit: the small writes of concurrent threads, done in one transaction.

A thread that submits work when no other thread is writing becomes the writer: it does its work
and returns, paying nothing extra. Threads that submit while a writer is busy wait; when it is
done, the first of them becomes the next writer and does everything that waits, in one
transaction, and wakes the others. Each caller returns only after its own work is committed, so
what a caller goes on to do (answer 200, send the message) still follows its commit; what changes
is that N writes arriving together cost one transaction and one commit (one fsync on PostgreSQL,
one turn of the write lock on SQLite) instead of N. A batch that fails is done again item by
item, so one bad item cannot fail the others. Used by the webhook (bot/web/group_commit.py), the
sender's hand-overs and results (bot/pipeline/sender.py) and the sandbox transport; measured in
docs/performance.md.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, Generic, TypeVar

from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
MAX_BATCH = 256


@dataclass
class _Item(Generic[T, R]):
    work: T
    wake: threading.Event = field(default_factory=threading.Event)  # done, or its turn to write
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class Batcher(Generic[T, R]):
    """`apply(conn, works)` does a batch of works in one transaction and returns one result each."""

    def __init__(self, engine: Engine, apply: Callable[[Connection, list[T]], list[R]], *, name: str,
                 max_batch: int = MAX_BATCH):
        self.engine = engine
        self.apply = apply
        self.name = name
        self.max_batch = max_batch
        self._waiting: list[_Item[T, R]] = []
        self._writing = False
        self._lock = threading.Lock()

    def submit(self, work: T) -> R:
        """Do `work` with whatever else is waiting; its result once committed (or its error)."""
        item: _Item[T, R] = _Item(work)
        with self._lock:
            self._waiting.append(item)
            leading = not self._writing
            self._writing = True
        if not leading:
            item.wake.wait()  # woken once done, or as the next writer (each waiter alone: no herd)
        if not item.done:
            with self._lock:
                batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
            try:
                self._write(batch)
            finally:
                for done in batch:
                    done.done = True
                    done.wake.set()
                with self._lock:
                    if self._waiting:
                        self._waiting[0].wake.set()  # the writer's turn passes to the next in line
                    else:
                        self._writing = False
        if item.error is not None:
            raise item.error
        return item.result

    def _write(self, batch: list[_Item[T, R]]) -> None:
        try:
            with self.engine.begin() as conn:
                results = self.apply(conn, [item.work for item in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error, batch[0].done = exc, True
                return
            log.warning("%s: a batch of %d failed together (%s: %s); doing them one by one",
                        self.name, len(batch), exc.__class__.__name__, str(exc).splitlines()[0][:200])
            for item in batch:
                self._write([item])
            return
        except BaseException as exc:  # this thread is going away: nobody may wait for it forever
            for item in batch:
                item.error, item.done = exc, True
            raise
        for item, result in zip(batch, results, strict=True):
            item.result, item.done = result, True
