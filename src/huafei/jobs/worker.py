"""The worker: claims due jobs, runs each in its own unit of work, retries with backoff.

Several workers (threads or processes) can run against one PostgreSQL database: claims use
``FOR UPDATE SKIP LOCKED`` and a lease, completion checks the lease holder, and a killed worker's
jobs are claimed again once its lease runs out. Handlers are idempotent, so a job that ran but
whose completion was lost is harmless to run again.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from huafei.core.clock import Clock
from huafei.core.db import Database
from huafei.jobs import service
from huafei.jobs.service import ClaimedJob, Handler, RetryLater

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Periodic:
    """A job enqueued once per ``every`` (one per time slot, whichever worker gets there)."""

    kind: str
    every: timedelta


#: A handler that runs its own units of work (it calls an external system between them); it must
#: be idempotent, since a crash after its work and before the job is marked done runs it again.
OwnTransactionsHandler = Callable[[dict[str, Any]], "RetryLater | None"]


#: A handler for many jobs of one kind at once (own transactions, idempotent like the others):
#: one unit of work for a whole batch is what makes a busy queue fast.
BatchHandler = Callable[[list[dict[str, Any]]], None]


#: Work that is its own queue (the carrier inbox's unhandled rows, the queued orders): called with
#: how many items it may take, it takes them in its own units of work (``FOR UPDATE SKIP LOCKED``,
#: so workers share them) and answers how many it handled. A job per item would add an insert, a
#: claim and a finish to each.
Source = Callable[[int], int]


@dataclass
class TaskRegistry:
    handlers: dict[str, Handler] = field(default_factory=dict)
    own_transactions: dict[str, OwnTransactionsHandler] = field(default_factory=dict)
    batches: dict[str, BatchHandler] = field(default_factory=dict)
    periodic: list[Periodic] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)

    def source(self, name: str) -> Callable[[Source], Source]:
        """Register a source the worker drains every round, after the due jobs."""

        def register(drain: Source) -> Source:
            self.sources[name] = drain
            return drain

        return register

    def batch_task(self, kind: str) -> Callable[[BatchHandler], BatchHandler]:
        """Register a handler that takes every claimed job of ``kind`` in one call."""

        def register(handler: BatchHandler) -> BatchHandler:
            self.batches[kind] = handler
            return handler

        return register

    def task(self, kind: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.handlers[kind] = handler
            return handler

        return register

    def task_with_own_transactions(
        self, kind: str
    ) -> Callable[[OwnTransactionsHandler], OwnTransactionsHandler]:
        """Register a handler that is not wrapped in one transaction (it talks to the outside
        world between its own ``db.run`` calls, never holding a database lock while it waits)."""

        def register(handler: OwnTransactionsHandler) -> OwnTransactionsHandler:
            self.own_transactions[kind] = handler
            return handler

        return register

    def every(self, kind: str, interval: timedelta, handler: Handler) -> None:
        self.handlers[kind] = handler
        self.periodic.append(Periodic(kind, interval))


class Worker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        registry: TaskRegistry,
        *,
        name: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 50,
        poll_seconds: float = 0.2,
    ) -> None:
        self.db = db
        self.clock = clock
        self.registry = registry
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = lease
        self.batch = batch
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._scheduled: dict[str, int] = {}

    def schedule_periodic(self) -> None:
        """Enqueue each periodic job once per interval slot (the dedupe key makes it once across
        workers; remembering the slot saves this worker a transaction every round)."""
        now = self.clock.now()
        due: list[tuple[str, int]] = []
        for periodic in self.registry.periodic:
            seconds = max(1, int(periodic.every.total_seconds()))
            slot = int(now.timestamp()) // seconds
            if self._scheduled.get(periodic.kind) != slot:
                due.append((periodic.kind, slot))
        if not due:
            return

        def work(session: Session) -> None:
            for kind, slot in due:
                service.enqueue(
                    session,
                    kind,
                    now=now,
                    dedupe_key=f"periodic:{kind}:{slot}",
                    max_attempts=1,
                )

        self.db.run(work)
        self._scheduled.update(due)

    def run_once(self) -> int:
        """Claim and run one batch of due jobs; returns how many ran."""
        self.schedule_periodic()
        now = self.clock.now()
        claimed = self.db.run(
            lambda s: service.claim(
                s, worker=self.name, now=now, lease=self.lease, limit=self.batch
            )
        )
        grouped: dict[str, list[ClaimedJob]] = {}
        for job in claimed:
            if job.kind in self.registry.batches:
                grouped.setdefault(job.kind, []).append(job)
            else:
                self._run(job)
        for kind, jobs in grouped.items():
            self._run_batch(self.registry.batches[kind], jobs)
        drained = 0
        for name, drain in self.registry.sources.items():
            try:
                drained += drain(self.batch)
            except Exception:
                log.exception("source failed", extra={"source": name})
        return len(claimed) + drained

    def _run_batch(self, handler: BatchHandler, jobs: list[ClaimedJob]) -> None:
        try:
            handler([job.payload for job in jobs])
        except Exception:
            if len(jobs) == 1:
                self._fail(jobs[0], *_exception_detail())
                return
            # One bad job must not hold up the others: run them one by one.
            for job in jobs:
                self._run_batch(handler, [job])
            return
        ids = [job.id for job in jobs]
        self.db.run(lambda s: service.finish_many(s, ids, worker=self.name, now=self.clock.now()))

    def _fail(self, job: ClaimedJob, kind: str, detail: str) -> None:
        log.warning(
            "job failed",
            extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempts, "error": kind},
        )
        self.db.run(
            lambda s: service.fail(s, job, worker=self.name, now=self.clock.now(), error=detail)
        )

    def run_until_idle(self, max_rounds: int = 1000) -> int:
        """Run until nothing is due (tests and simulations)."""
        total = 0
        for _ in range(max_rounds):
            ran = self.run_once()
            total += ran
            if ran == 0:
                break
        return total

    def _run(self, job: ClaimedJob) -> None:
        handler = self.registry.handlers.get(job.kind) or _unknown_kind
        standalone = self.registry.own_transactions.get(job.kind)
        try:
            if standalone is not None:
                outcome = standalone(job.payload)
                if isinstance(outcome, RetryLater):
                    self.db.run(
                        lambda s: service.reschedule(s, job, worker=self.name, run_at=outcome.at)
                    )
                else:
                    self.db.run(
                        lambda s: service.finish(s, job.id, worker=self.name, now=self.clock.now())
                    )
                return

            def work(session: Session) -> RetryLater | None:
                outcome = handler(session, job.payload)
                if isinstance(outcome, RetryLater):
                    service.reschedule(session, job, worker=self.name, run_at=outcome.at)
                else:
                    service.finish(session, job.id, worker=self.name, now=self.clock.now())
                return outcome

            self.db.run(work)
        except Exception:
            self._fail(job, *_exception_detail())

    def serve(self) -> None:
        """Run until :meth:`stop` is called."""
        log.info("worker started", extra={"worker": self.name})
        while not self._stop.is_set():
            try:
                ran = self.run_once()
            except Exception:
                log.exception("worker round failed")
                ran = 0
            if ran == 0:
                self._stop.wait(self.poll_seconds)

    def stop(self) -> None:
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve, name=f"worker-{self.name}", daemon=True)
        thread.start()
        return thread


def _exception_detail() -> tuple[str, str]:
    kind, value, _ = sys.exc_info()
    name = kind.__name__ if kind else "Exception"
    detail = "".join(traceback.format_exception_only(value)).strip() if value else name
    return name, detail


def _unknown_kind(_session: Session, payload: dict[str, Any]) -> None:
    raise LookupError(f"no handler for this job kind (payload keys: {sorted(payload)})")
