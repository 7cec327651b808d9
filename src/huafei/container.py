"""The composition root: settings, database, clock, metrics and the adapters, built once."""

from __future__ import annotations

from dataclasses import dataclass, field

from huafei.core.clock import Clock, SystemClock
from huafei.core.db import Database
from huafei.core.metrics import Metrics
from huafei.core.settings import Settings


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics = field(default_factory=Metrics)


def build_container(
    settings: Settings, *, db: Database | None = None, clock: Clock | None = None
) -> Container:
    database = db or Database(settings.database_url, retries=settings.db_retries)
    return Container(settings=settings, db=database, clock=clock or SystemClock())
