"""The composition root: settings, database, clock, metrics and the adapters, built once."""

from __future__ import annotations

from dataclasses import dataclass, field

from huafei.carriers.gateway import Carrier, CarrierGateway
from huafei.carriers.http import build_http_gateways, callback_url
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
    carriers: dict[Carrier, CarrierGateway] = field(default_factory=dict)
    """The channel of each carrier (the sandboxes' URLs by default)."""

    def carrier_callback_url(self, carrier: Carrier) -> str:
        """The ``callback_url`` to hand a channel with each consumption request."""
        return callback_url(self.settings.platform_url(), carrier)


def build_container(
    settings: Settings, *, db: Database | None = None, clock: Clock | None = None
) -> Container:
    database = db or Database(settings.database_url, retries=settings.db_retries)
    clock = clock or SystemClock()
    return Container(
        settings=settings,
        db=database,
        clock=clock,
        carriers=dict(build_http_gateways(settings, clock)),
    )
