"""The carrier inbox: record verified callbacks once and hand them to the orders domain.

The callback endpoint records through ``CallbackInbox`` (``record_callback`` is the same in the
caller's unit of work): the inbox row commits before the channel is answered ``SUCCESS``, so a
callback is never lost, and a redelivery (same notification id) inserts nothing. The unhandled
rows are the workers' queue (``claim_unhandled``); one that cannot be applied with the others
goes to a ``CONSUMPTION_RESULT_JOB`` with retries.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huafei.carriers.errors import NotificationNotFound
from huafei.carriers.gateway import Carrier, ConsumptionResult
from huafei.carriers.models import CarrierNotification
from huafei.carriers.wire import encode_result
from huafei.core.batching import batches
from huafei.core.db import Database, bulk_insert, insert_new
from huafei.jobs.service import enqueue

log = logging.getLogger(__name__)

#: The job that retries a notification the workers could not apply with the others; payload
#: ``{"inbox_id": <id>}``. Its handler lives with the orders (it moves the order).
CONSUMPTION_RESULT_JOB = "orders.consumption_result"

INBOX = CarrierNotification.__table__


def record_callback(
    session: Session,
    carrier: Carrier,
    result: ConsumptionResult,
    *,
    body: bytes,
    now: datetime,
) -> int | None:
    """Store a verified callback; returns the new inbox id, or None for a redelivery."""
    inserted = insert_new(session, INBOX, [_inbox_row(carrier, result, body=body, now=now)])
    if not inserted:
        return None
    return int(inserted[0])


def _inbox_row(
    carrier: Carrier, result: ConsumptionResult, *, body: bytes, now: datetime
) -> dict[str, Any]:
    if not result.notification_id:
        raise ValueError("a callback without notification_id cannot go through the inbox")
    # The result's wire fields, with the channel's time as a timestamp rather than text.
    return encode_result(result) | {
        "occurred_at": result.occurred_at,
        "carrier": carrier.value,
        "body": body.decode("utf-8", errors="replace"),
        "received_at": now,
    }


class CallbackInbox:
    """Records verified callbacks, committing the ones that arrive together in one unit of work
    (group commit): one transaction and one statement for a burst of callbacks instead of one
    each. :meth:`record` answers a future that completes once the row has committed, so the
    channel is still answered ``SUCCESS`` only for what is stored. A batch that fails is retried
    one row at a time, so one bad row fails only its own request.
    """

    def __init__(self, db: Database, *, max_batch: int = 64) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record(
        self, carrier: Carrier, result: ConsumptionResult, *, body: bytes, now: datetime
    ) -> Future[None]:
        """Queue a verified callback's inbox row; the future is done once its group commits."""
        row = _inbox_row(carrier, result, body=body, now=now)
        done: Future[None] = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="callback-inbox", daemon=True
                )
                self._thread.start()
        self._queue.put(_Pending(row, done))
        return done

    def close(self) -> None:
        """Stop the writer thread once it has written what is queued."""
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=5)
                self._thread = None

    def _run(self) -> None:
        for batch in batches(self._queue, self.max_batch):
            try:
                self._store(batch)
            except Exception:  # never let the writer die: later callbacks would wait forever
                log.exception("the callback inbox writer failed on a batch")
                for pending in batch:
                    _answer(pending.done, RuntimeError("the callback was not stored"))

    def _store(self, batch: list[_Pending]) -> None:
        try:
            rows = [pending.row for pending in batch]
            self.db.run(lambda s: bulk_insert(s, INBOX, rows, ignore_conflicts=True))
        except Exception:
            if len(batch) == 1:
                _answer(batch[0].done, sys.exc_info()[1] or RuntimeError())
                return
            for pending in batch:
                self._store([pending])
            return
        for pending in batch:
            _answer(pending.done, None)


def _answer(done: Future[None], error: BaseException | None) -> None:
    """Complete a caller's future, unless the caller gave up (its request was cancelled: the row
    is stored all the same, and the channel will deliver again)."""
    try:
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
    except InvalidStateError:
        pass


@dataclass(frozen=True, slots=True)
class _Pending:
    row: dict[str, Any]
    done: Future[None]


def _unhandled(columns: Any, limit: int) -> Any:
    return (
        select(columns)
        .where(CarrierNotification.handled_at.is_(None))
        .order_by(CarrierNotification.id)
        .limit(limit)
    )


def claim_unhandled(session: Session, limit: int) -> list[CarrierNotification]:
    """Up to ``limit`` unhandled notifications, oldest first, locked for this unit of work (other
    workers skip them)."""
    query = _unhandled(CarrierNotification, limit).with_for_update(skip_locked=True)
    return list(session.scalars(query))


def unhandled_ids(session: Session, limit: int) -> list[int]:
    """The ids of up to ``limit`` unhandled notifications, oldest first (no lock)."""
    return list(session.scalars(_unhandled(CarrierNotification.id, limit)))


def hand_to_job(session: Session, inbox_id: int, *, now: datetime) -> None:
    """A notification that failed on its own leaves the queue for a job, which retries it with
    backoff and keeps the error for the operators."""
    mark_handled(session, inbox_id, now=now)
    enqueue(
        session,
        CONSUMPTION_RESULT_JOB,
        {"inbox_id": inbox_id},
        now=now,
        dedupe_key=f"carrier-inbox:{inbox_id}",
    )


def get_notification(session: Session, inbox_id: int) -> CarrierNotification:
    """An inbox entry by id; ``NotificationNotFound`` when there is none."""
    notification = session.get(CarrierNotification, inbox_id)
    if notification is None:
        raise NotificationNotFound(f"inbox entry {inbox_id} does not exist", inbox_id=inbox_id)
    return notification


def mark_handled(session: Session, inbox_id: int, *, now: datetime) -> bool:
    """Record that the notification was processed; False when it already was."""
    result = session.execute(
        update(CarrierNotification)
        .where(CarrierNotification.id == inbox_id, CarrierNotification.handled_at.is_(None))
        .values(handled_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get_notifications(session: Session, inbox_ids: list[int]) -> list[CarrierNotification]:
    """The inbox entries of ``inbox_ids`` that exist, in id order."""
    if not inbox_ids:
        return []
    return list(
        session.scalars(
            select(CarrierNotification)
            .where(CarrierNotification.id.in_(inbox_ids))
            .order_by(CarrierNotification.id)
        )
    )


def mark_handled_many(session: Session, inbox_ids: list[int], *, now: datetime) -> None:
    """Record that these notifications were processed (those handled before keep their time)."""
    if inbox_ids:
        session.execute(
            update(CarrierNotification)
            .where(CarrierNotification.id.in_(inbox_ids), CarrierNotification.handled_at.is_(None))
            .values(handled_at=now)
        )
