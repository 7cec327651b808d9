"""The carrier inbox: record verified callbacks once and hand them to the orders domain.

``record_callback`` runs in the callback request's unit of work: the inbox row commits before the
channel is answered ``SUCCESS``, so a callback is never lost, and a redelivery (same notification
id) inserts nothing. The unhandled rows are the workers' queue (``claim_unhandled``); one that
cannot be applied with the others goes to a ``CONSUMPTION_RESULT_JOB`` with retries.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from huafei.carriers.errors import NotificationNotFound
from huafei.carriers.gateway import Carrier, ConsumptionResult
from huafei.carriers.models import CarrierNotification
from huafei.core.db import insert_new
from huafei.jobs.service import enqueue

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
    if not result.notification_id:
        raise ValueError("a callback without notification_id cannot go through the inbox")
    inserted = insert_new(
        session,
        INBOX,
        [
            {
                "carrier": carrier.value,
                "notification_id": result.notification_id,
                "consumption_id": result.consumption_id,
                "channel_ref": result.channel_ref,
                "status": result.status.value,
                "actual_face_value_fen": result.actual_face_value_fen,
                "reason": result.reason,
                "occurred_at": result.occurred_at,
                "body": body.decode("utf-8", errors="replace"),
                "received_at": now,
            }
        ],
    )
    if not inserted:
        return None
    return int(inserted[0])


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
