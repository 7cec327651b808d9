"""The carrier sandbox's scheduler: actions run when due, in order, or by a pool of senders."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

CALLBACK_TIMEOUT_SECONDS = 5.0
#: threads sending callbacks concurrently (one carrier)
SENDERS = 8


class Dispatcher:
    """A thread running scheduled actions in due order (one at a time, so order is kept).

    An action scheduled with ``ordered=False`` is handed, when due, to a small pool of sender
    threads instead, so one slow callback does not hold up the others.
    """

    def __init__(self, name: str, *, senders: int = SENDERS) -> None:
        self._name = name
        self._heap: list[tuple[float, int, Callable[[], None], bool]] = []
        self._sequence = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix=f"{name}-send")
        self._busy = False
        self._in_flight = 0
        self._closed = False

    def schedule(
        self, delay_seconds: float, action: Callable[[], None], *, ordered: bool = True
    ) -> int:
        """Run ``action`` after the delay; returns a handle for ``cancel``."""
        with self._changed:
            handle = next(self._sequence)
            if self._closed:
                return handle
            due = time.monotonic() + max(0.0, delay_seconds)
            heapq.heappush(self._heap, (due, handle, action, ordered))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._changed.notify_all()
            return handle

    def cancel(self, handle: int) -> None:
        with self._changed:
            kept = [entry for entry in self._heap if entry[1] != handle]
            if len(kept) != len(self._heap):
                heapq.heapify(kept)
                self._heap = kept
                self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._closed:
                    if self._heap and self._heap[0][0] <= time.monotonic():
                        break
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._changed.wait(timeout)
                if self._closed:
                    return
                _, _, action, ordered = heapq.heappop(self._heap)
                if ordered:
                    self._busy = True
                else:
                    self._in_flight += 1
            if ordered:
                self._guarded(action)
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()
            else:
                self._pool.submit(self._concurrently, action)

    def _concurrently(self, action: Callable[[], None]) -> None:
        self._guarded(action)
        with self._changed:
            self._in_flight -= 1
            self._changed.notify_all()

    @staticmethod
    def _guarded(action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            log.exception("sandbox action failed")

    def wait_idle(self, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._heap and not self._busy and not self._in_flight, timeout
            )

    def clear(self) -> None:
        with self._changed:
            self._heap.clear()
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._heap.clear()
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=CALLBACK_TIMEOUT_SECONDS + 1)
        self._pool.shutdown(wait=False, cancel_futures=True)
