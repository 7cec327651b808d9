"""Prometheus metrics in a registry owned by the application (no process-global state)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class _CallbackCollector(Collector):
    def __init__(self, name: str, documentation: str, read: Callable[[], float | None]) -> None:
        self.name = name
        self.documentation = documentation
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        value = self.read()
        if value is not None:
            yield GaugeMetricFamily(self.name, self.documentation, value=value)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "huafei_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "huafei_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )

    def gauge(self, name: str, documentation: str, read: Callable[[], float | None]) -> None:
        """A gauge read at scrape time (e.g. the escrow margin)."""
        self.registry.register(_CallbackCollector(name, documentation, read))
