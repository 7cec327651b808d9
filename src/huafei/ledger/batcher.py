"""Group transfers from many concurrent callers into one database transaction.

TigerBeetle's lesson: the cost of a transfer is dominated by the transaction around it, and a hot
account serialises every transaction that touches it. A batcher thread takes whatever callers have
queued (up to ``max_batch``), runs them through ``create_transfers`` in one unit of work — each
account locked and updated once — and hands each caller its own result.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime

from huafei.core.batching import batches, take_queued
from huafei.core.db import Database
from huafei.ledger.engine import create_transfers
from huafei.ledger.records import NewTransfer, TransferResult

Callback = Callable[[TransferResult | BaseException], None]


class TransferBatcher:
    """Batches transfers; runs them on its own thread, or ``inline`` when the owner calls
    :meth:`flush` (an event loop that is the only busy thread avoids sharing the GIL)."""

    def __init__(
        self,
        db: Database,
        now: Callable[[], datetime],
        *,
        max_batch: int = 1024,
        inline: bool = False,
        threads: int = 1,
    ) -> None:
        self.db = db
        self.now = now
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[NewTransfer, Callback] | None] = queue.SimpleQueue()
        self.batches = 0
        self._lock = threading.Lock()
        # More than one thread pipelines batches: while one commits (waiting on the server's
        # WAL flush) the next is prepared and waits on the account lock, ready to go.
        self._threads = [
            threading.Thread(target=self._loop, name=f"ledger-batcher-{i}", daemon=True)
            for i in range(0 if inline else threads)
        ]
        for thread in self._threads:
            thread.start()

    def flush(self) -> int:
        """Run everything queued now, in the calling thread (inline mode); returns how many."""
        done = 0
        while True:
            items: list[tuple[NewTransfer, Callback]] = []
            # Only close() of a threaded batcher queues a stop; inline, none comes.
            take_queued(self._queue, items, self.max_batch)
            if not items:
                return done
            self._run(items)
            done += len(items)

    def submit(self, transfer: NewTransfer, callback: Callback) -> None:
        """Queue a transfer; ``callback`` gets its result (or the batch's exception)."""
        self._queue.put((transfer, callback))

    def submit_future(self, transfer: NewTransfer) -> Future[TransferResult]:
        future: Future[TransferResult] = Future()

        def resolve(outcome: TransferResult | BaseException) -> None:
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

        self.submit(transfer, resolve)
        return future

    def close(self) -> None:
        if not self._threads:
            self.flush()
            return
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _loop(self) -> None:
        for items in batches(self._queue, self.max_batch):
            self._run(items)

    def _run(self, items: list[tuple[NewTransfer, Callback]]) -> None:
        transfers = [transfer for transfer, _ in items]
        try:
            results = self.db.run(
                lambda session: create_transfers(session, transfers, now=self.now())
            )
        except Exception as exc:
            for _, callback in items:
                callback(exc)
            return
        with self._lock:
            self.batches += 1
        for (_, callback), result in zip(items, results, strict=True):
            callback(result)
