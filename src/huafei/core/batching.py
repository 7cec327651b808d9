"""Taking work off a queue in batches (group commit): one item waited for, then whatever else is
queued already, up to a limit. ``None`` on the queue is a stop."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


def take_queued(source: queue.SimpleQueue[T | None], batch: list[T], max_items: int) -> bool:
    """Move what is queued already into ``batch`` until it holds ``max_items``; True when a stop
    was taken (the caller ends after this batch)."""
    while len(batch) < max_items:
        try:
            item = source.get_nowait()
        except queue.Empty:
            return False
        if item is None:
            return True
        batch.append(item)
    return False


def batches(source: queue.SimpleQueue[T | None], max_items: int) -> Iterator[list[T]]:
    """The batches of what is put on ``source``, each started by waiting for one item; ends at a
    stop, after the batch that took it."""
    while True:
        first = source.get()
        if first is None:
            return
        batch = [first]
        stopped = take_queued(source, batch, max_items)
        yield batch
        if stopped:
            return
