"""Wiring of background work: every domain's tasks in one registry, and the worker."""

from __future__ import annotations

from huafei.container import Container
from huafei.jobs.worker import TaskRegistry, Worker
from huafei.ledger import tasks as ledger_tasks


def build_registry(container: Container) -> TaskRegistry:
    registry = TaskRegistry()
    ledger_tasks.register(registry, container.clock)
    return registry


def build_worker(container: Container, *, name: str | None = None) -> Worker:
    return Worker(container.db, container.clock, build_registry(container), name=name)
