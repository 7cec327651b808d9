"""The one way tests wait: poll a condition until it holds, or fail naming what was awaited.

Effects that arrive over HTTP or from another thread or process (a callback, a worker's result,
a server coming up) are awaited with ``wait_for``; a test never sleeps a fixed time for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: How often a condition is read again: short, since most awaited effects take milliseconds.
INTERVAL = 0.02


def _truthy(value: Any) -> bool:
    return bool(value)


def wait_for(
    read: Callable[[], T],
    *,
    what: str,
    until: Callable[[T], bool] = _truthy,
    timeout: float = 10.0,
    interval: float = INTERVAL,
) -> T:
    """Call ``read`` until ``until`` holds for its value (by default: the value is truthy), and
    return that value; after ``timeout`` seconds fail with an ``AssertionError`` that names
    ``what`` was awaited and the last value read."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}; last seen: {value!r}"
            )
        time.sleep(interval)  # the interval between two reads of the condition, not a wait
