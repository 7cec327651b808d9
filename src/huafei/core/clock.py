"""Time comes from a clock object so tests can freeze it; never from a module global."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FrozenClock:
    """A clock that stands still until moved; for tests and simulations."""

    current: datetime = field(default_factory=lambda: datetime(2026, 11, 26, 2, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current


def utc(value: datetime) -> datetime:
    """Database drivers differ in returning aware or naive datetimes; we store UTC always."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
