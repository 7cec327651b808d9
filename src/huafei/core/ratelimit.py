"""Rate limits on shared counters: in process memory by default, Redis when configured.

Built on the ``limits`` library (moving windows). Keys are namespaced per limiter so tests and
installations sharing one Redis do not see each other's counters. Callers pass opaque keys
(keyed hashes of phone numbers and addresses), so no personal data ever reaches the store.

The windows run on wall-clock time inside the store, not on the application clock: they are
abuse caps, not business rules. Rules that tests must move through time (code expiry, resend
delay, lockouts) live in the database and use the application clock.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from functools import cache

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int = 0


@cache
def _item(rule: str) -> RateLimitItem:
    return parse(rule)


class RateLimiter:
    """Counts hits of named rules (``"5/hour"``) per key and says whether one more is allowed."""

    def __init__(self, storage_uri: str = "memory://", *, namespace: str | None = None) -> None:
        storage = storage_from_string(storage_uri)
        if not isinstance(storage, Storage):  # pragma: no cover - async storages are not used
            raise TypeError(f"{storage_uri!r} is not a synchronous rate-limit storage")
        self.storage = storage
        self.namespace = namespace or uuid.uuid4().hex[:12]
        self._limiter = MovingWindowRateLimiter(storage)

    @classmethod
    def for_redis_or_memory(
        cls, redis_url: str | None, *, namespace: str = "huafei"
    ) -> RateLimiter:
        """Redis when a URL is given (shared by every process), process memory otherwise."""
        if redis_url:
            return cls(redis_url, namespace=namespace)
        return cls("memory://", namespace=namespace)

    def hit(self, rule: str, scope: str, key: str) -> RateDecision:
        """Count one hit; refused (and not counted) once the rule's window is full."""
        item = _item(rule)
        if self._limiter.hit(item, self.namespace, scope, key):
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after_seconds=self._retry_after(item, scope, key))

    def check(self, rule: str, scope: str, key: str) -> RateDecision:
        """Whether one more hit would be allowed, without counting it."""
        item = _item(rule)
        if self._limiter.test(item, self.namespace, scope, key):
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after_seconds=self._retry_after(item, scope, key))

    def reset(self, rule: str, scope: str, key: str) -> None:
        self._limiter.clear(_item(rule), self.namespace, scope, key)

    def _retry_after(self, item: RateLimitItem, scope: str, key: str) -> int:
        stats = self._limiter.get_window_stats(item, self.namespace, scope, key)
        return max(1, math.ceil(stats.reset_time - time.time()))
